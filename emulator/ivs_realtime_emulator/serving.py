"""Serving a local endpoint on a daemon thread: start, endpoint URL and stop, shared by
``IvsRealtimeEmulator`` and ``LocalDynamoDB``."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from http.server import HTTPServer

POLL_INTERVAL_SECONDS: Final = 0.05
STOP_TIMEOUT_SECONDS: Final = 5.0


def serve_in_thread(server: HTTPServer, name: str) -> threading.Thread:
    """Start ``server.serve_forever`` in a daemon thread called ``name``; returns it."""
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": POLL_INTERVAL_SECONDS},
        name=name,
        daemon=True,
    )
    thread.start()
    return thread


def endpoint_url_of(server: HTTPServer) -> str:
    """``http://<host>:<port>`` of the bound server."""
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


def stop_serving(server: HTTPServer, thread: threading.Thread | None) -> None:
    """Stop ``serve_forever``, close the socket and wait (5 s at most) for the thread."""
    server.shutdown()
    server.server_close()
    if thread is not None:
        thread.join(STOP_TIMEOUT_SECONDS)
