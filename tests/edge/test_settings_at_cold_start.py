"""Both entry points read what the stack tells them from their environment once, when Lambda
imports them (a cold start): the handler's burst window, the reconciler's pace, the registry
table and the metrics' namespace and service."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ivs_replication_handler import contract as c

# A fresh interpreter is a cold start: the entry points' module-level setup runs with `env`.
COLD_START = """
import json
from ivs_replication_handler import handler, reconciler
print(json.dumps({
    "handler": [
        handler._ivs.settings.calls_per_second,
        handler._ivs.settings.burst_window_seconds,
        handler._ivs.pacer is None,
    ],
    "reconciler": [
        reconciler._ivs.settings.calls_per_second,
        reconciler._ivs.pacer.calls_per_second,
    ],
    "shared": [
        [
            module._registry.table_name,
            module._metrics.namespace,
            module._metrics.service,
            module._metrics.stack,
        ]
        for module in (handler, reconciler)
    ],
}))
"""


def cold_start(variables: dict[str, str]) -> dict[str, list[object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVS_REPLICATION_")}
    result = subprocess.run(
        [sys.executable, "-c", COLD_START],
        env={**env, **variables},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answer: dict[str, list[object]] = json.loads(result.stdout.splitlines()[-1])
    return answer


@pytest.mark.parametrize(
    ("variables", "rate", "window"),
    [
        ({c.ENV_IVS_CALLS_PER_SECOND: "2.5", c.ENV_STACK_REPLICATIONS: "40"}, 2.5, 1.1 * 40 / 2.5),
        ({c.ENV_IVS_CALLS_PER_SECOND: "fast", c.ENV_STACK_REPLICATIONS: "-1"}, 5.0, 0.0),
        ({}, 5.0, 0.0),
    ],
    ids=["set", "unusable", "unset"],
)
def test_the_entry_points_take_the_stacks_ivs_settings_from_their_environment(
    variables: dict[str, str], rate: float, window: float
) -> None:
    started = cold_start(variables)

    handler_rate, handler_window, handler_unpaced = started["handler"]
    assert handler_rate == rate
    assert handler_window == pytest.approx(window)
    assert handler_unpaced is True  # the handler's requests are single calls
    assert started["reconciler"] == [rate, rate]


def test_the_entry_points_take_the_registry_and_the_metrics_settings_from_their_environment():
    started = cold_start(
        {
            c.ENV_REGISTRY_TABLE: "Stack-Registry",
            c.ENV_METRICS_NAMESPACE: "Team/Live",
            c.ENV_METRICS_SERVICE: "live-video",
            c.ENV_STACK_NAME: "LiveStack",
        }
    )
    assert started["shared"] == [["Stack-Registry", "Team/Live", "live-video", "LiveStack"]] * 2


def test_without_those_variables_there_is_no_registry_and_the_metrics_keep_their_defaults():
    started = cold_start({})
    defaults = [None, c.METRICS_NAMESPACE_DEFAULT, c.METRICS_SERVICE_DEFAULT, None]
    assert started["shared"] == [defaults] * 2
