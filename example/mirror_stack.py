"""Example: the hosts of a studio stage mirrored into three audience stages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_ivs as ivs

from ivs_replication import ReplicationSweep, StageMirror

if TYPE_CHECKING:
    from collections.abc import Sequence

    from constructs import Construct

AUDIENCE_STAGE_NAMES = ("audience-1", "audience-2", "audience-3")
RECONNECT_WINDOW = Duration.seconds(30)
SWEEP_INTERVAL = Duration.minutes(5)


class StageMirrorExampleStack(Stack):
    """A studio stage the hosts publish in, and audience stages that each show every host: a
    stage holds 10,000 subscribers, so a larger audience is spread over several stages.

    Whoever publishes in the studio is replicated into every mirrored audience stage while they
    publish (a host who joins later too); replicas are never replicated back. The stack deploys
    whether or not anyone is publishing.

    :param mirrored_into: the names of the audience stages the hosts appear in. Default: all
        three. Leaving one out (and deploying) stops the hosts' replicas there; the stage stays.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        mirrored_into: Sequence[str] = AUDIENCE_STAGE_NAMES,
    ) -> None:
        super().__init__(scope, construct_id, description="IVS stage mirror example")
        studio = ivs.CfnStage(self, "StudioStage", name="studio")
        audiences = {
            name: ivs.CfnStage(self, f"AudienceStage{number}", name=name)
            for number, name in enumerate(AUDIENCE_STAGE_NAMES, start=1)
        }
        StageMirror(
            self,
            "HostsIntoAudiences",
            source_stage=studio,
            destination_stages=[audiences[name] for name in mirrored_into],
            reconnect_window=RECONNECT_WINDOW,
        )
        ReplicationSweep(self, "Sweep", interval=SWEEP_INTERVAL)
        CfnOutput(self, "StudioStageArn", value=studio.attr_arn)
