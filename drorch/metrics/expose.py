"""Where the metrics go: the exposition text, a node-exporter text file written
atomically, and an optional HTTP endpoint on loopback serving the latest families at
/metrics (any other path is 404).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app
from prometheus_client.metrics_core import Metric

from drorch.config.loader import MAIN_FILE
from drorch.config.model import MetricsSettings
from drorch.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

TEXTFILE_MODE = 0o644  # node-exporter runs as its own user and must read it
PATH = "/metrics"
NOT_FOUND = b"not found: drorch serves its metrics at /metrics\n"
RETRYING = "trying again at each publication, logged again only if the reason changes"


class _Families:
    """A collector returning the families it holds; swapped whole, never edited."""

    def __init__(self, families: Sequence[Metric] = ()) -> None:
        self.families = tuple(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def render(families: Sequence[Metric]) -> bytes:
    """The Prometheus text exposition format (0.0.4) of `families`."""
    return generate_latest(_Families(families))


def write_textfile(path: Path, text: bytes) -> None:
    """Replace `path` with `text` atomically: a temporary file in the same folder (hidden and
    not *.prom, so the textfile collector never reads it half written), fsync, rename."""
    folder = path.parent
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text)
            out.flush()
            os.fchmod(out.fileno(), TEXTFILE_MODE)
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)  # the rename itself survives a power loss
    finally:
        os.close(directory)


def only_metrics(app: WSGIApplication) -> WSGIApplication:
    """`app` at /metrics, and a short 404 at any other path."""

    def serve(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH:
            return app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [NOT_FOUND]

    return serve


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr: a scrape every 15 s is not news."""


def serve(host: str, port: int, app: WSGIApplication) -> tuple[WSGIServer, threading.Thread]:
    """Serve `app` on (host, port) from a thread of its own; OSError if it cannot bind."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]

    class Server(ThreadingMixIn, WSGIServer):
        address_family = family
        daemon_threads = True

    server = make_server(host, port, app, Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="drorch-metrics", daemon=True)
    thread.start()
    return server, thread


def split_listen(listen: str) -> tuple[str, int]:
    """("127.0.0.1", 9480) from "127.0.0.1:9480"; "[::1]:9480" gives "::1"."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class Publisher:
    """Publishes the families the daemon computes: rewrites `settings.textfile` and, when
    `settings.listen` is set, serves them on that loopback address at /metrics.

    The HTTP server starts here; an address that cannot be bound (in use, no such
    interface) is a ConfigError naming `metrics.listen`.
    """

    def __init__(self, settings: MetricsSettings) -> None:
        self.settings = settings
        self._latest = _Families()
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._textfile_problem: str | None = None  # logged once, until it changes or ends
        if settings.listen is None:
            return
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self._latest)
        host, port = split_listen(settings.listen)
        try:
            self._server, self._thread = serve(host, port, only_metrics(make_wsgi_app(registry)))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            message = f"cannot serve metrics on {settings.listen}: {reason}"
            raise ConfigError([ConfigIssue(MAIN_FILE, None, "metrics.listen", message)]) from exc
        log.info("serving metrics on http://%s/metrics", settings.listen)

    @property
    def address(self) -> tuple[str, int] | None:
        """The (host, port) the endpoint listens on (the real port when 0 was asked)."""
        if self._server is None:
            return None
        return str(self._server.server_address[0]), self._server.server_port

    def publish(self, families: Sequence[Metric]) -> None:
        """Serve `families` from now on and rewrite the text file with them.

        The endpoint is switched first, so a text file that cannot be written leaves the
        endpoint current. That failure is one log line, not one per publication (the
        daemon publishes every minute): logged again only when its reason changes, and
        its end is logged too. Nothing is raised for it.
        """
        self._latest.families = tuple(families)
        path = self.settings.textfile
        if path is None:
            return
        try:
            write_textfile(path, render(families))
        except OSError as exc:
            problem = f"cannot write the metrics text file {path}: {exc.strerror or exc}"
            if problem != self._textfile_problem:
                log.error("%s; %s", problem, RETRYING)
            self._textfile_problem = problem
            return
        if self._textfile_problem is not None:
            log.info("the metrics text file %s is written again", path)
            self._textfile_problem = None

    def close(self) -> None:
        """Stop the endpoint, if any; the text file stays (node-exporter keeps reading it)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
