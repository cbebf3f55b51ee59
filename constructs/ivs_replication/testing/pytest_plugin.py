"""Opt-in pytest fixtures for testing stacks locally: ``local_dynamodb`` (a local DynamoDB
endpoint, for follow mode's registry); ``local_ivs`` comes with the emulator's own plugin.

Not registered automatically: add ``pytest_plugins = ["ivs_replication.testing.pytest_plugin"]``
to your ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ivs_realtime_emulator.pytest_plugin import no_real_account
from ivs_replication.testing.dynamodb import LocalDynamoDB


@pytest.fixture(name="local_dynamodb")
def local_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalDynamoDB]:
    """A started ``LocalDynamoDB`` (moto) that boto3 clients reach through the environment.

    Sets ``AWS_ENDPOINT_URL_DYNAMODB``, dummy credentials and us-east-1, unsets
    ``AWS_PROFILE``; afterwards stops the server (its tables go with it).
    """
    server = LocalDynamoDB().start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.endpoint_url)
        no_real_account(monkeypatch)
        yield server
    finally:
        server.stop()
