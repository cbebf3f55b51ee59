"""Lifecycle tests: CloudFormation event sequences against the local IVS endpoint, under faults.

Hypothesis profiles for the stateful test (`test_lifecycle_stateful.py`):

- ``ci`` (used when no profile is chosen): small enough to run in well under two minutes;
  the guess service profile gets all of its examples, every other service profile of the
  emulator a quarter of them (``ci`` is per service profile, see ``stateful_settings``).
- ``long``: many more and longer sequences, for every service profile, for a soak run::

      .venv/bin/pytest tests/lifecycle --hypothesis-profile=long

The profiles are registered here, not loaded: the stateful test reads the active profile
(``ci`` when it is Hypothesis' ``default``), so other suites' Hypothesis tests keep their own
defaults. Hypothesis loads ``--hypothesis-profile`` before collection, so name this directory
(or a file in it) on the command line when choosing ``long``.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING
from unittest import mock

import pytest
from hypothesis import HealthCheck, settings

from ivs_realtime_emulator import SystemClock
from ivs_replication_handler.ivs import IvsRealtime, make_client
from tests.service_profiles import local_ivs, service_profile

if TYPE_CHECKING:
    from collections.abc import Callable

    from ivs_realtime_emulator import IvsRealtimeEmulator

LIFECYCLE_PROFILE = "ci"
# The other service profiles share the guess's code paths but for their answers: fewer
# examples each keep CI's time in budget; `long` runs them all in full.
VARIANT_SHARE = 4

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


def stateful_settings(service_profile: str = "guess") -> settings:
    """The active profile for a state machine: ``ci`` unless one was chosen on the command line
    (Hypothesis' own ``default`` would run its 100 examples); under ``ci``, service profiles
    other than the guess run a share of its examples."""
    name = settings.get_current_profile_name()
    chosen = settings.get_profile(LIFECYCLE_PROFILE if name == "default" else name)
    if name in {"default", LIFECYCLE_PROFILE} and service_profile != "guess":
        return settings(chosen, max_examples=max(1, chosen.max_examples // VARIANT_SHARE))
    return chosen


# Short client timeouts, and an attempt budget that matches them: an attempt is only started
# when it can time out (connect + read) before the deadline.
CONNECT_TIMEOUT_SECONDS = 1
READ_TIMEOUT_SECONDS = 2
ATTEMPT_BUDGET_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS


__all__ = ["local_ivs", "service_profile"]  # fixtures: every test here runs under each profile


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
