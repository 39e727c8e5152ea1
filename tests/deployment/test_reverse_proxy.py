"""The shipped nginx configuration (deploy/nginx/) run by Debian's nginx in front of the real
service under gunicorn with the repository's gunicorn.conf.py: clients that send their
headers one byte per second stall gunicorn alone, and leave requests through nginx fast."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import pytest
import yaml

from tests.deployment.processes import (
    REPOSITORY,
    Entrypoint,
    Nginx,
    entrypoint_environment,
    free_port,
    fresh_database,
    http_get,
    running_entrypoint,
    running_nginx,
    wait_for,
)

SLOW_CLIENTS = 20


def compose_proxy_settings() -> dict[str, str]:
    """The PROXY_FIX_* values docker-compose.yml gives the backend behind its nginx."""
    compose = yaml.safe_load((REPOSITORY / "docker-compose.yml").read_text())
    environment = compose["services"]["backend"]["environment"]
    return {name: str(value) for name, value in environment.items() if name.startswith("PROXY_FIX")}


@dataclass
class Stack:
    gunicorn: Entrypoint
    nginx: Nginx


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    """gunicorn (entrypoint.sh, 4 workers x 2 threads) with nginx in front, as compose runs
    them, on the database the suite runs on."""
    folder = tmp_path_factory.mktemp("reverse-proxy")
    with fresh_database(folder) as url:
        environment = entrypoint_environment(url, free_port(), **compose_proxy_settings())
        with running_entrypoint(environment, folder) as gunicorn:
            gunicorn.wait_until_ready()
            with running_nginx(f"127.0.0.1:{gunicorn.port}") as nginx:
                yield Stack(gunicorn, nginx)


def timed_get(port: int, path: str, timeout: float = 10) -> tuple[int, float]:
    """(status, seconds) of a GET on a new connection, as a normal client makes it;
    (0, timeout) when no answer came in time."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    except TimeoutError:
        return 0, timeout
    finally:
        connection.close()


class SlowClients:
    """Connections that send a request header one byte per second and never finish it."""

    def __init__(self, port: int, path: str, count: int) -> None:
        self.header = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: {'x' * 64}".encode()
        self.sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        self.stopped = threading.Event()

    def trickle(self, seconds: float) -> None:
        """One byte on every connection each second, for at most ``seconds``."""
        for position in range(min(int(seconds), len(self.header))):
            for connection in self.sockets:
                with suppress(OSError):  # closed by the server: its timeout did its job
                    connection.send(self.header[position : position + 1])
            if self.stopped.wait(1):
                return

    def still_open(self) -> int:
        """How many connections the server has neither answered nor closed."""
        waiting = 0
        for connection in self.sockets:
            try:
                connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                waiting += 1
            except OSError:
                pass
        return waiting


@contextmanager
def slow_clients(port: int, path: str, seconds: float = 20) -> Iterator[SlowClients]:
    """SLOW_CLIENTS connections trickling their headers; they stop after ``seconds`` at
    most, or when the block ends, and are closed then."""
    clients = SlowClients(port, path, SLOW_CLIENTS)
    trickling = threading.Thread(target=clients.trickle, args=(seconds,), daemon=True)
    trickling.start()
    try:
        time.sleep(2)  # every connection has sent something and holds what serves it
        yield clients
    finally:
        clients.stopped.set()
        trickling.join(timeout=5)
        for connection in clients.sockets:
            connection.close()


def test_alone_gunicorn_is_stalled_by_slow_clients(stack):
    """The problem nginx solves: a slow client holds a gunicorn thread while it trickles,
    so requests that reach a worker whose threads are all held wait (here, over 3 s)."""
    with slow_clients(stack.gunicorn.port, "/sites"), ThreadPoolExecutor(8) as requests:
        statuses = list(
            requests.map(lambda _: timed_get(stack.gunicorn.port, "/sites", 3)[0], range(8))
        )
    assert 0 in statuses, "every request was answered within 3 s while slow clients trickled"
    wait_for(lambda: http_get(stack.gunicorn.url("/ready"))[0] == 200, 30, "gunicorn again")


def test_behind_nginx_slow_clients_leave_requests_under_100_ms(stack):
    """20 requests while 20 clients trickle: 19 of them under 100 ms, and none held for a
    second (a request stuck behind a trickling client waits seconds; one slow sample
    among 20 is the shared 2-core machine, where CI runs this beside the rest of the suite)."""
    timed_get(stack.nginx.port, "/api/v1/sites")  # opens the kept-alive upstream connection
    with slow_clients(stack.nginx.port, "/api/v1/sites") as clients:
        timings = [timed_get(stack.nginx.port, "/api/v1/sites") for _ in range(20)]
        trickling = clients.still_open()
    assert [status for status, _ in timings] == [200] * 20
    milliseconds = sorted(round(seconds * 1000) for _, seconds in timings)
    assert milliseconds[-2] < 100, f"{milliseconds} ms while {trickling} clients trickled"
    assert milliseconds[-1] < 1000, f"{milliseconds} ms while {trickling} clients trickled"
    assert trickling == SLOW_CLIENTS, "the measure ran while every slow client was connected"


def test_the_service_sees_the_prefix_and_nginx_hides_its_version(stack):
    status, headers, body = http_get(
        stack.nginx.url("/api/v1/api-spec.json"), {"Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["Server"] == "nginx"
    assert headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["servers"] == [{"url": "/api/v1"}]


def test_one_request_id_in_the_answer_and_both_access_logs(stack):
    status, headers, _ = http_get(stack.nginx.url("/api/v1/benchmarks"))
    assert status == 200
    request_id = headers["X-Request-ID"]

    def logged(lines: list[dict]) -> dict | None:
        return next((line for line in lines if line.get("request_id") == request_id), None)

    nginx_line = wait_for(lambda: logged(stack.nginx.access_log()), 5, "nginx's access line")
    assert (nginx_line["path"], nginx_line["status"]) == ("/api/v1/benchmarks", 200)
    gunicorn_line = wait_for(lambda: logged(stack.gunicorn.log_lines()), 5, "gunicorn's line")
    assert (gunicorn_line["path"], gunicorn_line["status"]) == ("/benchmarks", 200)
    assert gunicorn_line["remote_addr"] == "127.0.0.1"


def post_claiming(port: int, path: str, length: int) -> tuple[int, dict]:
    """Headers of a POST announcing ``length`` bytes of body, and nothing more: a proxy
    that checks the length answers at once."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(length))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_nginx_refuses_a_body_over_its_limit_in_the_error_shape(stack):
    status, body = post_claiming(stack.nginx.port, "/api/v1/results", 3 * 1024 * 1024)
    assert status == 413
    assert body["code"] == 413
    assert "smaller" in body["message"]


@pytest.mark.parametrize("path", ["/api/v1/metrics", "/elsewhere"])
def test_only_the_api_is_reachable(stack, path):
    status, _, body = http_get(stack.nginx.url(path))
    assert status == 404
    assert json.loads(body)["message"] == "No such path here; the API is under /api/v1/."


def post_body(port: int, path: str, body: bytes) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize(
    "path", ["/api/v1/latencies", "/api/v1/experiments/e1/loadgen", "/api/v1/artifacts"]
)
def test_latency_lists_and_artifacts_pass_nginx_past_its_general_cap(stack, path):
    """3 MiB pass nginx to the service where other routes stop at 2 MiB (nginx's 413).

    Without a token the service answers 401 before reading the body and gunicorn closes
    the connection; nginx, still sending the body, then sometimes reports 502 instead of
    passing the 401 on (seen in CI). Either way the body got past nginx's cap."""
    status, body = post_body(stack.nginx.port, path, b" " * (3 * 1024 * 1024))

    assert status in (401, 502), body
    assert body["code"] == status
