"""Check that a benchmark's container image ``docker_image:docker_tag`` exists and can be pulled.

Why: results from a benchmark are only comparable when every run used the same software,
which means the image is pinned (a tag or digest that names it) and anyone can pull it.
A typo in the image name, a tag that was never pushed or a private repository would make
the benchmark impossible to reproduce, so on create/update the service may ask the image's
registry before accepting it.

How: the OCI distribution API (v2). References are parsed the way Docker does (``ubuntu`` is
``registry-1.docker.io/library/ubuntu``; a first component with ``.`` or ``:`` or equal to
``localhost`` is a registry host), then ``HEAD /v2/<repo>/manifests/<tag>`` is asked
anonymously. A ``401`` with a ``Bearer`` challenge is answered with an anonymous pull token
from the challenge's realm, as ``docker pull`` does; registries that refuse ``HEAD`` (``405``)
are asked with ``GET``.

Outcomes: the function returns ``None`` when the manifest exists; it raises
:class:`~backend.errors.ImageNotFound` (422) when the reference is malformed or the registry
says the repository or tag does not exist or cannot be pulled anonymously, and
:class:`~backend.errors.ServiceUnavailable` (503) when the registry cannot be reached, times
out, rate-limits or fails (5xx), since then nothing is known about the image.

Registries are spoken to over https, except those named in ``insecure_registries``
(``host[:port]`` strings, from the ``IMAGE_REGISTRY_INSECURE`` setting) which use plain http.

Where the check may connect (the image name is a user's choice, so it must not turn the
service into a client of the operator's internal network): only registries the operator
listed (``allowed_registries``, the ``IMAGE_REGISTRIES`` setting, plus the insecure ones); a
user's image in another registry is refused with 422 before anything is contacted. Every
connection, to a listed registry, its token realm or a redirect target, goes through
:mod:`backend.outbound_http`: listed IP addresses as written, names only while every address
they resolve to is public.
"""

from __future__ import annotations

import re
from collections.abc import Collection

import requests

from backend.errors import ImageNotFound, ServiceUnavailable
from backend.outbound_http import AddressPolicy, GuardedAdapter, RefusedAddress

__all__ = [
    "DOCKER_HUB_HOST",
    "PUBLIC_REGISTRIES",
    "allowed_hosts",
    "check_image_exists",
    "parse_reference",
]

DOCKER_HUB_HOST = "registry-1.docker.io"
"""The API host behind ``docker.io``; images without a registry component live there."""

_DOCKER_HUB_ALIASES = {"docker.io", "index.docker.io"}

PUBLIC_REGISTRIES = ("docker.io", "ghcr.io", "quay.io", "registry.gitlab.com")
"""The default of ``IMAGE_REGISTRIES``: the public registries benchmarks are published in."""

_MAX_REDIRECTS = 5

# What containerd asks for: every manifest kind an image tag can point at, newest first.
MANIFEST_ACCEPT = (
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "*/*"
)

USER_AGENT = "benchmark-service-image-check/1"

# Docker's reference grammar (distribution/reference/regexp.go).
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN = re.compile(
    r"(?:\[[0-9A-Fa-f:.]+\]"  # bracketed IPv6 address
    r"|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)"
    r"(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}")
_NAME_MAX_LENGTH = 255

_EXAMPLES = (
    "e.g. 'ubuntu', 'myuser/myimage', 'ghcr.io/myorg/myimage' or "
    "'registry.example.org:5000/team/image'"
)


def parse_reference(image: str) -> tuple[str, str]:
    """Split an image name into ``(registry_host, repository)`` as Docker does.

    ``ubuntu`` -> ``("registry-1.docker.io", "library/ubuntu")``;
    ``user/repo`` -> ``("registry-1.docker.io", "user/repo")``;
    ``host:5000/repo`` -> ``("host:5000", "repo")``. ``docker.io`` and ``index.docker.io``
    mean Docker Hub. The name carries no tag: that is the separate ``docker_tag``.

    Raises :class:`ImageNotFound` naming the problem when ``image`` is not a valid name.
    """
    if not isinstance(image, str) or not image:
        raise _invalid(image, "it is empty")
    if image != image.strip() or any(c.isspace() for c in image):
        raise _invalid(image, "it contains whitespace")
    if "@" in image:
        raise _invalid(image, "it contains a digest; put only the digest in docker_tag")

    first, slash, rest = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
        if not _DOMAIN.fullmatch(host):
            raise _invalid(image, f"'{host}' is not a valid registry host[:port]")
        host = host.lower()
    else:
        host, path = DOCKER_HUB_HOST, image

    if ":" in path:
        raise _invalid(image, "it contains a tag; put the tag in docker_tag instead")
    if path != path.lower():
        raise _invalid(image, "repository names must be lowercase")
    components = path.split("/")
    for component in components:
        if not _PATH_COMPONENT.fullmatch(component):
            what = f"the path component '{component}'" if component else "an empty path component"
            raise _invalid(
                image,
                f"{what} is not allowed; use lowercase letters and digits, separated by "
                "'.', '_', '__' or '-', with single '/' between components",
            )

    if host in _DOCKER_HUB_ALIASES:
        host = DOCKER_HUB_HOST
    if host == DOCKER_HUB_HOST and len(components) == 1:
        path = f"library/{path}"
    if len(path) > _NAME_MAX_LENGTH:
        raise _invalid(image, f"the repository name is longer than {_NAME_MAX_LENGTH} characters")
    return host, path


def allowed_hosts(entries: Collection[str]) -> frozenset[str]:
    """The registry hosts ``entries`` name, as :func:`parse_reference` spells them: lowercase,
    without scheme or trailing slash, Docker Hub's aliases as :data:`DOCKER_HUB_HOST`."""
    hosts = {_normalize_host(entry) for entry in entries if entry and entry.strip()}
    return frozenset(DOCKER_HUB_HOST if host in _DOCKER_HUB_ALIASES else host for host in hosts)


def check_image_exists(
    image: str,
    tag: str,
    *,
    timeout: float = 5.0,
    insecure_registries: Collection[str] = (),
    allowed_registries: Collection[str] | None = None,
) -> None:
    """Ask ``image``'s registry whether ``image:tag`` exists and can be pulled anonymously.

    ``tag`` may also be a digest (``sha256:...``). ``timeout`` (seconds) bounds each HTTP
    request's connect and each read; a check makes at most a few requests. Registries whose
    ``host[:port]`` is in ``insecure_registries`` are spoken to over plain http.

    ``allowed_registries`` (with ``insecure_registries``) are the registries the check may
    ask, each trusted as written (see the module documentation); an image elsewhere is
    refused with :class:`ImageNotFound`. Callers that take ``image`` from a user must pass
    it; None, for callers that chose the image themselves, trusts the image's registry.

    Returns ``None`` if the manifest exists. Raises :class:`ImageNotFound` when the reference
    is malformed, in a registry that is not allowed, or the registry says it does not exist
    or is not public, and :class:`ServiceUnavailable` when the registry cannot be reached,
    fails, or would lead the check to an address it never contacts.
    """
    host, repository = parse_reference(image)
    ref = _format_reference(image, tag)
    if not isinstance(tag, str) or not (_TAG.fullmatch(tag) or _DIGEST.fullmatch(tag)):
        raise ImageNotFound(
            f"Invalid docker_tag {tag!r} for image '{image}': a tag is up to 128 letters, "
            "digits, '_', '.' or '-' and does not start with '.' or '-' (e.g. '22.04'), "
            "or a digest such as 'sha256:<64 hex digits>'."
        )
    if timeout <= 0:
        raise ValueError("timeout must be positive")

    insecure = allowed_hosts(insecure_registries)
    listed = insecure | (
        allowed_hosts([host]) if allowed_registries is None else allowed_hosts(allowed_registries)
    )
    if host not in listed:
        names = ", ".join(sorted(_display_host(h) for h in listed - insecure)) or "none"
        raise ImageNotFound(
            f"Image '{ref}' is in registry '{_display_host(host)}', which is not in the "
            f"registries this service checks: {names}. Use an image published in one of "
            "them, or ask an admin to add the registry to IMAGE_REGISTRIES."
        )
    scheme = "http" if host in insecure else "https"
    url = f"{scheme}://{host}/v2/{repository}/manifests/{tag}"
    with requests.Session() as session:
        session.headers["User-Agent"] = USER_AGENT
        session.max_redirects = _MAX_REDIRECTS
        adapter = GuardedAdapter(AddressPolicy(listed))
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        check = _Check(session, ref=ref, host=host, repository=repository, tag=tag, timeout=timeout)
        check.run(url)


class _Check:
    """One check's state: the session, the reference for messages, the bearer token."""

    def __init__(
        self,
        session: requests.Session,
        *,
        ref: str,
        host: str,
        repository: str,
        tag: str,
        timeout: float,
    ) -> None:
        self.session = session
        self.ref = ref
        self.host = host
        self.tag = tag
        # How messages name the registry.
        self.name = "Docker Hub" if host == DOCKER_HUB_HOST else f"registry {host}"
        self.repository = repository
        self.timeout = timeout
        self.token: str | None = None

    def run(self, url: str) -> None:
        response = self._manifest(url)
        if response.status_code == 401 and self.token is None:
            challenge = _bearer_challenge(response.headers.get("WWW-Authenticate", ""))
            if challenge is None:
                raise self._not_public(
                    "the registry requires credentials to pull it (it offers no anonymous access)"
                )
            self.token = self._anonymous_token(challenge)
            response = self._manifest(url)

        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 404:
            raise ImageNotFound(self._explain_404(url))
        if status in (401, 403):
            raise self._not_public(
                "the registry refused an anonymous pull: the repository does not exist "
                "or is private"
            )
        if status == 429:
            raise ServiceUnavailable(
                f"The container registry {self.host} is rate-limiting requests, so image "
                f"'{self.ref}' could not be checked. Try again in a few minutes or ask an admin."
            )
        if status >= 500:
            raise ServiceUnavailable(
                f"The container registry {self.host} failed (HTTP {status}) while checking image "
                f"'{self.ref}'. Try again later or ask an admin."
            )
        raise ImageNotFound(
            f"The container registry {self.host} rejected image '{self.ref}' (HTTP {status}"
            f"{_error_detail(response)}). Check docker_image and docker_tag."
        )

    def _manifest(self, url: str) -> requests.Response:
        response = self._request("HEAD", url)
        if response.status_code == 405:  # some registries only allow GET on manifests
            response = self._request("GET", url)
        return response

    def _request(self, method: str, url: str) -> requests.Response:
        return self._send(method, url, headers=self._auth_headers(MANIFEST_ACCEPT))

    def _auth_headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _send(self, method: str, url: str, **kwargs) -> requests.Response:
        try:
            return self.session.request(
                method, url, timeout=self.timeout, allow_redirects=True, **kwargs
            )
        except RefusedAddress as exc:
            raise ServiceUnavailable(
                f"The container registry {self.host} was not asked about image '{self.ref}': "
                f"{exc}, and the service never connects to such an address unless an admin "
                "lists it, as an address, in IMAGE_REGISTRIES. Ask an admin."
            ) from exc
        except requests.TooManyRedirects as exc:
            raise ServiceUnavailable(
                f"The container registry {self.host} redirected too often while checking "
                f"image '{self.ref}'. Try again later or ask an admin."
            ) from exc
        except requests.Timeout as exc:
            raise ServiceUnavailable(
                f"The container registry {self.host} did not answer within {self.timeout:g} s "
                f"while checking image '{self.ref}'. Try again or ask an admin."
            ) from exc
        except requests.exceptions.SSLError as exc:
            hint = (
                " If this registry serves plain http, an admin must add it to "
                "IMAGE_REGISTRY_INSECURE."
                if url.startswith("https:")
                else ""
            )
            raise ServiceUnavailable(
                f"The TLS connection to container registry {self.host} failed while checking "
                f"image '{self.ref}'.{hint} Try again or ask an admin."
            ) from exc
        except requests.RequestException as exc:
            hint = (
                " Check that the registry host in docker_image is spelled correctly."
                if self.host != DOCKER_HUB_HOST and _is_name_resolution_error(exc)
                else ""
            )
            raise ServiceUnavailable(
                f"The container registry {self.host} cannot be reached to check image "
                f"'{self.ref}'.{hint} Try again or ask an admin."
            ) from exc

    def _anonymous_token(self, challenge: dict[str, str]) -> str:
        realm = challenge.get("realm")
        if not realm:
            raise ServiceUnavailable(
                f"The container registry {self.host} asked for a token without saying where to "
                f"get it, so image '{self.ref}' could not be checked. Ask an admin."
            )
        params = {"scope": challenge.get("scope") or f"repository:{self.repository}:pull"}
        if challenge.get("service"):
            params["service"] = challenge["service"]
        response = self._send("GET", realm, params=params, headers={"Accept": "application/json"})
        status = response.status_code
        if status in (401, 403):
            raise self._not_public("the registry refused an anonymous pull token")
        if status != 200:
            raise ServiceUnavailable(
                f"The token service of container registry {self.host} failed (HTTP {status}) "
                f"while checking image '{self.ref}'. Try again later or ask an admin."
            )
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise ServiceUnavailable(
                f"The token service of container registry {self.host} gave no usable token "
                f"while checking image '{self.ref}'. Try again later or ask an admin."
            )
        return token

    def _explain_404(self, url: str) -> str:
        """Tell a missing repository from a missing tag by asking for the repository's tags."""
        repository_exists: bool | None = None
        tags_url = url.split("/manifests/", 1)[0] + "/tags/list"
        try:
            response = self._send(
                "GET", tags_url, params={"n": "1"}, headers=self._auth_headers("application/json")
            )
            if response.status_code == 200:
                repository_exists = True
            elif response.status_code == 404 or "NAME_UNKNOWN" in _error_codes(response):
                repository_exists = False
        except ServiceUnavailable:
            pass  # the manifest answer stands; only the message is less precise
        if repository_exists is False:
            return (
                f"Image '{self.ref}' was not found: repository '{self.repository}' does not exist "
                f"in {self.name}. Check docker_image, or push the image and make it public."
            )
        if repository_exists:
            kind = "manifest with digest" if ":" in self.tag else "tag"
            return (
                f"Image '{self.ref}' was not found: repository '{self.repository}' in "
                f"{self.name} has no {kind} '{self.tag}'. Check docker_tag, or push that tag."
            )
        return (
            f"Image '{self.ref}' was not found in {self.name}: the repository or tag does not "
            "exist. Check docker_image and docker_tag, or push the image."
        )

    def _not_public(self, why: str) -> ImageNotFound:
        return ImageNotFound(
            f"Image '{self.ref}' cannot be pulled from {self.name}: {why}. Check "
            "docker_image and docker_tag; the image must exist and be public (pullable "
            "without credentials) so that anyone can reproduce the benchmark."
        )


def _format_reference(image: str, tag: str) -> str:
    separator = "@" if isinstance(tag, str) and ":" in tag else ":"
    return f"{image}{separator}{tag}"


def _invalid(image: object, why: str) -> ImageNotFound:
    return ImageNotFound(f"Invalid docker_image {image!r}: {why} ({_EXAMPLES}).")


def _display_host(host: str) -> str:
    return "docker.io" if host == DOCKER_HUB_HOST else host


def _normalize_host(host: str) -> str:
    host = host.strip().lower()
    for prefix in ("http://", "https://"):
        host = host.removeprefix(prefix)
    return host.rstrip("/")


_CHALLENGE_PARAM = re.compile(r'[\s,]*([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def _bearer_challenge(header: str) -> dict[str, str] | None:
    """The parameters of a ``WWW-Authenticate: Bearer k="v",...`` challenge, or None."""
    match = re.search(r"(?:^|[\s,])bearer\s+", header, re.IGNORECASE)
    if not match:
        return None
    params: dict[str, str] = {}
    position = match.end()
    # Consecutive k=v pairs; stop where another challenge ("Basic realm=...") begins.
    while m := _CHALLENGE_PARAM.match(header, position):
        value = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
        position = m.end()
    return params


def _error_codes(response: requests.Response) -> set[str]:
    try:
        errors = response.json().get("errors") or []
        return {str(e.get("code")) for e in errors if isinstance(e, dict)}
    except (ValueError, AttributeError):
        return set()


def _error_detail(response: requests.Response) -> str:
    codes = _error_codes(response)
    return f": {', '.join(sorted(codes))}" if codes else ""


_NAME_RESOLUTION_FAILURES = (
    "NameResolutionError",
    "Name or service not known",
    "Temporary failure in name resolution",
    "nodename nor servname",
    "getaddrinfo failed",
)


def _is_name_resolution_error(exc: BaseException) -> bool:
    text = str(exc)
    return any(marker in text for marker in _NAME_RESOLUTION_FAILURES)
