"""StageMirror as a stack deploys it: the synthesized template deployed by TemplateDeployment
with the real handler and reconciler, IVS's events delivered by the local event bus through
the stack's one rule. The declaration holds whoever joins, leaves and comes back; deleting the
stack stops every replica it made."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_ivs as ivs
from aws_cdk.assertions import Template

from ivs_realtime_emulator import ManualClock
from ivs_realtime_emulator.server import IvsRealtimeEmulator
from ivs_replication import ReplicationSweep, StageMirror
from ivs_replication.testing.deployment import TemplateDeployment

if TYPE_CHECKING:
    from ivs_replication.testing.dynamodb import LocalDynamoDB

AUDIENCES = ("Audience1", "Audience2", "Audience3")


def _template(**mirrors: tuple[str, list[str]]) -> dict[str, object]:
    """A stack that creates its stages and mirrors `source` into `destinations` for each
    entry of `mirrors` (construct id -> (source, destinations)), with a sweep."""
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "MirrorStack")
    names = {name for source, destinations in mirrors.values() for name in (source, *destinations)}
    stages = {name: ivs.CfnStage(stack, name, name=name.lower()) for name in sorted(names)}
    for construct_id, (source, destinations) in mirrors.items():
        StageMirror(
            stack,
            construct_id,
            source_stage=stages[source],
            destination_stages=[stages[d] for d in destinations],
        )
    ReplicationSweep(stack, "Sweep")
    return dict(Template.from_stack(stack).to_json())


def _stage_arns(stack: TemplateDeployment) -> dict[str, str]:
    return {
        logical_id: stack.physical_ids[logical_id]
        for logical_id in stack.logical_ids("AWS::IVS::Stage")
    }


def _held(server: IvsRealtimeEmulator, source: str, destination: str) -> set[str]:
    return {
        r.participant_id
        for r in server.replicas(
            source_stage_arn=source, destination_stage_arn=destination, state="ACTIVE"
        )
    }


def test_a_mirror_holds_every_host_who_joins_leaves_and_returns_until_the_stack_goes(
    local_dynamodb: LocalDynamoDB,
) -> None:
    template = _template(Mirror=("Main", list(AUDIENCES)))
    with IvsRealtimeEmulator(clock=ManualClock()) as server:
        stack = TemplateDeployment(template, ivs=server, dynamodb=local_dynamodb)
        stack.deploy()  # nobody publishes yet: a mirror always follows
        stages = _stage_arns(stack)
        main, audiences = stages["Main"], [stages[a] for a in AUDIENCES]

        for host in ("host-1", "host-2", "host-3"):
            server.publish(main, host)
        assert all(_held(server, main, a) == {"host-1", "host-2", "host-3"} for a in audiences)

        server.publish(main, "host-4")
        server.unpublish(main, "host-2")
        server.refresh()
        assert all(_held(server, main, a) == {"host-1", "host-3", "host-4"} for a in audiences)

        server.publish(main, "host-2")  # back: its Published event starts it again
        assert all(len(_held(server, main, a)) == 4 for a in audiences)

        stack.delete()
        assert server.replicas(state="ACTIVE") == []


def test_vs_mode_deployed_shows_each_stages_own_hosts_and_no_replica_of_a_replica(
    local_dynamodb: LocalDynamoDB,
) -> None:
    template = _template(AIntoB=("StageA", ["StageB"]), BIntoA=("StageB", ["StageA"]))
    with IvsRealtimeEmulator(clock=ManualClock()) as server:
        stack = TemplateDeployment(template, ivs=server, dynamodb=local_dynamodb)
        stack.deploy()
        stages = _stage_arns(stack)
        stage_a, stage_b = stages["StageA"], stages["StageB"]

        server.publish(stage_a, "alice")
        server.publish(stage_b, "bob")

        active = {
            (r.source_stage_arn, r.participant_id, r.destination_stage_arn)
            for r in server.replicas(state="ACTIVE")
        }
        assert active == {(stage_a, "alice", stage_b), (stage_b, "bob", stage_a)}
        stack.delete()
        assert server.replicas(state="ACTIVE") == []
