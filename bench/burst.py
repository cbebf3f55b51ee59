"""P3: a burst of concurrent creates against StartParticipantReplication throttled to a rate.

CloudFormation creates a stack's custom resources in parallel; each create is its own handler
invocation (its own Lambda execution environment, so its own client, sharing nothing) with a
distinct participant and destination, every participant publishing. A stage holds at most 12
publishers (IVS's fixed quota, which the emulator enforces), so the hosts publish in
ceil(N / 12) source stages: 40 for 480, 17 for 200. The handler knows how many
replications its stack holds (`IVS_REPLICATION_STACK_REPLICATIONS`, set by the construct).

Two scenarios: 480 creates at 5 Start/s (IVS documents about 5 TPS for its stage APIs; the
target), and 200 at 20/s (the earlier row, for comparison).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.common import Row, at_most, median
from bench.local_ivs import (
    QUIET_METRICS,
    lambda_context,
    local_endpoint,
    require_room,
    source_stages,
)
from ivs_replication.testing.cloudformation import custom_resource_event
from ivs_replication_handler import contract as c
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.ivs import IvsRealtime, make_client
from ivs_replication_handler.settings import IvsSettings

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator

LAMBDA_TIMEOUT_SECONDS = float(c.REQUEST_BUDGET_SECONDS)
START = "StartParticipantReplication"


@dataclass(frozen=True)
class Scenario:
    key: str
    creates: int
    rate_per_second: float
    burst: int
    runs: int
    makespan_limit: float
    start_calls_limit: float | None

    @property
    def ideal_seconds(self) -> float:
        # The throttle's bucket starts full: its first `burst` Starts pass at once, the rest
        # at the rate. (The N / rate leaves the burst out, flattering the ratio.)
        return (self.creates - self.burst) / self.rate_per_second


SCENARIOS = (
    Scenario("P3", 480, 5.0, 5, runs=1, makespan_limit=1.2, start_calls_limit=3.0),
    Scenario("P3.fast", 200, 20.0, 20, runs=3, makespan_limit=1.3, start_calls_limit=None),
)


def measure() -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    for scenario in SCENARIOS:
        scenario_rows, scenario_raw = _measure(scenario)
        rows += scenario_rows
        raw[scenario.key] = scenario_raw
    return rows, raw


def _measure(scenario: Scenario) -> tuple[list[Row], dict[str, Any]]:
    bursts = [_burst(scenario) for _ in range(scenario.runs)]
    creates, ideal = scenario.creates, scenario.ideal_seconds
    makespan = median([b["makespan_seconds"] for b in bursts])
    succeeded = min(b["succeeded"] for b in bursts)
    active = min(b["active_replicas_after"] for b in bursts)
    start_calls = median([b["calls"].get(START, 0) for b in bursts])
    longest = max(b["longest_create_seconds"] for b in bursts)
    name = f"{creates} @ {scenario.rate_per_second:g}/s"
    raw = {
        "runs": scenario.runs,
        "creates_per_run": creates,
        "makespan_seconds_median": makespan,
        "ideal_seconds": ideal,
        "start_calls_per_create": start_calls / creates,
        "longest_create_seconds": longest,
        "bursts": bursts,
    }
    rows = [
        Row(
            f"{scenario.key}.success_rate",
            f"P3 burst {name}: success",
            succeeded / creates,
            "100%, none past budget",
            succeeded == creates and active == creates and longest <= LAMBDA_TIMEOUT_SECONDS,
            f"{succeeded}/{creates} created and ACTIVE (worst of {scenario.runs}); longest "
            f"create {longest:.1f} s of its {LAMBDA_TIMEOUT_SECONDS:.0f} s budget",
        ),
        at_most(
            f"{scenario.key}.makespan",
            f"P3 burst {name}: makespan",
            makespan / ideal,
            limit=scenario.makespan_limit,
            detail=f"{makespan:.1f} s vs {ideal:g} s ideal",
        ),
    ]
    rows[-1].raw["plot_makespan"] = {"label": f"P3 {name}", "measured": makespan, "ideal": ideal}
    if scenario.start_calls_limit is not None:
        rows.append(
            Row(
                f"{scenario.key}.start_calls",
                f"P3 burst {name}: Start calls/create",
                start_calls / creates,
                f"<= {scenario.start_calls_limit:g}",
                start_calls / creates <= scenario.start_calls_limit,
                f"{start_calls:.0f} Start calls for {creates} creates "
                f"({start_calls - creates:.0f} beyond one each)",
            )
        )
    return rows, raw


def _burst(scenario: Scenario) -> dict[str, Any]:
    # As the construct sets them, and each function reads them at its cold start: the stack's
    # size, and the rate it was told IVS allows.
    settings = IvsSettings.from_environment(
        {
            c.ENV_STACK_REPLICATIONS: str(scenario.creates),
            c.ENV_IVS_CALLS_PER_SECOND: f"{scenario.rate_per_second:g}",
        }
    )
    with local_endpoint() as local:
        events, handlers = _creates(local, scenario.creates, settings)
        local.faults.throttle(START, rate_per_second=scenario.rate_per_second, burst=scenario.burst)
        local.reset_calls()
        outcomes, makespan = _run_all(events, handlers)
        calls = local.calls
        active = len(local.replicas(state="ACTIVE"))
    return {
        "succeeded": sum(ok for ok, _ in outcomes),
        "active_replicas_after": active,
        "makespan_seconds": makespan,
        "longest_create_seconds": max(seconds for _, seconds in outcomes),
        "calls": calls,
    }


def _creates(
    local: IvsRealtimeEmulator, count: int, settings: IvsSettings
) -> tuple[list[dict[str, object]], list[IvsRealtime]]:
    # Each host publishes in one of ceil(count / 12) source stages (a stage holds 12
    # publishers) and is replicated into a destination of its own.
    participants = [f"host-{index:03d}" for index in range(count)]
    sources = source_stages(local, participants)
    events = []
    replicas = []
    for index, participant in enumerate(participants):
        local.publish(sources[participant], participant)
        destination = local.create_stage(f"destination-{index:03d}")
        properties = {
            "SourceStageArn": sources[participant],
            "DestinationStageArn": destination,
            "ParticipantId": participant,
        }
        replicas.append((destination, participant))
        events.append(custom_resource_event("Create", properties, logical_id=f"R{index}"))
    require_room(local, replicas)
    # Clients are built up front: creating boto3 clients from many threads at once is not
    # thread-safe (and in Lambda each invocation's environment has its own).
    return events, [IvsRealtime(make_client(), settings=settings) for _ in events]


def _run_all(
    events: list[dict[str, object]], handlers: list[IvsRealtime]
) -> tuple[list[tuple[bool, float]], float]:
    def create(index: int) -> tuple[bool, float]:
        started = time.perf_counter()
        try:
            handle_event(
                events[index],
                lambda_context(LAMBDA_TIMEOUT_SECONDS),
                handlers[index],
                metrics=QUIET_METRICS,
            )
        except Exception:  # a failed create is a result to count
            return False, time.perf_counter() - started
        return True, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(events)) as pool:
        outcomes = list(pool.map(create, range(len(events))))
    return outcomes, time.perf_counter() - started
