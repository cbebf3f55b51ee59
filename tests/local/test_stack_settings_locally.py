"""A stack's own IVS settings reach the functions a TemplateDeployment runs: the pace
`pace_ivs_calls` writes into their environment, and the stack's replication count. Time is the
emulator's ManualClock, which only the functions' sleeps move, so every delay is exact."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ivs as ivs

from ivs_realtime_emulator import IvsRealtimeEmulator, ManualClock
from ivs_replication import ParticipantReplication, ReplicationProvider, WhenNotPublishing
from ivs_replication.testing import TemplateDeployment

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ivs_replication.testing import LocalDynamoDB

NO_BUNDLING = {"aws:cdk:bundling-stacks": []}
START = "StartParticipantReplication"
SIDES = ("Side0", "Side1", "Side2")


@pytest.fixture
def endpoint() -> Iterator[IvsRealtimeEmulator]:
    with IvsRealtimeEmulator(clock=ManualClock()) as server:
        yield server


def synthesize(build: Callable[[cdk.Stack], None], pace: float | None) -> dict[str, Any]:
    app = cdk.App(context=NO_BUNDLING)
    stack = cdk.Stack(app, "Paced")
    build(stack)
    if pace is not None:
        ReplicationProvider.of(stack).pace_ivs_calls(calls_per_second=pace)
    return app.synth().get_stack_by_name("Paced").template  # type: ignore[no-any-return]


def fan_out_template(pace: float | None) -> dict[str, Any]:
    """host-1 of Main followed into three side stages."""

    def build(stack: cdk.Stack) -> None:
        main = ivs.CfnStage(stack, "Main", name="main")
        for side in SIDES:
            ParticipantReplication(
                stack,
                f"HostInto{side}",
                source_stage=main,
                destination_stage=ivs.CfnStage(stack, side, name=side.lower()),
                participant_id="host-1",
                when_not_publishing=WhenNotPublishing.follow(),
            )

    return synthesize(build, pace)


@pytest.mark.parametrize(
    ("pace", "seconds"),
    [(None, 0.0), (1, 2.0), (0.5, 4.0)],
    ids=["default-5-per-second", "1-per-second", "1-every-2-seconds"],
)
def test_the_reconciler_starts_a_fan_out_at_the_pace_the_stack_sets(
    endpoint: IvsRealtimeEmulator,
    local_dynamodb: LocalDynamoDB,
    pace: float | None,
    seconds: float,
) -> None:
    """Three Starts at the default 5 per second fit the pacer's burst; at 1 per second the
    second and third wait a second each, at 0.5 per second two seconds each."""
    deployment = TemplateDeployment(fan_out_template(pace), ivs=endpoint, dynamodb=local_dynamodb)
    deployment.deploy()  # nobody publishes: the follow-mode Creates succeed
    [main] = [stage["arn"] for stage in endpoint.snapshot()["stages"] if stage["name"] == "main"]
    before = endpoint.clock.now()

    endpoint.publish(main, "host-1")  # its event reaches the reconciler

    assert [r.state for r in endpoint.replicas(participant_id="host-1")] == ["ACTIVE"] * 3
    assert endpoint.clock.now() - before == pytest.approx(seconds)
    deployment.delete()


def replications_template(stages: list[str], count: int, pace: float | None) -> dict[str, Any]:
    """`count` replications of host-1 from the first stage into the others (given as ARNs)."""

    def build(stack: cdk.Stack) -> None:
        for index in range(count):
            ParticipantReplication(
                stack,
                f"Host{index}",
                source_stage=stages[0],
                destination_stage=stages[index + 1],
                participant_id="host-1",
                when_not_publishing=WhenNotPublishing.fail(),
            )

    return synthesize(build, pace)


@pytest.mark.parametrize(
    ("count", "pace", "window"),
    [(4, 2, 1.1 * 4 / 2), (6, None, 1.1 * 6 / 5)],
    ids=["4-at-2-per-second", "6-at-the-default-pace"],
)
def test_a_throttled_create_spreads_its_retry_over_the_window_of_the_stacks_replications(
    endpoint: IvsRealtimeEmulator,
    monkeypatch: pytest.MonkeyPatch,
    count: int,
    pace: float | None,
    window: float,
) -> None:
    """The first throttle of a Start waits up to the time the stack's Starts need at its pace
    (a little wider), not the 0.5 s of a handler that knows no stack size."""
    stages = [endpoint.create_stage(f"stage-{index}") for index in range(count + 1)]
    endpoint.publish(stages[0], "host-1")
    deployment = TemplateDeployment(replications_template(stages, count, pace), ivs=endpoint)
    endpoint.faults.script_errors(START, [429])  # the first Start of the deployment
    monkeypatch.setattr(random, "uniform", lambda low, high: high)  # the far end of the wait
    before = endpoint.clock.now()

    deployment.deploy()

    assert endpoint.clock.now() - before == pytest.approx(window)
    assert len(endpoint.replicas(participant_id="host-1", state="ACTIVE")) == count
    deployment.delete()
