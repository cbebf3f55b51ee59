"""P5: follow mode at IVS's real rate, through the real reconciler.

- Fan-out: one publisher followed into 100 destinations; from its "Participant Published" event
  to all 100 ACTIVE, with StartParticipantReplication throttled to 5/s. The ideal is one List
  plus 100 Starts at the rate, the throttle's first 5 passing at once: (100 - 5) / 5 = 19 s.
- Sweep: 480 declarations (48 publishers, in 4 source stages as a stage holds 12 publishers,
  each into 10 stages of its own), none running, Start and List both throttled to 5/s: the
  sweep must start them all within one reconciler invocation (its 5-minute timeout).

The registry is a real DynamoDB table on moto's server; the reconciler paces its own calls at
its default 5 calls per second per operation.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from bench.common import Row
from bench.local_ivs import (
    QUIET_METRICS,
    lambda_context,
    local_endpoint,
    require_room,
    source_stages,
)
from ivs_replication.testing import LocalDynamoDB
from ivs_replication_handler import contract as c
from ivs_replication_handler.ivs import IvsRealtime, make_client, paced
from ivs_replication_handler.reconciler import handle_event
from ivs_replication_handler.registry import Registry
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.settings import IvsSettings
from ivs_replication_handler.spec import ReplicationKey, ReplicationSpec

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator

RATE_PER_SECOND = 5.0
# The throttle's bucket: it starts full, so this many calls pass before the rate applies.
THROTTLE_BURST = int(RATE_PER_SECOND)
FAN_OUT_DESTINATIONS = 100
SWEEP_PUBLISHERS = 48
SWEEP_DESTINATIONS_EACH = 10
RECONCILER_TIMEOUT_SECONDS = float(c.RECONCILER_TIMEOUT_SECONDS)
START = "StartParticipantReplication"
LIST = "ListParticipantReplicas"

# The fan-out's makespan target, as a ratio to the ideal.
FAN_OUT_LIMIT = 1.2


def measure() -> tuple[list[Row], dict[str, Any]]:
    with LocalDynamoDB() as dynamodb:
        fan_out = _fan_out(dynamodb)
        sweep = _sweep(dynamodb)
    ideal = (FAN_OUT_DESTINATIONS - THROTTLE_BURST) / RATE_PER_SECOND
    makespan = fan_out["seconds"]
    rows = [
        Row(
            "P5.fan_out",
            f"P5 follow fan-out into {FAN_OUT_DESTINATIONS}",
            makespan / ideal,
            "<= 1.2x, all ACTIVE",
            # Fast is no use unless every destination runs.
            makespan / ideal <= FAN_OUT_LIMIT and fan_out["active"] == FAN_OUT_DESTINATIONS,
            f"{makespan:.1f} s vs {ideal:g} s ideal; {fan_out['active']}/"
            f"{FAN_OUT_DESTINATIONS} ACTIVE; {fan_out['calls'].get(START, 0)} Starts",
        ),
        Row(
            "P5.sweep",
            f"P5 sweep of {SWEEP_PUBLISHERS * SWEEP_DESTINATIONS_EACH} declarations",
            sweep["seconds"] / RECONCILER_TIMEOUT_SECONDS,
            "all ACTIVE in one invocation",
            sweep["active"] == SWEEP_PUBLISHERS * SWEEP_DESTINATIONS_EACH and sweep["succeeded"],
            f"{sweep['seconds']:.1f} s of the reconciler's {RECONCILER_TIMEOUT_SECONDS:.0f} s; "
            f"{sweep['active']} ACTIVE; {sweep['calls'].get(LIST, 0)} Lists, "
            f"{sweep['calls'].get(START, 0)} Starts",
        ),
    ]
    rows[0].raw["plot_makespan"] = {"label": "P5 fan-out", "measured": makespan, "ideal": ideal}
    return rows, {"fan_out": fan_out, "sweep": sweep}


def _fan_out(dynamodb: LocalDynamoDB) -> dict[str, Any]:
    with local_endpoint() as local:
        registry = _registry(dynamodb, "bench-fan-out")
        source = local.create_stage("source")
        _declare(local, registry, source, "encoder", FAN_OUT_DESTINATIONS)
        local.faults.throttle(START, rate_per_second=RATE_PER_SECOND, burst=THROTTLE_BURST)
        session = local.publish(source, "encoder")
        local.reset_calls()
        started = time.perf_counter()
        handle_event(
            published_event(source, "encoder", session),
            lambda_context(),
            _ivs(),
            registry,
            metrics=QUIET_METRICS,
        )
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "active": len(local.replicas(state="ACTIVE")),
            "calls": local.calls,
        }


def _sweep(dynamodb: LocalDynamoDB) -> dict[str, Any]:
    with local_endpoint() as local:
        registry = _registry(dynamodb, "bench-sweep")
        # A stage holds 12 publishers: the 48 publish in 4 source stages.
        participants = [f"publisher-{index:02d}" for index in range(SWEEP_PUBLISHERS)]
        sources = source_stages(local, participants)
        replicas = []
        for participant in participants:
            destinations = _declare(
                local, registry, sources[participant], participant, SWEEP_DESTINATIONS_EACH
            )
            replicas += [(destination, participant) for destination in destinations]
            local.publish(sources[participant], participant)
        require_room(local, replicas)
        for operation in (START, LIST):
            local.faults.throttle(operation, rate_per_second=RATE_PER_SECOND, burst=THROTTLE_BURST)
        local.reset_calls()
        started = time.perf_counter()
        try:
            handle_event(
                {c.SWEEP_INPUT_KEY: True},
                lambda_context(RECONCILER_TIMEOUT_SECONDS),
                _ivs(),
                registry,
                metrics=QUIET_METRICS,
            )
            succeeded = True
        except Exception:  # a failed sweep is a result to report
            succeeded = False
        return {
            "seconds": time.perf_counter() - started,
            "succeeded": succeeded,
            "active": len(local.replicas(state="ACTIVE")),
            "calls": local.calls,
        }


def _ivs() -> IvsRealtime:
    # As the deployed reconciler is, at the rate the throttles allow.
    return paced(IvsRealtime(make_client(), settings=IvsSettings(calls_per_second=RATE_PER_SECOND)))


def _registry(dynamodb: LocalDynamoDB, table: str) -> Registry:
    return Registry(dynamodb.create_registry_table(table), client=dynamodb.client())


def _declare(
    local: IvsRealtimeEmulator, registry: Registry, source: str, participant: str, count: int
) -> list[str]:
    """Declare `participant` of `source` into `count` new destination stages; return them."""
    deadline = Deadline(lambda: 60_000)
    destinations = []
    for index in range(count):
        destination = local.create_stage(f"{participant}-into-{index:03d}")
        key = ReplicationKey(source, destination, participant)
        spec = ReplicationSpec(key, when_not_publishing=c.MODE_FOLLOW)
        registry.declare(spec, f"Replication{index}", deadline)
        destinations.append(destination)
    return destinations


def published_event(stage: str, participant: str, session: str) -> dict[str, Any]:
    """The "Participant Published" event EventBridge delivers for `participant`."""
    return {
        "source": c.EVENT_SOURCE,
        "detail-type": c.EVENT_DETAIL_TYPE,
        "resources": [stage],
        "detail": {
            "event_name": c.EVENT_PARTICIPANT_PUBLISHED,
            "participant_id": participant,
            "session_id": session,
        },
    }
