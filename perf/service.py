"""The service under measurement: gunicorn started with the deployment's
``gunicorn.conf.py`` on a given database, trusting a local OIDC issuer, and what the perf
scripts read of its workers from /proc (pids, peak and current resident memory)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from backend.devtools.oidc_issuer import LocalIssuer  # noqa: E402
from backend.settings import database_uri  # noqa: E402
from perf.driver import Client  # noqa: E402
from perf.load import DEFAULT_SERVER  # noqa: E402, F401 (the scripts' default --server)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            Client(base).json("/health")
            return
        except (OSError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def memory_kib(pid: int) -> dict[str, int]:
    """VmHWM (peak) and VmRSS (now) of a process, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in {"VmHWM", "VmRSS"}:
            values[name] = int(rest.split()[0])
    return values


def start_gunicorn(
    database_url: str,
    issuer: LocalIssuer,
    workers: int | None = None,
    threads: int | None = None,
    access_log: Path | None = None,
) -> tuple[subprocess.Popen, str]:
    """gunicorn with the deployment's ``gunicorn.conf.py``: its defaults unless ``workers``
    or ``threads`` are given; the access log (stdout) goes to ``access_log``, or nowhere."""
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": "perf-secret",
        "DATABASE_URL": database_url,
        "TRUSTED_OP_LIST": issuer.url,
        "REQUESTS_CA_BUNDLE": str(issuer.ca_bundle),
        "SSL_CERT_FILE": str(issuer.ca_bundle),
        "IMAGE_VALIDATION": "off",
        "NOTIFICATIONS_DELIVERY": "off",
        "LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
        "--bind", f"127.0.0.1:{port}", "backend:create_app()",
    ]  # fmt: skip
    if workers is not None:
        command += ["--workers", str(workers)]
    if threads is not None:
        command += ["--threads", str(threads)]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=open(access_log, "w") if access_log else subprocess.DEVNULL,  # noqa: SIM115
        stderr=open(Path(tempfile.gettempdir()) / "perf-gunicorn.log", "w"),  # noqa: SIM115
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base)
    return process, base


@contextmanager
def running_service(
    database: str, server: str, issuer: LocalIssuer, **gunicorn: Any
) -> Iterator[tuple[subprocess.Popen, str]]:
    """gunicorn (``start_gunicorn``'s options) on the database ``database`` of ``server``,
    stopped at the end, also when this script gets SIGTERM (a time-out, CI)."""
    from sqlalchemy import make_url

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    url = make_url(database_uri(server)).set(database=database)
    process, base = start_gunicorn(url.render_as_string(hide_password=False), issuer, **gunicorn)
    try:
        yield process, base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


#: Settings of the service that change the perf tables' figures; a table's setup line
#: names those set in the environment (which the service inherits), e.g.
#: ``RESULT_PAGE_CACHE_ENTRIES=0`` for result pages read afresh every time.
SETTINGS = (
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "CATALOGUE_CACHE_ENTRIES",
    "RESULT_PAGE_CACHE_ENTRIES",
)


def changed_settings() -> str:
    """The ``SETTINGS`` set in this environment, as ``NAME=value`` words ('' for none)."""
    return " ".join(f"{name}={os.environ[name]}" for name in SETTINGS if name in os.environ)
