"""A real, throw-away container registry for tests: Debian's ``docker-registry`` (distribution 2.x).

``LocalRegistry`` runs ``/usr/bin/docker-registry serve CONFIG`` on 127.0.0.1 with a free port
and filesystem storage in a temporary directory, over plain http. ``push(repo, tag)`` uploads a
tiny image (a config blob, one gzipped tar layer and a manifest) through the registry's HTTP API,
so no docker daemon is needed.

Tests use the ``image_registry`` fixture, imported explicitly::

    # ruff: noqa: F811  (test parameters named after the imported fixture)
    from tests.support.registry import image_registry  # noqa: F401

    def test_something(image_registry):
        image_registry.push("team/solver", "1.0")
        check_image_exists(
            image_registry.image("team/solver"), "1.0",
            insecure_registries=image_registry.insecure_registries,
        )

The app is pointed at it with ``IMAGE_REGISTRY_INSECURE = image_registry.host``
(``"127.0.0.1:PORT"``). The binary comes from ``apt-get install docker-registry``; without it
the fixture skips, or fails when ``CI`` is set.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Self
from urllib.parse import urljoin

import pytest
import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

_MEDIA_TYPES = {
    # manifest type: (config type, layer type)
    OCI_MANIFEST: (
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.oci.image.layer.v1.tar+gzip",
    ),
    DOCKER_MANIFEST: (
        "application/vnd.docker.container.image.v1+json",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
    ),
}

DEFAULT_BINARY = "/usr/bin/docker-registry"
INSTALL_HINT = "install it with: apt-get update && apt-get install -y docker-registry"


def find_binary() -> str | None:
    """The registry binary: ``$DOCKER_REGISTRY_BIN``, /usr/bin/docker-registry, or on PATH."""
    candidate = os.environ.get("DOCKER_REGISTRY_BIN") or DEFAULT_BINARY
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return shutil.which("docker-registry")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class LocalRegistry:
    """One ``docker-registry`` process on 127.0.0.1, storing into a temporary directory."""

    def __init__(self, binary: str | None = None, *, startup_timeout: float = 15.0) -> None:
        self.binary = binary or find_binary() or DEFAULT_BINARY
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self._process: subprocess.Popen | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._log = None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: the registry part of image names, and the insecure-registry entry."""
        if self.port is None:
            raise RuntimeError("the registry is not started")
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def insecure_registries(self) -> tuple[str]:
        """Pass as ``insecure_registries=`` (the app setting IMAGE_REGISTRY_INSECURE)."""
        return (self.host,)

    def image(self, repo: str) -> str:
        """The image name of ``repo`` in this registry, e.g. ``127.0.0.1:PORT/team/solver``."""
        return f"{self.host}/{repo}"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._process is not None:
            return self
        if not (os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)):
            raise FileNotFoundError(f"{self.binary} not found; {INSTALL_HINT}")
        self._tmp = tempfile.TemporaryDirectory(prefix="test-registry-")
        root = Path(self._tmp.name)
        (root / "storage").mkdir()
        self._log = open(root / "registry.log", "w+b")  # noqa: SIM115 (closed in stop)
        # Environment variables REGISTRY_* override the config file: keep the caller's out.
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        try:
            for _attempt in range(3):  # the free port may be taken between probe and bind
                self.port = _free_port()
                config = root / "config.yml"
                config.write_text(self._config(root / "storage"))
                self._process = subprocess.Popen(
                    [self.binary, "serve", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=self._log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
                if self._wait_ready():
                    return self
                self._kill()
            raise RuntimeError(f"docker-registry did not start; its log:\n{self._log_tail()}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._kill()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self.port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _config(self, storage: Path) -> str:
        # JSON strings are valid YAML scalars, which keeps odd temp paths safe.
        return "\n".join(
            [
                "version: 0.1",
                "log:",
                "  level: warn",
                "  accesslog:",
                "    disabled: true",
                "storage:",
                "  filesystem:",
                f"    rootdirectory: {json.dumps(str(storage))}",
                "  delete:",
                "    enabled: true",
                "http:",
                f"  addr: {json.dumps(f'127.0.0.1:{self.port}')}",
                "",
            ]
        )

    def _wait_ready(self) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                if requests.get(f"{self.url}/v2/", timeout=1).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return False

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def _log_tail(self, size: int = 4000) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-size:]

    # -- pushing -----------------------------------------------------------------------------

    def push(self, repo: str, tag: str = "latest", *, media_type: str = OCI_MANIFEST) -> str:
        """Push a tiny one-layer image as ``repo:tag``; returns the manifest digest.

        ``media_type`` is :data:`OCI_MANIFEST` (default) or :data:`DOCKER_MANIFEST` (schema 2).
        """
        config_type, layer_type = _MEDIA_TYPES[media_type]
        tar_bytes = self._layer_tar(f"{repo}:{tag}\n".encode())
        layer = gzip.compress(tar_bytes, mtime=0)
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Cmd": ["/hello.txt"]},
                "rootfs": {"type": "layers", "diff_ids": [_digest(tar_bytes)]},
            },
            sort_keys=True,
        ).encode()
        self.upload_blob(repo, config)
        self.upload_blob(repo, layer)
        manifest = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {"mediaType": config_type, "size": len(config), "digest": _digest(config)},
            "layers": [{"mediaType": layer_type, "size": len(layer), "digest": _digest(layer)}],
        }
        return self.put_manifest(repo, tag, json.dumps(manifest).encode(), media_type)

    def upload_blob(self, repo: str, data: bytes) -> str:
        """Monolithic upload: ``POST /v2/<repo>/blobs/uploads/`` then ``PUT <location>?digest=``."""
        digest = _digest(data)
        start = requests.post(f"{self.url}/v2/{repo}/blobs/uploads/", timeout=10)
        _expect(start, 202, f"start upload to {repo}")
        location = urljoin(f"{self.url}/", start.headers["Location"])
        done = requests.put(
            location,
            params={"digest": digest},  # requests appends it to the upload's own query
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=10,
        )
        _expect(done, 201, f"finish upload of {digest} to {repo}")
        return digest

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        response = requests.put(
            f"{self.url}/v2/{repo}/manifests/{reference}",
            data=body,
            headers={"Content-Type": media_type},
            timeout=10,
        )
        _expect(response, 201, f"put manifest {repo}:{reference}")
        return response.headers.get("Docker-Content-Digest") or _digest(body)

    @staticmethod
    def _layer_tar(content: bytes) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo("hello.txt")
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
        return buffer.getvalue()


def _expect(response: requests.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise RuntimeError(
            f"registry: {what}: expected HTTP {status}, got {response.status_code}: "
            f"{response.text[:500]}"
        )


def require_binary() -> str:
    """The registry binary, or skip the test (fail under CI, where it must be installed)."""
    binary = find_binary()
    if binary is None:
        reason = (
            f"docker-registry binary not found at {DEFAULT_BINARY} (or $DOCKER_REGISTRY_BIN); "
            f"{INSTALL_HINT}"
        )
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return binary


@pytest.fixture(scope="session")
def image_registry():
    """A started :class:`LocalRegistry` (one per importing module and xdist worker)."""
    registry = LocalRegistry(require_binary())
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()
