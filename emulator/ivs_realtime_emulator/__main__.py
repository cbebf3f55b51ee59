"""``python -m ivs_realtime_emulator serve [--host 127.0.0.1] [--port 0]``.

Prints the endpoint URL and an ``export`` hint, then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TYPE_CHECKING

from ivs_realtime_emulator.server import IvsRealtimeEmulator

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ivs_realtime_emulator",
        description="A local Amazon IVS real-time endpoint.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve until SIGINT or SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="Default: 127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="Default: 0 (a free port)")
    serve.add_argument(
        "--profile",
        default=None,
        help="a built-in service profile's name or a profile JSON file. Default: guess",
    )
    return parser


def serve(host: str, port: int, profile: str | None = None) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop_requested = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with IvsRealtimeEmulator(host=host, port=port, profile=profile) as server:
        url = server.endpoint_url
        print(url, flush=True)
        print(f"export AWS_ENDPOINT_URL_IVS_REALTIME={url}", flush=True)
        # wait() with a timeout keeps the main thread responsive to signals.
        while not stop_requested.wait(0.2):
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    arguments = _parser().parse_args(argv)
    if arguments.command == "serve":
        serve(arguments.host, arguments.port, arguments.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
