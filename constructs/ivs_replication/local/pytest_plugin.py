"""pytest plugin: ``local_ivs`` (a local IVS real-time endpoint) and ``local_dynamodb`` (a local
DynamoDB endpoint, for follow mode's registry).

Registered as a ``pytest11`` entry point; imports nothing heavy until a fixture runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ivs_replication.local.dynamodb import LocalDynamoDB
    from ivs_replication.local.server import LocalIvsRealtime

DUMMY_REGION = "us-east-1"


def _no_real_account(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and us-east-1, no profile: nothing can reach a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", DUMMY_REGION)
    monkeypatch.setenv("AWS_REGION", DUMMY_REGION)


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
        _no_real_account(monkeypatch)
        yield server
    finally:
        server.stop()


@pytest.fixture(name="local_dynamodb")
def local_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalDynamoDB]:
    """A started ``LocalDynamoDB`` (moto) that boto3 clients reach through the environment.

    Sets ``AWS_ENDPOINT_URL_DYNAMODB``, dummy credentials and us-east-1, unsets
    ``AWS_PROFILE``; afterwards deletes the tables created meanwhile and stops the server.
    Needs moto (the ``local`` extra).
    """
    from ivs_replication.local.dynamodb import LocalDynamoDB  # noqa: PLC0415 - stay light

    server = LocalDynamoDB().start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.endpoint_url)
        _no_real_account(monkeypatch)
        yield server
    finally:
        server.stop()
