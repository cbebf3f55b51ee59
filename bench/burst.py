"""P3: 200 concurrent creates against StartParticipantReplication throttled to 20 calls/s.

CloudFormation creates a stack's custom resources in parallel; each create is its own handler
invocation (its own Lambda execution environment, so its own client) with a distinct
participant and destination, every participant publishing.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import Row, at_most, median
from bench.local_ivs import lambda_context, local_endpoint
from ivs_replication.testing.cloudformation import custom_resource_event
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.ivs import IvsRealtime, make_client

CREATES = 200
RATE_PER_SECOND = 20
BURST = 20
LAMBDA_TIMEOUT_SECONDS = 300.0
START = "StartParticipantReplication"


RUNS = 3


def measure() -> tuple[list[Row], dict[str, Any]]:
    bursts = [_burst() for _ in range(RUNS)]
    makespans = [b["makespan_seconds"] for b in bursts]
    succeeded = min(b["succeeded"] for b in bursts)
    active = min(b["active_replicas_after"] for b in bursts)
    makespan = median(makespans)
    ideal = CREATES / RATE_PER_SECOND
    start_calls = median([b["calls"].get(START, 0) for b in bursts])
    raw = {
        "runs": RUNS,
        "creates_per_run": CREATES,
        "makespan_seconds_median": makespan,
        "ideal_seconds": ideal,
        "ideal_note": f"{CREATES}/{RATE_PER_SECOND} s; the bucket starts full ({BURST}), "
        f"so the true floor is {(CREATES - BURST) / RATE_PER_SECOND:g} s",
        "bursts": bursts,
    }
    rows = [
        Row(
            "P3.success_rate",
            "P3 burst success rate",
            succeeded / CREATES,
            "100%",
            succeeded == CREATES and active == CREATES,
            f"{succeeded}/{CREATES} created and ACTIVE in the worst of {RUNS} runs",
        ),
        at_most(
            "P3.makespan",
            "P3 burst makespan / ideal",
            makespan / ideal,
            limit=1.3,
            detail=f"{makespan:.1f} s vs {ideal:g} s ideal (runs: "
            f"{', '.join(f'{m:.1f}' for m in makespans)}); ~{start_calls:.0f} Start calls/run",
        ),
    ]
    return rows, raw


def _burst() -> dict[str, Any]:
    with local_endpoint() as local:
        source = local.create_stage("source")
        events = []
        for index in range(CREATES):
            participant = f"host-{index:03d}"
            local.publish(source, participant)
            properties = {
                "SourceStageArn": source,
                "DestinationStageArn": local.create_stage(f"destination-{index:03d}"),
                "ParticipantId": participant,
            }
            events.append(custom_resource_event("Create", properties, logical_id=f"R{index}"))
        # Clients are built up front: creating boto3 clients from many threads at once is
        # not thread-safe (and in Lambda each invocation's environment has its own).
        handlers = [IvsRealtime(make_client()) for _ in events]
        local.faults.throttle(START, rate_per_second=RATE_PER_SECOND, burst=BURST)
        local.reset_calls()

        def create(index: int) -> tuple[bool, float]:
            context = lambda_context(LAMBDA_TIMEOUT_SECONDS)
            try:
                handle_event(events[index], context, handlers[index])
            except Exception:  # a failed create is a result to count
                return False, time.perf_counter()
            return True, time.perf_counter()

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=CREATES) as pool:
            outcomes = list(pool.map(create, range(CREATES)))
        makespan = time.perf_counter() - started
        calls = local.calls
        active = len(local.replicas(state="ACTIVE"))
    succeeded = sum(ok for ok, _ in outcomes)
    finish_times = sorted(done - started for _, done in outcomes)
    return {
        "succeeded": succeeded,
        "active_replicas_after": active,
        "makespan_seconds": makespan,
        "median_create_seconds": finish_times[len(finish_times) // 2],
        "calls": calls,
        "throttled_start_calls": calls.get(START, 0) - succeeded,
    }
