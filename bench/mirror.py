"""P6: StageMirror at IVS's real rate, in real time, through the real handler and reconciler.

- Create: 12 publishers live in a source stage; a StageMirror into 20 destinations is created.
  CloudFormation runs the 20 mirror destinations' Creates (``Custom::IvsStageMirror``) at
  once, each its own handler invocation (its own clients, sharing nothing), told the stack's
  mirror destination count as the construct tells it, so each paces its calls at its share of
  the rate. Timed from the Creates sent to the last one answered; then all 240 replications
  must be ACTIVE.
- Fan-out: one publisher's "Participant Published" event into the same 20 destinations; the
  reconciler (paced at the stack's rate) from the event to all 20 ACTIVE.

The local IVS limits every operation the scenarios call to 5 calls per second (a token bucket
of 5 that starts full, as in P3 and P5; IVS documents about 5 TPS for its stage APIs, and a
mirror's Creates read two stages each), in real time: no clock is compressed. The ideal counts
the bucket: its first 5 Starts pass at once, the rest at the rate, (N - 5) / 5 (the issue's
N / 5 leaves the burst out, flattering the ratio; the rows show that ratio too). The registry
is a real DynamoDB table on moto's server.
"""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.common import Row, median
from bench.fanout import published_event
from bench.local_ivs import QUIET_METRICS, lambda_context, local_endpoint
from bench.plot import MIRROR_RATIOS
from ivs_replication.testing import LocalDynamoDB
from ivs_replication.testing.cloudformation import custom_resource_event
from ivs_replication_handler import contract as c
from ivs_replication_handler.handler import handle_event as handle_request
from ivs_replication_handler.ivs import IvsRealtime, make_client, paced
from ivs_replication_handler.reconciler import handle_event as reconcile
from ivs_replication_handler.registry import Registry
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.settings import IvsSettings
from ivs_replication_handler.spec import parse_mirror_properties

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator

RATE_PER_SECOND = 5.0
# The throttle's bucket: it starts full, so this many calls pass before the rate applies.
THROTTLE_BURST = int(RATE_PER_SECOND)
START = "StartParticipantReplication"
THROTTLED = (START, "GetStage", "ListParticipants", "GetParticipant", "ListParticipantReplicas")
LAMBDA_TIMEOUT_SECONDS = float(c.REQUEST_BUDGET_SECONDS)
# The fan-out takes seconds, so it is run a few times (the median counts); the Creates once.
FAN_OUT_RUNS = 5

MAKESPAN_LIMIT = 1.2
START_CALLS_LIMIT = 1.5

# Each run its own registry table (one local DynamoDB serves them all).
_tables = itertools.count()


@dataclass(frozen=True)
class Scale:
    """How many publishers the source holds, and how many destinations the mirror has."""

    publishers: int = 12
    destinations: int = 20
    fan_out_runs: int = FAN_OUT_RUNS

    @property
    def replications(self) -> int:
        return self.publishers * self.destinations


def ideal_seconds(starts: int) -> float:
    """`starts` Starts through the throttle: its bucket's worth at once, the rest at the rate
    (at least one turn, so that a run small enough to fit the bucket still has a ratio)."""
    return max(1, starts - THROTTLE_BURST) / RATE_PER_SECOND


def measure(scale: Scale | None = None) -> tuple[list[Row], dict[str, Any]]:
    """The create and fan-out rows at `scale` (Default: the issue's 12 x 20), and the raw runs."""
    scale = scale or Scale()
    with LocalDynamoDB() as dynamodb:
        created = mirror_creates(dynamodb, scale)
        fanned = [fan_out(dynamodb, scale.destinations) for _ in range(scale.fan_out_runs)]
    rows = [*_create_rows(scale, created), _fan_out_row(scale.destinations, fanned)]
    return rows, {"scale": vars(scale), "create": created, "fan_out": fanned}


def _create_rows(scale: Scale, run: dict[str, Any]) -> list[Row]:
    total = scale.replications
    ideal = ideal_seconds(total)
    makespan = run["seconds"]
    calls = run["calls"]
    starts = calls.get(START, 0)
    name = f"P6 mirror create: {scale.publishers} x {scale.destinations}"
    all_active = run["active"] == total and run["succeeded"] == scale.destinations
    rows = [
        Row(
            "P6.create_makespan",
            f"{name}: makespan",
            makespan / ideal,
            f"<= {MAKESPAN_LIMIT:g}x, all ACTIVE",
            makespan / ideal <= MAKESPAN_LIMIT and all_active,
            f"{makespan:.1f} s vs {ideal:g} s ideal ({_without_burst(makespan, total)}); "
            f"{run['active']}/{total} ACTIVE; {run['succeeded']}/{scale.destinations} Creates "
            f"succeeded; {calls.get('GetStage', 0)} GetStage, "
            f"{calls.get('ListParticipants', 0)} ListParticipants",
        ),
        Row(
            "P6.create_start_calls",
            f"{name}: Start calls/replication",
            starts / total,
            f"<= {START_CALLS_LIMIT:g}",
            starts / total <= START_CALLS_LIMIT,
            f"{starts} Start calls for {total} replications ({starts - total} beyond one each)",
        ),
    ]
    rows[0].raw[MIRROR_RATIOS] = {
        "label": "create",
        "ratios": [makespan / ideal],
        "limit": MAKESPAN_LIMIT,
    }
    return rows


def _fan_out_row(destinations: int, runs: list[dict[str, Any]]) -> Row:
    ideal = ideal_seconds(destinations)
    seconds = median([run["seconds"] for run in runs])
    active = min(run["active"] for run in runs)
    starts = median([run["calls"].get(START, 0) for run in runs])
    row = Row(
        "P6.fan_out",
        f"P6 mirror fan-out: 1 publisher into {destinations}",
        seconds / ideal,
        f"<= {MAKESPAN_LIMIT:g}x, all ACTIVE",
        seconds / ideal <= MAKESPAN_LIMIT and active == destinations,
        f"{seconds:.2f} s vs {ideal:g} s ideal ({_without_burst(seconds, destinations)}); "
        f"{active}/{destinations} ACTIVE (worst of {len(runs)}); {starts:.0f} Starts",
    )
    row.raw[MIRROR_RATIOS] = {
        "label": "fan-out",
        "ratios": [run["seconds"] / ideal for run in runs],
        "limit": MAKESPAN_LIMIT,
    }
    return row


def _without_burst(seconds: float, starts: int) -> str:
    """The ratio to the issue's ideal, N / rate."""
    return f"{seconds * RATE_PER_SECOND / starts:.2f}x of {starts / RATE_PER_SECOND:g} s"


def _throttle(local: IvsRealtimeEmulator) -> None:
    for operation in THROTTLED:
        local.faults.throttle(operation, rate_per_second=RATE_PER_SECOND, burst=THROTTLE_BURST)


# --- the Creates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    """One mirror destination's Create, with what its own Lambda invocation would hold."""

    event: dict[str, object]
    ivs: IvsRealtime
    registry: Registry


def mirror_creates(dynamodb: LocalDynamoDB, scale: Scale) -> dict[str, Any]:
    """The mirror's destinations created at once while the source's publishers are live."""
    with local_endpoint() as local:
        table = dynamodb.create_registry_table(f"bench-mirror-create-{next(_tables)}")
        source = local.create_stage("source")
        for index in range(scale.publishers):
            local.publish(source, f"host-{index:02d}", user_id=f"user-{index:02d}")
        requests = _requests(local, dynamodb, table, source, scale.destinations)
        _throttle(local)
        local.reset_calls()
        outcomes, seconds = _run_all(requests)
        return {
            "seconds": seconds,
            "succeeded": sum(ok for ok, _ in outcomes),
            "longest_create_seconds": max(s for _, s in outcomes),
            "active": len(local.replicas(state="ACTIVE")),
            "calls": local.calls,
        }


def _requests(
    local: IvsRealtimeEmulator, dynamodb: LocalDynamoDB, table: str, source: str, count: int
) -> list[_Request]:
    # As the construct sets them, and each function reads them at its cold start.
    settings = IvsSettings.from_environment(
        {
            c.ENV_STACK_MIRROR_DESTINATIONS: str(count),
            c.ENV_IVS_CALLS_PER_SECOND: f"{RATE_PER_SECOND:g}",
        }
    )
    # Clients are built up front: creating boto3 clients from many threads at once is not
    # thread-safe (and in Lambda each invocation's environment has its own).
    return [
        _Request(
            custom_resource_event(
                "Create",
                _mirror_props(source, local.create_stage(f"audience-{index:02d}")),
                logical_id=f"MirrorDestination{index}",
                resource_type=c.MIRROR_RESOURCE_TYPE,
            ),
            IvsRealtime(make_client(), settings=settings),
            Registry(table, client=dynamodb.client()),
        )
        for index in range(count)
    ]


def _run_all(requests: list[_Request]) -> tuple[list[tuple[bool, float]], float]:
    def create(request: _Request) -> tuple[bool, float]:
        started = time.perf_counter()
        try:
            handle_request(
                request.event,
                lambda_context(LAMBDA_TIMEOUT_SECONDS),
                request.ivs,
                request.registry,
                metrics=QUIET_METRICS,
            )
        except Exception:  # a failed create is a result to count
            return False, time.perf_counter() - started
        return True, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        outcomes = list(pool.map(create, requests))
    return outcomes, time.perf_counter() - started


# --- the fan-out ---------------------------------------------------------------------------


def fan_out(dynamodb: LocalDynamoDB, destinations: int) -> dict[str, Any]:
    """A publisher's "Participant Published" event, reconciled into every mirror destination."""
    with local_endpoint() as local:
        registry = Registry(
            dynamodb.create_registry_table(f"bench-mirror-fan-out-{next(_tables)}"),
            client=dynamodb.client(),
        )
        source = local.create_stage("source")
        deadline = Deadline(lambda: 60_000)
        for index in range(destinations):
            props = _mirror_props(source, local.create_stage(f"audience-{index:02d}"))
            registry.declare(parse_mirror_properties(props), f"MirrorDestination{index}", deadline)
        session = local.publish(source, "host", user_id="host")
        _throttle(local)
        local.reset_calls()
        # As the deployed reconciler is: paced at the rate the stack states.
        ivs = paced(IvsRealtime(make_client(), settings=IvsSettings(RATE_PER_SECOND)))
        event = published_event(source, "host", session)
        started = time.perf_counter()
        reconcile(event, lambda_context(), ivs, registry, metrics=QUIET_METRICS)
        return {
            "seconds": time.perf_counter() - started,
            "active": len(local.replicas(state="ACTIVE")),
            "calls": local.calls,
        }


def _mirror_props(source: str, destination: str) -> dict[str, object]:
    """A StageMirror destination's properties as the construct writes them (every publisher)."""
    return {
        c.PROP_SOURCE_STAGE_ARN: source,
        c.PROP_DESTINATION_STAGE_ARN: destination,
        c.PROP_ATTRIBUTES: {},
        c.PROP_RECONNECT_WINDOW_SECONDS: 0,
    }
