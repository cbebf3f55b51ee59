"""A burst of creates against a throttled StartParticipantReplication: CloudFormation creates
many custom resources of one stack in parallel, and every one must still succeed."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ivs_replication.testing.cloudformation import LocalLambdaContext, custom_resource_event
from ivs_replication_handler.handler import handle_event
from tests.publishing import publish_for_a_while

START = "StartParticipantReplication"
REPLICATIONS = 50
CONTEXT_TIMEOUT_SECONDS = 60.0


def test_fifty_concurrent_creates_all_succeed_under_throttling(local_ivs, make_ivs):
    # A stage holds at most 12 publishers: the 50 hosts publish in 5 source stages.
    sources = [local_ivs.create_stage(f"source-{n}") for n in range(-(-REPLICATIONS // 12))]
    events = []
    for index in range(REPLICATIONS):
        source = sources[index // 12]
        participant = f"host-{index:02d}"
        publish_for_a_while(local_ivs, source, participant)
        props = {
            "SourceStageArn": source,
            "DestinationStageArn": local_ivs.create_stage(f"destination-{index:02d}"),
            "ParticipantId": participant,
        }
        events.append(custom_resource_event("Create", props, logical_id=f"Replication{index}"))
    # One handler (and client) per invocation, built up front: creating boto3 clients from
    # many threads at once is not thread-safe.
    handlers = [make_ivs() for _ in events]
    local_ivs.faults.throttle(START, rate_per_second=10, burst=10)

    def create(index: int) -> tuple[dict[str, object], float, int]:
        context = LocalLambdaContext(timeout_seconds=CONTEXT_TIMEOUT_SECONDS)
        started = time.monotonic()
        result = handle_event(events[index], context, handlers[index])
        return result, time.monotonic() - started, context.get_remaining_time_in_millis()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=REPLICATIONS) as pool:
        outcomes = list(pool.map(create, range(REPLICATIONS)))
    makespan = time.monotonic() - started

    slowest = max(elapsed for _, elapsed, _ in outcomes)
    print(
        f"{REPLICATIONS} creates in {makespan:.1f} s (slowest {slowest:.1f} s), "
        f"{local_ivs.calls[START]} Start calls"
    )
    for (result, elapsed, remaining_ms), event in zip(outcomes, events, strict=True):
        props = event["ResourceProperties"]
        assert result["PhysicalResourceId"] == (
            f"{props['SourceStageArn']}|{props['DestinationStageArn']}|{props['ParticipantId']}"
        )
        assert elapsed < CONTEXT_TIMEOUT_SECONDS
        assert remaining_ms > 0
    assert local_ivs.calls[START] > REPLICATIONS, "the burst was never throttled"
    active = local_ivs.replicas(state="ACTIVE")
    assert len(active) == REPLICATIONS
    assert {r.destination_stage_arn for r in active} == {
        e["ResourceProperties"]["DestinationStageArn"] for e in events
    }
