"""The Dockerfile, entrypoint.sh and docker-compose.yml, checked without a Docker engine:
their linters (hadolint, shellcheck, the compose-spec schema) and what this project needs
of them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deployment.processes import REPOSITORY, require

DOCKERFILE = REPOSITORY / "Dockerfile"
COMPOSE = REPOSITORY / "docker-compose.yml"


def tool(name: str) -> str:
    """A linter installed with the test extras (next to this Python) or on the PATH."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    require(found is not None, f"{name} is not installed (pip install -e '.[test]')")
    return found


def run(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_accepts_the_dockerfile():
    run(tool("hadolint"), str(DOCKERFILE))


def test_shellcheck_accepts_the_entrypoint():
    run(tool("shellcheck"), "--shell=sh", str(REPOSITORY / "entrypoint.sh"))


def test_the_compose_file_satisfies_the_compose_specification():
    run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE))


def test_the_compose_schema_check_catches_a_mistake(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("healthcheck:", "healthchek:", 1))
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0


def stages(dockerfile: str) -> list[str]:
    """The Dockerfile's build stages, as text, the last being the image that ships."""
    return re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[1:]


def test_the_image_is_built_in_two_stages_and_ships_only_the_runtime():
    *builders, runtime = stages(DOCKERFILE.read_text())
    assert builders, "a build stage makes the wheel"
    assert "pip wheel" in builders[0]
    assert "python:3.11-slim" in DOCKERFILE.read_text()
    assert "--no-index" in runtime, "the final stage installs the built wheels only"
    assert "COPY backend" not in runtime, "no source tree in the final image"


def test_the_image_runs_unprivileged_with_a_healthcheck_and_the_entrypoint():
    runtime = stages(DOCKERFILE.read_text())[-1]
    user = re.search(r"^USER (\S+)", runtime, flags=re.MULTILINE)
    assert user and user.group(1).split(":")[0] not in {"root", "0"}
    healthcheck = re.search(r"^HEALTHCHECK (?:.*\\\n)*.*", runtime, flags=re.MULTILINE)
    assert healthcheck and "/health" in healthcheck.group(0)
    assert "curl" not in healthcheck.group(0), "python:3.11-slim has no curl"
    assert 'ENTRYPOINT ["/app/entrypoint.sh"]' in runtime


def test_no_secret_is_baked_into_the_image():
    text = DOCKERFILE.read_text()
    for line in re.findall(r"^(?:ENV|ARG)\s.*(?:\n\s+.*)*", text, flags=re.MULTILINE):
        assert not re.search(r"SECRET|PASSWORD|TOKEN|KEY\b", line, flags=re.IGNORECASE), line
    patterns = [
        line
        for line in (REPOSITORY / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "the build context is an allow-list"
    assert not any(line.startswith("!") and "secret" in line for line in patterns)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_runs_postgresql_15_with_a_volume_and_a_healthcheck(compose):
    db = compose["services"]["db"]
    assert db["image"].startswith("postgres:15")
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert db["volumes"][0].split(":")[0] in compose["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_compose_passes_secrets_as_files(compose):
    backend = compose["services"]["backend"]
    environment = backend["environment"]
    assert set(backend["secrets"]) == set(compose["secrets"]) == {"db_password", "secret_key"}
    assert environment["SECRET_KEY_FILE"] == "/run/secrets/secret_key"
    assert environment["DATABASE_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert compose["services"]["db"]["environment"]["POSTGRES_PASSWORD_FILE"] == (
        "/run/secrets/db_password"
    )
    assert not re.search(r"PASSWORD: [^/]", COMPOSE.read_text()), "no password inline"
    assert backend["depends_on"]["db"]["condition"] == "service_healthy"


def test_compose_has_an_optional_notifier(compose):
    notifier = compose["services"]["notifier"]
    assert notifier["profiles"] == ["notifier"]
    assert notifier["command"][-3:] == ["notifications", "deliver", "--loop"]
    assert notifier["image"] == compose["services"]["backend"]["image"]


NGINX_TEMPLATE = REPOSITORY / "deploy" / "nginx" / "templates" / "default.conf.template"


def test_compose_puts_nginx_in_front_and_only_nginx_is_published(compose):
    services = compose["services"]
    nginx = services["nginx"]
    assert re.fullmatch(r"nginx:1\.\d*[02468](\.\d+)?-alpine", nginx["image"]), (
        "the official image, pinned to a stable (even) release"
    )
    assert [name for name, service in services.items() if "ports" in service] == ["nginx"]
    assert nginx["depends_on"]["backend"]["condition"] == "service_healthy"
    assert "/nginx-health" in " ".join(nginx["healthcheck"]["test"])


def test_compose_runs_the_repository_nginx_template_read_only(compose):
    nginx = compose["services"]["nginx"]
    source, target, mode = nginx["volumes"][0].split(":")
    assert (REPOSITORY / source / NGINX_TEMPLATE.name).samefile(NGINX_TEMPLATE)
    assert (target, mode) == ("/etc/nginx/templates", "ro")
    variables = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", NGINX_TEMPLATE.read_text()))
    assert variables == set(nginx["environment"]), "compose fills every variable, no more"
    listen = str(nginx["environment"]["NGINX_LISTEN"])
    assert nginx["ports"][0].endswith(f":{listen}")
    assert f"127.0.0.1:{listen}/" in " ".join(nginx["healthcheck"]["test"])


def test_the_backend_trusts_exactly_the_forwarded_headers_nginx_sets(compose):
    template = NGINX_TEMPLATE.read_text()
    set_by_nginx = {
        name.upper()
        for name, value in re.findall(r"proxy_set_header\s+X-Forwarded-(\w+)\s+(\S+);", template)
        if value != '""'
    }
    environment = compose["services"]["backend"]["environment"]
    counts = {
        name.removeprefix("PROXY_FIX_X_"): int(value)
        for name, value in environment.items()
        if name.startswith("PROXY_FIX_")
    }
    assert set(counts) == {"FOR", "PROTO", "HOST", "PORT", "PREFIX"}
    assert {name for name, count in counts.items() if count == 1} == set_by_nginx
    assert {name for name, count in counts.items() if count != 1} <= {"PORT"}


@pytest.mark.parametrize(
    "directive",
    [
        "proxy_request_buffering on;",
        "proxy_buffering on;",
        "server_tokens off;",
        "client_header_timeout 10s;",
        "client_body_timeout 30s;",
        "send_timeout 30s;",
        "keepalive_timeout 30s;",
        "client_max_body_size 2m;",
    ],
)
def test_the_nginx_template_buffers_and_bounds_clients(directive):
    assert re.search(rf"^\s+{re.escape(directive)}", NGINX_TEMPLATE.read_text(), re.MULTILINE)
