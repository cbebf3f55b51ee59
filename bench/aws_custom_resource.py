"""P1's baseline: a replication as a careful user writes it without this library.

`AwsCustomResource` calls StartParticipantReplication on create and
StopParticipantReplication on delete, with a physical id made of the three identity parts and
IAM scoped to the two stages. `ParticipantReplication` here takes the library's keyword
arguments, so the README's first example builds the same stack with it when only its import
line changes (`bench.cli_synth` copies this file next to that app). It imports nothing but the
CDK: the baseline's process loads no part of this project.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import custom_resources as cr
from constructs import Construct

if TYPE_CHECKING:
    from aws_cdk.interfaces.aws_ivs import IStageRef


def aws_custom_resource(
    scope: Construct,
    construct_id: str,
    *,
    source_arn: str,
    destination_arn: str,
    participant_id: str,
    attributes: Mapping[str, str] | None = None,
    reconnect_window_seconds: int = 0,
) -> cr.AwsCustomResource:
    """Start on create, Stop on delete. Default: no attributes, no reconnect window."""
    identity = {
        "sourceStageArn": source_arn,
        "destinationStageArn": destination_arn,
        "participantId": participant_id,
    }
    start: dict[str, object] = {**identity, "reconnectWindowSeconds": reconnect_window_seconds}
    if attributes:
        start["attributes"] = dict(attributes)
    return cr.AwsCustomResource(
        scope,
        construct_id,
        on_create=cr.AwsSdkCall(
            service="IVSRealTime",
            action="StartParticipantReplication",
            parameters=start,
            physical_resource_id=cr.PhysicalResourceId.of(
                cdk.Fn.join("|", [source_arn, destination_arn, participant_id])
            ),
        ),
        on_delete=cr.AwsSdkCall(
            service="IVSRealTime", action="StopParticipantReplication", parameters=identity
        ),
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=[source_arn, destination_arn]),
        install_latest_aws_sdk=False,
    )


class ParticipantReplication(Construct):
    """The library's construct's arguments, built as one `AwsCustomResource`.

    `when_not_publishing` is accepted and ignored: a Start on create either works or fails,
    whatever the mode asks (this library's `fail()`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_stage: IStageRef | str,
        destination_stage: IStageRef | str,
        participant_id: str,
        attributes: Mapping[str, str] | None = None,
        reconnect_window: cdk.Duration | None = None,
        when_not_publishing: object = None,
    ) -> None:
        super().__init__(scope, construct_id)
        window = 0 if reconnect_window is None else int(reconnect_window.to_seconds())
        aws_custom_resource(
            self,
            "Resource",
            source_arn=_arn(source_stage),
            destination_arn=_arn(destination_stage),
            participant_id=participant_id,
            attributes=attributes,
            reconnect_window_seconds=window,
        )


def _arn(stage: IStageRef | str) -> str:
    return stage if isinstance(stage, str) else stage.stage_ref.stage_arn
