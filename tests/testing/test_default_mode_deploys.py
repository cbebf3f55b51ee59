"""Issue 10, point 1 (acceptance): a stack that creates its source stage and declares a
replication with no mode deploys with nobody publishing, through TemplateDeployment and the
real handler and reconciler; the replication becomes ACTIVE once the participant publishes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_ivs as ivs
from aws_cdk.assertions import Template

from ivs_realtime_emulator import ManualClock
from ivs_realtime_emulator.server import IvsRealtimeEmulator
from ivs_replication import ParticipantReplication
from ivs_replication.testing.deployment import TemplateDeployment

if TYPE_CHECKING:
    from ivs_replication.testing.dynamodb import LocalDynamoDB


def readme_first_example() -> dict[str, object]:
    """The README's first example: the source stage is created in the same stack."""
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "LiveStack")
    source = ivs.CfnStage(stack, "Main", name="main")
    side = ivs.CfnStage(stack, "Side", name="side")
    ParticipantReplication(
        stack,
        "HostIntoSideStage",
        source_stage=source,
        destination_stage=side,
        participant_id="host-1",
    )
    return Template.from_stack(stack).to_json()


def test_a_new_source_stage_with_no_mode_deploys_with_nobody_publishing_then_follows(
    local_dynamodb: LocalDynamoDB,
) -> None:
    with IvsRealtimeEmulator(clock=ManualClock()) as server:
        stack = TemplateDeployment(readme_first_example(), ivs=server, dynamodb=local_dynamodb)
        stack.deploy()  # nobody can publish yet: the stage did not exist before this deploy
        assert server.replicas(state="ACTIVE") == []
        [source] = [
            stack.physical_ids[logical_id]
            for logical_id in stack.logical_ids("AWS::IVS::Stage")
            if logical_id.startswith("Main")
        ]

        server.publish(source, "host-1")  # its Published event reaches the reconciler

        [replica] = server.replicas(state="ACTIVE")
        assert replica.participant_id == "host-1"
        stack.delete()
        assert server.replicas(state="ACTIVE") == []
