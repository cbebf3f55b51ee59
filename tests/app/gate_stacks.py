"""The stacks every gate checks: the example app's, one with three replications, one with
every mode (an encoder followed into three stages, a publisher fanned out, a stage mirrored, a
waiting replication and a sweep), the same with alarms; and the gate matrix: all of them beside the
README's organisation stack, in each users' configuration (tests/configurations.py).

Imports nothing of the test tools: the cdk-nag 2 gate builds the matrix in its own virtual
environment."""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
from aws_cdk import aws_ivs as ivs
from aws_cdk import aws_sns as sns

from example.stack import ReplicationExampleStack
from ivs_replication import (
    IngestReplication,
    ParticipantFanOut,
    ParticipantReplication,
    ReplicationAlarms,
    ReplicationSweep,
    StageLike,
    StageMirror,
    WhenNotPublishing,
)
from tests.configurations import NO_BUNDLING, Configuration
from tests.readme import organisation_stack_class

__all__ = ["NO_BUNDLING", "STACKS", "gate_matrix_app"]
# The stage every stack of a gate app is in (it gives them the configuration's environment).
MATRIX_STAGE = "Gate"


def example_stack(app: cdk.Stage) -> cdk.Stack:
    return ReplicationExampleStack(app, "Example")


def three_replications_stack(app: cdk.Stage) -> cdk.Stack:
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


def every_mode_stack(app: cdk.Stage) -> cdk.Stack:
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
    ParticipantFanOut(
        stack,
        "GuestEverywhere",
        source_stage=main,
        participant_id="guest-1",
        destination_stages=[ivs.CfnStage(stack, "Top", name="top")],
    )
    StageMirror(
        stack,
        "MainMirrored",
        source_stage=main,
        destination_stages=[ivs.CfnStage(stack, "Audience", name="audience")],
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


def alarmed_stack(app: cdk.Stage) -> cdk.Stack:
    """Every mode, plus the opt-in alarms (to an operations topic of another stack) and the
    dashboard."""
    stack = every_mode_stack(app)
    topic = sns.Topic.from_topic_arn(stack, "Ops", "arn:aws:sns:us-east-1:123456789012:ops")
    ReplicationAlarms(stack, "Alarms", topic=topic, dashboard=True)
    return stack


def organisation_stack(app: cdk.Stage) -> cdk.Stack:
    """The README's organisation example ("In your organisation"): `configure`d, alarmed,
    on a dashboard, with operator grants."""
    return organisation_stack_class()(app, "Governed")


STACKS: dict[str, Callable[[cdk.Stage], cdk.Stack]] = {
    "organisation": organisation_stack,
    "alarmed": alarmed_stack,
    "example": example_stack,
    "three-replications": three_replications_stack,
    "every-mode": every_mode_stack,
}


def gate_matrix_app(configuration: Configuration, outdir: str) -> cdk.App:
    """`configuration`'s app: every gate stack (``every-mode`` is within ``alarmed``) and the
    README's organisation stack, in a stage of the configuration's environment."""
    app = configuration.app(outdir)
    stage = cdk.Stage(app, MATRIX_STAGE, env=configuration.env)
    for name, build in STACKS.items():
        if name != "every-mode":
            build(stage)
    return app
