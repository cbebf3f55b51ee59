"""The handler against the local IVS endpoint as a deployed one meets IVS: its own client
factory aimed through the environment, short timeouts with a matching attempt budget, and one
clock that Lambda's remaining time, the handler's backoff and the endpoint's throttling share.
"""

from __future__ import annotations

import atexit
import itertools
import os
import time
from typing import TYPE_CHECKING
from unittest import mock

import pytest

from ivs_realtime_emulator import SystemClock
from ivs_replication.testing.dynamodb import LocalDynamoDB
from ivs_replication_handler.ivs import IvsRealtime, make_client

if TYPE_CHECKING:
    from collections.abc import Callable

    from ivs_realtime_emulator import IvsRealtimeEmulator

# Short client timeouts, and an attempt budget that matches them: an attempt is only started
# when it can time out (connect + read) before the deadline.
CONNECT_TIMEOUT_SECONDS = 1
READ_TIMEOUT_SECONDS = 2
ATTEMPT_BUDGET_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS


def short_timeout_ivs(
    endpoint_url: str, *, sleep: Callable[[float], None] | None = None
) -> IvsRealtime:
    """An `IvsRealtime` over a client of the handler's own `make_client`, aimed at a local
    endpoint the way a deployed handler is aimed at IVS: through the environment."""
    with mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL_IVS_REALTIME": endpoint_url}):
        client = make_client(
            connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=READ_TIMEOUT_SECONDS
        )
    if sleep is None:
        return IvsRealtime(client, attempt_budget_seconds=ATTEMPT_BUDGET_SECONDS)
    return IvsRealtime(client, sleep=sleep, attempt_budget_seconds=ATTEMPT_BUDGET_SECONDS)


class CompressedTime:
    """One clock for a Lambda's remaining time, the handler's backoff and the endpoint's
    throttling, which share wall time in Lambda: a sleep counts in full on it but really
    waits `1 / speedup` of that, so throttled retries run fast without the handler seeing its
    deadline move less than its sleeps (or the service refill less than they waited).
    Default speedup: 4. Thread-safe (the endpoint reads it from its own thread)."""

    def __init__(self, speedup: float = 4.0) -> None:
        self._speedup = speedup
        self._clock = SystemClock()

    def now(self) -> float:
        return self._clock.now()

    def sleep(self, seconds: float) -> None:
        waited = seconds / self._speedup
        time.sleep(waited)
        self._clock.advance(seconds - waited)


@pytest.fixture
def make_ivs(local_ivs: IvsRealtimeEmulator) -> Callable[[], IvsRealtime]:
    """Fresh short-timeout `IvsRealtime`s for the `local_ivs` endpoint (one per handler run)."""
    return lambda: short_timeout_ivs(local_ivs.endpoint_url)


_dynamodb: LocalDynamoDB | None = None
_tables = itertools.count()


def registry_server() -> LocalDynamoDB:
    """One moto server for every state machine example of the process (starting one takes
    most of a second)."""
    global _dynamodb  # noqa: PLW0603 - a lazily started, process-wide test server
    if _dynamodb is None:
        _dynamodb = LocalDynamoDB().start()
        atexit.register(_dynamodb.stop)
    return _dynamodb


def new_registry_table(prefix: str) -> str:
    """A fresh registry table on `registry_server()`; delete it with `registry_server()`."""
    return registry_server().create_registry_table(f"{prefix}-{os.getpid()}-{next(_tables)}")
