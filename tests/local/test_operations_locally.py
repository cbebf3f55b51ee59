"""A stack with the operations resources (dead-letter queue, ReplicationAlarms, dashboard)
deploys on the local endpoints, and the functions' metrics are kept by the runtime instead of
being printed among the test's output."""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_ivs as ivs

from ivs_realtime_emulator import IvsRealtimeEmulator, ManualClock
from ivs_replication import (
    ParticipantReplication,
    ReplicationAlarms,
    ReplicationSweep,
    WhenNotPublishing,
)
from ivs_replication.testing import HandlerRuntime, LocalDynamoDB, TemplateDeployment
from ivs_replication_handler import contract as c

NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


def alarmed_template() -> dict:
    app = cdk.App(context=NO_BUNDLING)
    stack = cdk.Stack(app, "Alarmed")
    main = ivs.CfnStage(stack, "Main", name="main")
    ParticipantReplication(
        stack,
        "HostToSide",
        source_stage=main,
        destination_stage=ivs.CfnStage(stack, "Side", name="side"),
        participant_id="host-1",
        when_not_publishing=WhenNotPublishing.follow(),
    )
    ReplicationSweep(stack, "Sweep")
    ReplicationAlarms(stack, "Alarms", dashboard=True)
    return app.synth().get_stack_by_name("Alarmed").template  # type: ignore[no-any-return]


def test_alarms_and_the_queue_deploy_as_placeholders_and_metrics_are_kept(
    local_dynamodb: LocalDynamoDB, capsys
) -> None:
    template = alarmed_template()
    with IvsRealtimeEmulator(clock=ManualClock()) as endpoint:
        runtime = HandlerRuntime(ivs=endpoint, dynamodb=local_dynamodb)
        stack = TemplateDeployment(template, ivs=endpoint, dynamodb=local_dynamodb, runtime=runtime)
        stack.deploy()
        stack.bus.run_schedules()
        stack.delete()

    created = {event.resource_type for event in stack.history if event.status == "CREATE_COMPLETE"}
    assert {"AWS::SQS::Queue", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard"} <= created
    documents = [json.loads(text) for text in runtime.metric_documents]
    requests = [d for d in documents if c.METRIC_REQUESTS in d]
    assert [d[c.DIMENSION_REQUEST_TYPE] for d in requests] == ["Create", "Delete"]
    [sweep] = [d for d in documents if d.get(c.DIMENSION_TRIGGER) == c.TRIGGER_SWEEP]
    assert sweep[c.METRIC_SWEEP_DECLARATIONS] == [1.0]
    assert '"_aws"' not in capsys.readouterr().out
