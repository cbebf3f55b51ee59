"""The declaration holds whatever the publisher does: the README's first example, run as
written - a stack that creates its source stage and declares a replication with no mode -
deploys with nobody publishing, through TemplateDeployment and the real handler and
reconciler; the replication becomes ACTIVE, with the example's settings, once the participant
publishes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk.assertions import Template

from ivs_realtime_emulator import ManualClock
from ivs_realtime_emulator.server import IvsRealtimeEmulator
from ivs_replication.testing.deployment import TemplateDeployment
from tests.readme import first_example_stack, with_destination_here

if TYPE_CHECKING:
    from ivs_replication.testing.dynamodb import LocalDynamoDB


def test_the_readme_first_example_deploys_with_nobody_publishing_then_follows(
    local_dynamodb: LocalDynamoDB,
) -> None:
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    template = Template.from_stack(first_example_stack(app, "LiveStack")).to_json()
    with IvsRealtimeEmulator(clock=ManualClock()) as server:
        template, destination = with_destination_here(template, server)
        stack = TemplateDeployment(template, ivs=server, dynamodb=local_dynamodb)
        stack.deploy()  # nobody can publish yet: the stage did not exist before this deploy
        assert server.replicas(state="ACTIVE") == []
        [source] = [
            stack.physical_ids[logical_id]
            for logical_id in stack.logical_ids("AWS::IVS::Stage")
            if logical_id.startswith("Main")
        ]

        server.publish(source, "host-1")  # its Published event reaches the reconciler

        [replica] = server.replicas(state="ACTIVE")
        assert (replica.participant_id, replica.destination_stage_arn) == ("host-1", destination)
        assert replica.attributes == {"role": "cohost"}
        assert replica.reconnect_window_seconds == 30
        stack.delete()
        assert server.replicas(state="ACTIVE") == []
