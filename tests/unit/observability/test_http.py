"""The HTTP endpoint: bounded against slow and many clients, bind address as set, liveness apart."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry

from processor.observability.http import HealthEndpoint


def endpoint(**kwargs) -> HealthEndpoint:
    return HealthEndpoint(0, CollectorRegistry(), lambda: (True, "ready"), host="127.0.0.1", **kwargs).start()


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_trickling_client_is_dropped_after_the_read_timeout():
    server = endpoint(read_timeout_s=0.5)
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as slow:
            slow.sendall(b"GET /metr")  # and nothing more
            slow.settimeout(5)
            started = time.monotonic()
            assert slow.recv(100) == b""  # closed by the server
            assert time.monotonic() - started < 3
    finally:
        server.stop()


def test_connections_past_the_cap_are_refused_at_once_and_the_cap_frees_up():
    server = endpoint(max_connections=4, read_timeout_s=2)
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(4)]
    try:
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", server.port)) as extra:
            extra.settimeout(2)
            assert extra.recv(100).startswith(b"HTTP/1.1 503")
        threads = threading.active_count()
        assert threads < 4 + 10
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    assert get(server.port, "/readyz") == (200, "ready\n")
    server.stop()


def test_bind_address_is_the_one_set():
    server = endpoint()
    try:
        assert server.server.server_address[0] == "127.0.0.1"
    finally:
        server.stop()


@pytest.mark.parametrize(("alive", "status"), [(True, 200), (False, 503)])
def test_healthz_reports_liveness(alive, status):
    server = HealthEndpoint(
        0, CollectorRegistry(), lambda: (True, "ready"), lambda: (alive, "feed stalled"), host="127.0.0.1"
    ).start()
    try:
        assert get(server.port, "/healthz")[0] == status
    finally:
        server.stop()
