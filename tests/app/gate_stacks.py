"""The stacks every gate checks: the example app's, one with three replications, and one with
every mode: an encoder followed into three stages, a waiting replication and a sweep."""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
from aws_cdk import aws_ivs as ivs
from aws_cdk import aws_sns as sns

from example.stack import ReplicationExampleStack
from ivs_replication import (
    IngestReplication,
    ParticipantReplication,
    ReplicationAlarms,
    ReplicationSweep,
    StageLike,
    WhenNotPublishing,
)

# Templates only: the Lambda asset's bundling is covered by tests/app.
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


def example_stack(app: cdk.App) -> cdk.Stack:
    return ReplicationExampleStack(app, "Example")


def three_replications_stack(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "ThreeReplications")
    main = ivs.CfnStage(stack, "Main", name="main")
    encoder = ivs.CfnIngestConfiguration(
        stack, "Encoder", stage_arn=main.attr_arn, ingest_protocol="RTMPS"
    )
    destinations: list[StageLike] = [
        ivs.CfnStage(stack, "Left", name="left"),
        "arn:aws:ivs:us-east-1:123456789012:stage/RightStage01",
        ivs.CfnStage(stack, "Bottom", name="bottom"),
    ]
    for index, destination in enumerate(destinations):
        ParticipantReplication(
            stack,
            f"Replication{index}",
            source_stage=main,
            destination_stage=destination,
            participant_id=encoder.attr_participant_id,
            attributes={"slot": str(index)},
            reconnect_window=cdk.Duration.seconds(60),
        )
    return stack


def every_mode_stack(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "EveryMode")
    main = ivs.CfnStage(stack, "Main", name="main")
    encoder = ivs.CfnIngestConfiguration(
        stack, "Encoder", stage_arn=main.attr_arn, ingest_protocol="RTMPS"
    )
    IngestReplication(
        stack,
        "EncoderEverywhere",
        ingest_configuration=encoder,
        destination_stages=[
            ivs.CfnStage(stack, "Left", name="left"),
            "arn:aws:ivs:us-east-1:123456789012:stage/RightStage01",
            ivs.CfnStage(stack, "Bottom", name="bottom"),
        ],
        reconnect_window=cdk.Duration.seconds(60),
    )
    ParticipantReplication(
        stack,
        "HostWhenReady",
        source_stage=main,
        destination_stage=ivs.CfnStage(stack, "Green", name="green"),
        participant_id="host-1",
        when_not_publishing=WhenNotPublishing.wait_up_to(cdk.Duration.minutes(9)),
    )
    ReplicationSweep(stack, "Sweep")
    return stack


def alarmed_stack(app: cdk.App) -> cdk.Stack:
    """Every mode, plus the opt-in alarms (to an operations topic of another stack) and the
    dashboard."""
    stack = every_mode_stack(app)
    topic = sns.Topic.from_topic_arn(stack, "Ops", "arn:aws:sns:us-east-1:123456789012:ops")
    ReplicationAlarms(stack, "Alarms", topic=topic, dashboard=True)
    return stack


STACKS: dict[str, Callable[[cdk.App], cdk.Stack]] = {
    "alarmed": alarmed_stack,
    "example": example_stack,
    "three-replications": three_replications_stack,
    "every-mode": every_mode_stack,
}
