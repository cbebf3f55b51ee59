"""Hypothesis profiles for the state machines (`tests/races/test_*_stateful.py`):

- ``ci`` (used when no profile is chosen): small enough to run in well under two minutes;
  the guess service profile gets all of its examples, every other service profile of the
  emulator a quarter of them (``ci`` is per service profile, see ``stateful_settings``).
- ``long``: many more and longer sequences, for every service profile, for a soak run::

      .venv/bin/pytest -n 2 tests/races --hypothesis-profile=long

The profiles are registered (by the root conftest, so ``--hypothesis-profile`` resolves on any
path), not loaded: the state machines read the active profile (``ci`` when it is Hypothesis'
``default``), so other suites' Hypothesis tests keep their own defaults.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings

from ivs_replication_handler.metrics import ReplicationMetrics

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


class RecordedRuns(ReplicationMetrics):
    """Metrics that keep each reconciler run's report, the failed declarations included,
    which a failed run's ReconcileError only names in its text."""

    last: Any = None

    def record_reconcile(self, report: Any) -> None:
        self.last = report
