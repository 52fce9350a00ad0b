"""A real HTTP server on loopback that records what it receives: a webhook endpoint or a
healthchecks ping server for tests. It can answer with chosen statuses, slowly, or not
at all until it is closed (`hang`). A request is recorded when it arrives."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Sink:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []  # answered in turn, then 200
        self.delay = 0.0  # seconds before answering
        self.hang = False  # answer nothing until close()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with sink._lock:
                    status = sink.statuses.pop(0) if sink.statuses else 200
                    sink.received.append(
                        Received("POST", self.path, dict(self.headers.items()), body)
                    )
                    sink._arrived.notify_all()
                if sink.hang:
                    sink._released.wait()
                time.sleep(sink.delay)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The first `count` requests, waiting for them up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
            return list(self.received)

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()


def sink() -> Iterator[Sink]:
    server = Sink()
    try:
        yield server
    finally:
        server.close()
