"""The stacks every gate checks: the example app's and one with three replications."""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
from aws_cdk import aws_ivs as ivs

from example.stack import ReplicationExampleStack
from ivs_replication import ParticipantReplication, StageLike

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


STACKS: dict[str, Callable[[cdk.App], cdk.Stack]] = {
    "example": example_stack,
    "three-replications": three_replications_stack,
}
