"""Real processes for the deployment tests: the entrypoint, PostgreSQL servers, HTTP polls.

Plain functions and context managers; every process started here is stopped (and every
database created here dropped) when its ``with`` block ends, whatever the test did.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from backend.devtools.databases import throwaway_database
from backend.settings import database_uri

REPOSITORY = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPOSITORY / "entrypoint.sh"
SHARED_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def require(condition: bool, reason: str) -> None:
    """Skip when a tool this machine lacks is needed; in CI (CI set) fail instead, so a
    missing install step cannot pass as green."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``condition`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    """(status, headers, body) of a GET; (0, {}, b"") when nothing answers."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, {}, b""


# --- PostgreSQL ---------------------------------------------------------------------------


def postgres_server_url() -> str:
    """The PostgreSQL server the suite may create databases on (TEST_DATABASE_URL's, or the
    machine's local one)."""
    base = os.environ.get("TEST_DATABASE_URL", "")
    return base if base.startswith(("postgresql", "postgres:")) else SHARED_POSTGRES


def postgres_reachable(url: str) -> bool:
    engine = create_engine(database_uri(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """An empty database on the local PostgreSQL server, dropped afterwards."""
    server = postgres_server_url()
    require(postgres_reachable(server), f"no PostgreSQL server at {server}")
    with throwaway_database(server, Path(tempfile.gettempdir()), "deploy") as url:
        yield url


@contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """An empty database of the kind the suite runs on (PostgreSQL, or a SQLite file in
    ``folder``)."""
    if os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"):
        with fresh_postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{folder / 'fresh.db'}"


def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: PG_BINDIR, the PATH, or Debian's versioned folders."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    candidates += sorted(
        (str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p)],
        reverse=True,
    )
    for candidate in filter(None, candidates):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


class PrivateCluster:
    """A PostgreSQL cluster of the test's own, in a temporary folder, on a free port.

    initdb refuses to run as root, so as root the binaries run as the ``postgres`` user.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="pg-private-"))
        self.data = self.folder / "data"
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.folder, "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *arguments: str) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bin_dir / tool), *arguments],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-o", options,
            "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        """Stop the server if it runs, then delete its folder."""
        if (self.data / "postmaster.pid").exists():
            with suppress(subprocess.CalledProcessError):
                self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def private_postgres() -> Iterator[PrivateCluster]:
    bin_dir = postgres_bin_dir()
    require(bin_dir is not None, "PostgreSQL server binaries (initdb, pg_ctl) not found")
    if os.geteuid() == 0:
        require(shutil.which("runuser") is not None, "runuser is needed to run initdb as root")
    cluster = PrivateCluster(bin_dir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


# --- The entrypoint -----------------------------------------------------------------------


def entrypoint_environment(database_url: str, port: int, **extra: str) -> dict[str, str]:
    """A production environment for entrypoint.sh, nothing inherited but the basics."""
    environment = {
        name: os.environ[name]
        for name in ("HOME", "LANG", "LC_ALL", "TMPDIR")
        if name in os.environ
    }
    environment.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        APP_ENV="production",
        SECRET_KEY="deployment-test-secret",
        DATABASE_URL=database_url,
        TRUSTED_OP_LIST="https://issuer.invalid",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        IMAGE_VALIDATION="off",
        NOTIFICATIONS_DELIVERY="off",
        WEB_CONCURRENCY="2",
        GUNICORN_GRACEFUL_TIMEOUT="10",
    )
    environment.update(extra)
    return environment


class Entrypoint:
    """entrypoint.sh running in the background, its output going to files."""

    def __init__(self, environment: dict[str, str], folder: Path, name: str = "entrypoint"):
        self.stdout_path = folder / f"{name}.out"
        self.stderr_path = folder / f"{name}.err"
        self.port = int(environment["GUNICORN_BIND"].rsplit(":", 1)[1])
        with open(self.stdout_path, "wb") as stdout, open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [str(ENTRYPOINT)],
                cwd=REPOSITORY,
                env=environment,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def output(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def log_lines(self) -> list[dict]:
        """Every line it printed, parsed as JSON (fails on a line that is not)."""
        lines = []
        for line in self.output().splitlines():
            if line.strip():
                try:
                    lines.append(json.loads(line))
                except json.JSONDecodeError:
                    pytest.fail(f"Not a JSON log line: {line!r}")
        return lines

    def wait_until_ready(self, timeout: float = 120) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"entrypoint exited ({self.process.returncode}):\n{self.output()}")
            return http_get(self.url("/ready"))[0] == 200

        wait_for(ready, timeout, f"{self.url('/ready')} to answer 200")

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, as docker stop sends; the exit code once it has exited."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """Kill whatever of its process group is left (gunicorn's workers included)."""
        if self.process.poll() is None:
            self.process.terminate()
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@contextmanager
def running_entrypoint(
    environment: dict[str, str], folder: Path, name: str = "entrypoint"
) -> Iterator[Entrypoint]:
    entrypoint = Entrypoint(environment, folder, name)
    try:
        yield entrypoint
    finally:
        entrypoint.kill()


# --- nginx --------------------------------------------------------------------------------

NGINX_TEMPLATE = REPOSITORY / "deploy" / "nginx" / "templates" / "default.conf.template"

# What the official nginx image's /etc/nginx/nginx.conf puts around the files of conf.d/
# (its http-level defaults included, so a directive the template repeats fails here as it
# would there), with this test's paths. The proxy itself is all in NGINX_TEMPLATE.
NGINX_MAIN_CONFIG = """\
daemon off;
worker_processes auto;
pid {folder}/nginx.pid;
error_log stderr notice;
events {{
    worker_connections 1024;
}}
http {{
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;
    client_body_temp_path {folder}/client_temp;
    proxy_temp_path {folder}/proxy_temp;
    fastcgi_temp_path {folder}/fastcgi_temp;
    uwsgi_temp_path {folder}/uwsgi_temp;
    scgi_temp_path {folder}/scgi_temp;
    include {folder}/conf.d/*.conf;
}}
"""


def nginx_binary() -> str | None:
    """Debian's nginx (in /usr/sbin, which a non-root PATH may lack)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def render_nginx_template(template: str, values: dict[str, str]) -> str:
    """What the official image's entrypoint does with envsubst: replace each ``${NAME}``
    by its value and leave nginx's own ``$variables`` alone."""
    names = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", template))
    assert names == set(values), f"the template takes {sorted(names)}, given {sorted(values)}"
    return re.sub(r"\$\{([A-Z][A-Z0-9_]*)\}", lambda match: values[match.group(1)], template)


class Nginx:
    """Debian's nginx running the repository's template in front of ``upstream``
    (``host:port``), on a free port of 127.0.0.1, its access log going to a file."""

    def __init__(self, binary: str, upstream: str) -> None:
        self.port = free_port()
        # Readable by the workers, which drop root's rights to "nobody".
        self.folder = Path(tempfile.mkdtemp(prefix="nginx-"))
        self.folder.chmod(0o755)
        (self.folder / "conf.d").mkdir()
        (self.folder / "conf.d" / "default.conf").write_text(
            render_nginx_template(
                NGINX_TEMPLATE.read_text(),
                {"NGINX_LISTEN": f"127.0.0.1:{self.port}", "NGINX_UPSTREAM": upstream},
            )
        )
        configuration = self.folder / "nginx.conf"
        configuration.write_text(NGINX_MAIN_CONFIG.format(folder=self.folder))
        self.stdout_path = self.folder / "nginx.out"
        self.stderr_path = self.folder / "nginx.err"
        with open(self.stdout_path, "wb") as stdout, open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [binary, "-p", str(self.folder), "-e", "stderr", "-c", str(configuration)],
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def access_log(self) -> list[dict]:
        """The access log's lines, each one JSON object."""
        return [json.loads(line) for line in self.stdout_path.read_text().splitlines() if line]

    def wait_until_serving(self, timeout: float = 30) -> None:
        def serving() -> bool:
            if self.process.poll() is not None:
                pytest.fail(
                    f"nginx exited ({self.process.returncode}):\n{self.stderr_path.read_text()}"
                )
            return http_get(self.url("/nginx-health"))[0] == 200

        wait_for(serving, timeout, f"nginx on port {self.port}")

    def stop(self) -> None:
        """Stop nginx and its workers, then delete its folder."""
        if self.process.poll() is None:
            self.process.terminate()
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def running_nginx(upstream: str) -> Iterator[Nginx]:
    """The repository's nginx configuration in front of ``upstream``, serving until the
    block ends; a machine without nginx skips (fails under CI)."""
    binary = nginx_binary()
    require(binary is not None, "nginx is not installed (apt-get install nginx-light)")
    nginx = Nginx(binary, upstream)
    try:
        nginx.wait_until_serving()
        yield nginx
    finally:
        nginx.stop()


# --- A primary and its streaming replica ---------------------------------------------------


def start_replica_of(primary: PrivateCluster) -> PrivateCluster:
    """A hot-standby streaming replica of ``primary`` (running), made by ``pg_basebackup -R``.

    initdb's pg_hba.conf already trusts replication connections from 127.0.0.1, and the
    defaults (wal_level=replica, max_wal_senders=10, hot_standby=on) are what streaming
    needs.
    """
    replica = PrivateCluster(primary.bin_dir)
    try:
        replica._run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(replica.data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        replica.start()
    except BaseException:
        replica.remove()
        raise
    return replica


@contextmanager
def private_primary_and_replica(
    prepare: Callable[[PrivateCluster], None] | None = None,
) -> Iterator[tuple[PrivateCluster, PrivateCluster]]:
    """A private primary and a streaming replica of it; ``prepare(primary)`` runs before the
    replica is copied (migrations, data). Both are stopped and deleted afterwards."""
    with private_postgres() as primary:
        require(
            (primary.bin_dir / "pg_basebackup").exists(),
            f"pg_basebackup is not in {primary.bin_dir}",
        )
        if prepare is not None:
            prepare(primary)
        replica = start_replica_of(primary)
        try:
            yield primary, replica
        finally:
            replica.remove()
