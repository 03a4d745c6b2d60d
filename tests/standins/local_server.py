"""A local server on 127.0.0.1 (a free port) in a daemon thread: what the stand-ins of Slack's
and Google's APIs are served by. HTTP by default; a subclass may serve another protocol (the
Socket Mode stand-in serves websockets) by overriding ``_listen``."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, Self


class Listening(Protocol):
    """What the lifecycle needs of a server library: serve until shut down from another
    thread, and ``shutdown`` closes the listening socket too."""

    def serve_forever(self) -> None: ...

    def shutdown(self) -> None: ...


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    standin: LocalServer  # what the handlers serve, set by LocalServer._listen

    def serve_forever(self, poll_interval: float = 0.05) -> None:
        # A short poll so that stop() does not wait out the default half second.
        super().serve_forever(poll_interval)

    def shutdown(self) -> None:
        super().shutdown()
        self.server_close()


class LocalServer:
    """Serves ``handler`` (which finds this object as ``self.server.standin``) while started."""

    handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self._server: Listening | None = None
        self._port = 0
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Listen on 127.0.0.1 at a free port, serving from a daemon thread."""
        if self._server is not None:
            return self
        self._before_start()
        self._server, self._port = self._listen()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._before_stop()
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def _listen(self) -> tuple[Listening, int]:
        """A server bound to 127.0.0.1 at a free port, not yet serving, and that port."""
        server = _HttpServer(("127.0.0.1", 0), self.handler)
        server.standin = self
        return server, server.server_address[1]

    def _before_start(self) -> None:
        """Hook for state a run needs fresh."""

    def _before_stop(self) -> None:
        """Hook to wake what would keep the server from stopping."""


def standin_of(handler: BaseHTTPRequestHandler) -> Any:
    """The stand-in serving ``handler``'s request (a subclass of LocalServer, so Any here: the
    handler annotates what it is)."""
    server = handler.server
    assert isinstance(server, _HttpServer)
    return server.standin
