"""Example: an encoder pushed into a main stage, replicated into three side stages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_ivs as ivs

from ivs_replication import IngestReplication, ReplicationSweep

if TYPE_CHECKING:
    from constructs import Construct

SIDE_STAGE_NAMES = ("side-1", "side-2", "side-3")
RECONNECT_WINDOW = Duration.seconds(30)
SWEEP_INTERVAL = Duration.minutes(5)


class ReplicationExampleStack(Stack):
    """A main stage, an encoder (an IVS ingest configuration) publishing into it, and three
    side stages the encoder's participant also appears in.

    The replications follow the encoder: the stack deploys whether or not it is publishing,
    each replication starts whenever it publishes (an EventBridge rule on "Participant
    Published"), and a sweep every 5 minutes catches up on any event EventBridge missed.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id, description="IVS participant replication example")
        main = ivs.CfnStage(self, "MainStage", name="main")
        # The service gives the encoder its participant id; an RTMPS encoder pushes to it.
        encoder = ivs.CfnIngestConfiguration(
            self, "Encoder", name="encoder", stage_arn=main.attr_arn, ingest_protocol="RTMPS"
        )
        sides = [
            ivs.CfnStage(self, f"SideStage{number}", name=name)
            for number, name in enumerate(SIDE_STAGE_NAMES, start=1)
        ]
        IngestReplication(
            self,
            "EncoderIntoSideStages",
            ingest_configuration=encoder,
            destination_stages=sides,
            attributes={"role": "cohost"},
            reconnect_window=RECONNECT_WINDOW,
        )
        ReplicationSweep(self, "Sweep", interval=SWEEP_INTERVAL)
        CfnOutput(self, "MainStageArn", value=main.attr_arn)
        CfnOutput(self, "EncoderParticipantId", value=encoder.attr_participant_id)
        CfnOutput(self, "EncoderArn", value=encoder.attr_arn)
