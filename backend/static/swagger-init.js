// Starts Swagger UI on the spec URL the page names (kept out of the HTML for the CSP).
window.addEventListener("load", function () {
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: element.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    // No badge from the online validator: the page must not call other hosts.
    validatorUrl: null,
  });
});
