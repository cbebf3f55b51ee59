"""pytest plugin of the emulator: the ``local_ivs`` fixture, a local IVS real-time endpoint
(``serving`` gives one of another service profile).

Registered as a ``pytest11`` entry point by this distribution (``ivs-realtime-emulator``), so
it is loaded only where the emulator is installed; it imports nothing heavy until the fixture
runs.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ivs_realtime_emulator.profiles import ServiceProfile
    from ivs_realtime_emulator.server import IvsRealtimeEmulator

DUMMY_REGION = "us-east-1"


def no_real_account(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and us-east-1, no profile: nothing can reach a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", DUMMY_REGION)
    monkeypatch.setenv("AWS_REGION", DUMMY_REGION)


@contextmanager
def serving(
    monkeypatch: pytest.MonkeyPatch, profile: ServiceProfile | None = None
) -> Iterator[IvsRealtimeEmulator]:
    """A started ``IvsRealtimeEmulator`` (``profile`` Default: its guess) that boto3 clients
    reach through the environment, as ``local_ivs`` gives it; stopped on leaving."""
    from ivs_realtime_emulator.server import IvsRealtimeEmulator  # noqa: PLC0415 - stay light

    server = IvsRealtimeEmulator(profile=profile).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_IVS_REALTIME", server.endpoint_url)
        no_real_account(monkeypatch)
        yield server
    finally:
        server.stop()


@pytest.fixture(name="local_ivs")
def local_ivs(monkeypatch: pytest.MonkeyPatch) -> Iterator[IvsRealtimeEmulator]:
    """A started ``IvsRealtimeEmulator`` that boto3 clients reach through the environment.

    Sets ``AWS_ENDPOINT_URL_IVS_REALTIME``, dummy credentials and us-east-1, unsets
    ``AWS_PROFILE`` (so no real account can be reached), and stops the server afterwards.
    """
    with serving(monkeypatch) as server:
        yield server
