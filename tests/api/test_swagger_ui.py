"""GET /: Swagger UI that works without internet; GET /health."""

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit


class AssetLinks(HTMLParser):
    """Collects every URL the page makes the browser load or follow."""

    URL_ATTRIBUTES = {"src", "href", "data-spec-url", "action", "srcset"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in self.URL_ATTRIBUTES and value:
                self.urls.append(value)


def page_urls(html: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(html)
    return parser.urls


def test_swagger_ui_is_html(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert 'id="swagger-ui"' in response.text


def test_swagger_ui_loads_nothing_from_other_hosts(client):
    html = client.get("/").text

    remote = [url for url in page_urls(html) if urlsplit(url).netloc]
    assert remote == []
    assert re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}", html) == []


def test_swagger_ui_assets_are_served(client):
    urls = page_urls(client.get("/").text)

    assert any(url.endswith(".js") for url in urls)
    assert any(url.endswith(".css") for url in urls)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.data, url


def test_swagger_ui_does_not_ask_the_online_validator(client):
    """Swagger UI shows a badge from validator.swagger.io unless told otherwise."""
    scripts = [url for url in page_urls(client.get("/").text) if url.endswith(".js")]
    init = next(url for url in scripts if "swagger-ui-bundle" not in url)

    assert "validatorUrl: null" in client.get(init).text


def test_swagger_ui_points_at_the_api_document(client):
    html = client.get("/").text

    assert 'data-spec-url="/api-spec.json"' in html


def test_health(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}
