"""Example: a main stage whose host also appears in a side stage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_ivs as ivs

from ivs_replication import ParticipantReplication

if TYPE_CHECKING:
    from constructs import Construct

DEFAULT_PARTICIPANT_ID = "host-1"


class ReplicationExampleStack(Stack):
    """Two IVS stages and one replication of `participant_id` from the first to the second."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        participant_id: str = DEFAULT_PARTICIPANT_ID,
        with_replication: bool = True,
    ) -> None:
        super().__init__(scope, construct_id, description="IVS participant replication example")
        main = ivs.CfnStage(self, "MainStage", name="main")
        side = ivs.CfnStage(self, "SideStage", name="side")
        CfnOutput(self, "MainStageArn", value=main.attr_arn)
        CfnOutput(self, "SideStageArn", value=side.attr_arn)
        # The stages must exist, and the participant publish, before a replication can start:
        # a first deploy without it creates the stages to publish into.
        if not with_replication:
            return
        replication = ParticipantReplication(
            self,
            "HostIntoSideStage",
            source_stage=main,
            destination_stage=side,
            participant_id=participant_id,
            attributes={"role": "cohost"},
            reconnect_window=Duration.seconds(30),
        )
        CfnOutput(self, "ReplicationId", value=replication.replication_id)
