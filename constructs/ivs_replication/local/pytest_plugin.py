"""pytest plugin: the ``local_ivs`` fixture, a running local IVS real-time endpoint.

Registered as a ``pytest11`` entry point; imports nothing heavy until the fixture runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ivs_replication.local.server import LocalIvsRealtime

DUMMY_REGION = "us-east-1"


@pytest.fixture(name="local_ivs")
def local_ivs(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalIvsRealtime]:
    """A started ``LocalIvsRealtime`` that boto3 clients reach through the environment.

    Sets ``AWS_ENDPOINT_URL_IVS_REALTIME``, dummy credentials and us-east-1, unsets
    ``AWS_PROFILE`` (so no real account can be reached), and stops the server afterwards.
    """
    from ivs_replication.local.server import LocalIvsRealtime  # noqa: PLC0415 - stay light

    server = LocalIvsRealtime().start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_IVS_REALTIME", server.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        monkeypatch.setenv("AWS_DEFAULT_REGION", DUMMY_REGION)
        monkeypatch.setenv("AWS_REGION", DUMMY_REGION)
        yield server
    finally:
        server.stop()
