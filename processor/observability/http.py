"""The HTTP endpoint: /metrics (Prometheus), /healthz (the process moves), /readyz (ready to process).

Nothing else is served: every other path is a 404, and no configuration is ever exposed. A client
gets ``read_timeout_s`` to send its request, and at most ``max_connections`` are served at once;
more are answered 503 and closed at once, so slow or many clients cannot pile up threads.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from processor.errors import SettingError

Check = Callable[[], tuple[bool, str]]
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbusy\n"


def _always_alive() -> tuple[bool, str]:
    return True, "ok"


class _BoundedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_connections: int) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET  # read by bind()
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(_BUSY)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class HealthEndpoint:
    def __init__(
        self,
        port: int,
        registry: CollectorRegistry,
        readiness: Check,
        liveness: Check = _always_alive,
        host: str = "0.0.0.0",
        max_connections: int = 16,
        read_timeout_s: float = 5.0,
    ) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            timeout = read_timeout_s  # applied to the socket: a trickling client is dropped

            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                elif self.path in ("/healthz", "/readyz"):
                    ok, why = endpoint.liveness() if self.path == "/healthz" else endpoint.readiness()
                    self._send(200 if ok else 503, f"{why}\n".encode())
                else:
                    self._send(404, b"not found\n")

            def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # scrapes every few seconds would drown the log

        self.readiness = readiness
        self.liveness = liveness
        try:
            self.server = _BoundedServer((host, port), Handler, max_connections)
        except OSError as exc:
            raise SettingError(
                f"metrics_port {port} on {host} cannot be served: {exc.strerror} "
                "(--metrics-port / SRGUARD_METRICS_PORT; 0 picks a free port)"
            ) from exc
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="srguard-http", daemon=True)

    def start(self) -> HealthEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
