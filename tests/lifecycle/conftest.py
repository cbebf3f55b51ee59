"""Lifecycle tests: CloudFormation event sequences against the local IVS endpoint, under faults.

Hypothesis profiles for the stateful test (`test_lifecycle_stateful.py`):

- ``ci`` (used when no profile is chosen): small enough to run in well under two minutes.
- ``long``: many more and longer sequences, for a soak run::

      .venv/bin/pytest tests/lifecycle --hypothesis-profile=long

The profiles are registered here, not loaded: the stateful test reads the active profile
(``ci`` when it is Hypothesis' ``default``), so other suites' Hypothesis tests keep their own
defaults. Hypothesis loads ``--hypothesis-profile`` before collection, so name this directory
(or a file in it) on the command line when choosing ``long``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from unittest import mock

import pytest
from hypothesis import HealthCheck, settings

from ivs_replication_handler.ivs import IvsRealtime, make_client

if TYPE_CHECKING:
    from collections.abc import Callable

    from ivs_realtime_emulator import IvsRealtimeEmulator

LIFECYCLE_PROFILE = "ci"

settings.register_profile(
    "ci",
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "long",
    parent=settings.get_profile("ci"),
    max_examples=500,
    stateful_step_count=30,
)


def stateful_settings() -> settings:
    """The active profile for a state machine: ``ci`` unless one was chosen on the command line
    (Hypothesis' own ``default`` would run its 100 examples)."""
    name = settings.get_current_profile_name()
    return settings.get_profile(LIFECYCLE_PROFILE if name == "default" else name)


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


@pytest.fixture
def make_ivs(local_ivs: IvsRealtimeEmulator) -> Callable[[], IvsRealtime]:
    """Fresh short-timeout `IvsRealtime`s for the `local_ivs` endpoint (one per handler run)."""
    return lambda: short_timeout_ivs(local_ivs.endpoint_url)
