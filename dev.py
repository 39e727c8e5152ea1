#!/usr/bin/env python3
"""The README's two commands; needs only Python 3.11+.

    python3 dev.py demo    # the service on SQLite with demo data, a local OIDC issuer and tokens
    python3 dev.py test    # the whole test suite (extra arguments go to pytest)

Both create (or reuse) a virtualenv in .venv and install the project into it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
INSTANCE = ROOT / "instance"
CLIENT = ROOT / "clients" / "python"  # the Python client; the test suite tests it too
DEMO_ISSUER_PORT = int(os.environ.get("DEMO_ISSUER_PORT", "8443"))
DEMO_PORT = int(os.environ.get("DEMO_PORT", "5000"))
ADMIN_ENTITLEMENT = "urn:demo:performance:admin"


def run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], check=True, cwd=ROOT, **kwargs)


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project (again only when setup.cfg changed); the test
    extra also installs the Python client of clients/python, which the suite tests."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print(f"Creating a virtualenv in {VENV} ...", flush=True)
        run(sys.executable, "-m", "venv", VENV)
    client = ["-e", "clients/python"] if extras == "test" else []
    setup_files = [ROOT / "setup.cfg", *([CLIENT / "pyproject.toml"] if client else [])]
    content = b"".join(path.read_bytes() for path in setup_files) + extras.encode()
    digest = hashlib.sha256(content).hexdigest()
    stamp = VENV / f".installed-{extras or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print("Installing the project and its dependencies (a minute or two) ...", flush=True)
    target = f".[{extras}]" if extras else "."
    for command in (["--upgrade", "pip"], ["-e", target, *client]):
        done = subprocess.run(
            [str(PYTHON), "-m", "pip", "install", "--quiet", *command],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            print(done.stdout, done.stderr, sep="\n", file=sys.stderr)
            sys.exit(f"pip install {' '.join(command)} failed (output above).")
    stamp.write_text(digest)


def test(pytest_args: list[str]) -> int:
    ensure_venv("test")
    return subprocess.call([str(PYTHON), "-m", "pytest", *pytest_args], cwd=ROOT)


def wait_for(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def demo() -> int:
    """Migrate a SQLite database, load the sample data, start the issuer and the API."""
    ensure_venv("")
    INSTANCE.mkdir(exist_ok=True)
    issuer_dir = INSTANCE / "issuer"
    issuer_url = f"https://127.0.0.1:{DEMO_ISSUER_PORT}"
    bundle = issuer_dir / "ca_bundle.pem"
    env = {
        **os.environ,
        "APP_ENV": "development",
        "LOG_FORMAT": "text",
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE / 'performance.db'}"),
        "TRUSTED_OP_LIST": issuer_url,
        "ADMIN_ENTITLEMENTS": ADMIN_ENTITLEMENT,
        "IMAGE_VALIDATION": "off",
        "REQUESTS_CA_BUNDLE": str(bundle),
        "SSL_CERT_FILE": str(bundle),
        "FLASK_APP": "backend",
    }
    flask = [str(BIN / "flask"), "--app", "backend"]
    issuer = subprocess.Popen(
        [str(PYTHON), "-m", "backend.devtools.oidc_issuer", "serve",
         "--state-dir", str(issuer_dir), "--port", str(DEMO_ISSUER_PORT)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    api = None
    try:
        for _ in range(100):
            if bundle.exists():
                break
            time.sleep(0.1)
        run(*flask, "db", "upgrade", env=env)
        users = INSTANCE / "demo-users.jsonl"
        users.write_text(
            f'{{"type": "user", "sub": "demo-admin", "iss": "{issuer_url}", '
            f'"email": "admin@demo.localhost"}}\n'
            f'{{"type": "user", "sub": "demo-user", "iss": "{issuer_url}", '
            f'"email": "user@demo.localhost"}}\n'
        )
        run(*flask, "import", users, env=env)
        demo_data = ROOT / "backend" / "devtools" / "sample_data" / "demo.jsonl"
        run(*flask, "import", demo_data, "--skip-existing-results",
            "--uploader", "demo-user", issuer_url, env=env)  # fmt: skip

        def mint(sub: str, *extra: str) -> str:
            return subprocess.run(
                [str(PYTHON), "-m", "backend.devtools.oidc_issuer", "mint",
                 "--state-dir", str(issuer_dir), "--url", issuer_url, "--sub", sub,
                 "--expires-in", str(7 * 24 * 3600), *extra],
                check=True, capture_output=True, text=True, cwd=ROOT, env=env,
            ).stdout.strip()  # fmt: skip

        admin_token = mint("demo-admin", "--email", "admin@demo.localhost",
                           "--entitlement", ADMIN_ENTITLEMENT)  # fmt: skip
        user_token = mint("demo-user", "--email", "user@demo.localhost")
        api = subprocess.Popen(
            [*flask, "run", "--host", "127.0.0.1", "--port", str(DEMO_PORT)], cwd=ROOT, env=env
        )
        wait_for(f"http://127.0.0.1:{DEMO_PORT}/health")
        base = f"http://127.0.0.1:{DEMO_PORT}"
        print(
            f"\nThe service runs on SQLite with the sample data.\n"
            f"  Swagger UI:   {base}/\n"
            f"  OpenAPI:      {base}/api-spec.json\n"
            f"  OIDC issuer:  {issuer_url} (local, for this demo only)\n\n"
            f"Admin token (valid 7 days):\n  export ADMIN_TOKEN={admin_token}\n\n"
            f"User token (valid 7 days):\n  export USER_TOKEN={user_token}\n\n"
            f"Try:\n  curl -s '{base}/results?filters=machine.cpu.count%20%3E%204"
            f"&sort_by=-json.result.score' | python3 -m json.tool | head -40\n"
            f'  curl -s -H "Authorization: Bearer $USER_TOKEN" {base}/users/self\n\n'
            "Press Ctrl+C to stop.",
            flush=True,
        )
        return api.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for process in (api, issuer):
            if process and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=10)


def main() -> int:
    command, *rest = sys.argv[1:] or ["help"]
    if command == "test":
        return test(rest)
    if command == "demo":
        return demo()
    print(__doc__)
    return 0 if command in {"help", "-h", "--help"} else 2


if __name__ == "__main__":
    sys.exit(main())
