"""Operations in the template: the reconciler's dead-letter queue (encrypted, retained, its
on-failure destination and its rules' DLQ) and the opt-in ReplicationAlarms with their
actions, descriptions and the metric names the functions write."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from ivs_replication import (
    ReplicationAlarms,
    ReplicationProvider,
    ReplicationSweep,
    WhenNotPublishing,
)
from ivs_replication_handler import contract as c
from tests.construct.helpers import new_stack, replicate

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ops"


def follow_stack(*, sweep: bool = True) -> cdk.Stack:
    stack = new_stack()
    replicate(stack, when_not_publishing=WhenNotPublishing.follow())
    if sweep:
        ReplicationSweep(stack, "Sweep", interval=cdk.Duration.minutes(10))
    return stack


def alarmed(stack: cdk.Stack, **props: Any) -> ReplicationAlarms:
    topic = sns.Topic.from_topic_arn(stack, "Ops", TOPIC_ARN)
    return ReplicationAlarms(stack, "Alarms", topic=topic, **props)


def queue_id(template: Template) -> str:
    [logical_id] = template.find_resources("AWS::SQS::Queue")
    return logical_id


def test_the_dead_letter_queue_is_encrypted_and_keeps_messages_14_days() -> None:
    template = Template.from_stack(follow_stack())
    template.has_resource_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 14 * 86400}
    )
    # TLS only.
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_failed_reconciler_runs_go_to_the_queue_after_the_contracts_retries() -> None:
    template = Template.from_stack(follow_stack())
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": c.RECONCILER_RETRY_ATTEMPTS,
            "MaximumEventAgeInSeconds": c.RECONCILER_MAX_EVENT_AGE_SECONDS,
            "DestinationConfig": {
                "OnFailure": {"Destination": {"Fn::GetAtt": [queue_id(template), "Arn"]}}
            },
        },
    )
    # The reconciler's role may send to the queue, and to nothing else of SQS.
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": Match.array_with(["sqs:SendMessage"]),
                                "Resource": {"Fn::GetAtt": [queue_id(template), "Arn"]},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_every_rule_target_dead_letters_into_the_queue_which_lets_only_rules_of_the_account() -> (
    None
):
    template = Template.from_stack(follow_stack())
    queue_arn = {"Fn::GetAtt": [queue_id(template), "Arn"]}
    rules = template.find_resources("AWS::Events::Rule")
    assert len(rules) == 2  # the publisher's and the sweep's
    for rule in rules.values():
        [target] = rule["Properties"]["Targets"]
        assert target["DeadLetterConfig"] == {"Arn": queue_arn}
    [policy] = template.find_resources("AWS::SQS::QueuePolicy").values()
    [allow] = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "ArnLike" in allow["Condition"]


def test_a_stack_without_follow_mode_has_no_queue() -> None:
    stack = new_stack()
    replicate(stack)
    assert not Template.from_stack(stack).find_resources("AWS::SQS::Queue")


def alarms_by_name(template: Template) -> dict[str, dict[str, Any]]:
    found = template.find_resources("AWS::CloudWatch::Alarm")
    return {
        next(
            n
            for n in ("HandlerFailures", "ReconcilerErrors", "DeadLetters", "SweepDrift")
            if n in lid
        ): r["Properties"]
        for lid, r in found.items()
    }


def test_alarms_cover_handler_reconciler_queue_and_drift_and_notify_the_topic() -> None:
    stack = follow_stack()
    alarmed(stack)
    alarms = alarms_by_name(Template.from_stack(stack))

    assert set(alarms) == {"HandlerFailures", "ReconcilerErrors", "DeadLetters", "SweepDrift"}
    for properties in alarms.values():
        assert properties["AlarmActions"] == [TOPIC_ARN]
        assert properties["OKActions"] == [TOPIC_ARN]
        assert properties["TreatMissingData"] == "notBreaching"
        # Says what to do, not only what happened.
        assert len(properties["AlarmDescription"]) > 150
    assert "ivs-replication" in alarms["SweepDrift"]["AlarmDescription"]
    assert "replay" in alarms["DeadLetters"]["AlarmDescription"]


def test_the_alarms_read_the_metrics_the_functions_write() -> None:
    stack = follow_stack()
    alarmed(stack, drift_periods=4)
    alarms = alarms_by_name(Template.from_stack(stack))
    service = {"Name": c.DIMENSION_SERVICE, "Value": c.METRICS_SERVICE_DEFAULT}
    own_stack = {"Name": c.DIMENSION_STACK, "Value": stack.stack_name}

    handler = alarms["HandlerFailures"]
    assert handler["Namespace"] == c.METRICS_NAMESPACE_DEFAULT
    assert handler["MetricName"] == c.METRIC_REQUESTS
    assert sorted(handler["Dimensions"], key=str) == sorted(
        [{"Name": c.DIMENSION_OUTCOME, "Value": c.OUTCOME_FAILED}, service, own_stack], key=str
    )
    assert handler["Statistic"] == "Sum"
    assert handler["Threshold"] == 1

    drift = alarms["SweepDrift"]
    assert drift["MetricName"] == c.METRIC_SWEEP_DRIFT
    assert {"Name": c.DIMENSION_TRIGGER, "Value": c.TRIGGER_SWEEP} in drift["Dimensions"]
    assert own_stack in drift["Dimensions"]
    assert drift["ComparisonOperator"] == "GreaterThanThreshold"
    assert drift["Threshold"] == 0
    # N sweeps in a row: one period per sweep interval.
    assert drift["EvaluationPeriods"] == drift["DatapointsToAlarm"] == 4
    assert drift["Period"] == 600

    assert alarms["ReconcilerErrors"]["Namespace"] == "AWS/Lambda"
    assert alarms["ReconcilerErrors"]["MetricName"] == "Errors"
    assert alarms["DeadLetters"]["Namespace"] == "AWS/SQS"
    assert alarms["DeadLetters"]["MetricName"] == "ApproximateNumberOfMessagesVisible"


def test_a_fail_mode_stack_gets_only_the_handler_alarm_and_no_actions_without_a_topic() -> None:
    stack = new_stack()
    replicate(stack)
    alarms = ReplicationAlarms(stack, "Alarms")
    template = Template.from_stack(stack)

    assert list(alarms_by_name(template)) == ["HandlerFailures"]
    assert "AlarmActions" not in alarms_by_name(template)["HandlerFailures"]
    assert alarms.alarms == [alarms.handler_failures]


def test_follow_mode_without_a_sweep_has_no_drift_alarm() -> None:
    stack = follow_stack(sweep=False)
    alarmed(stack)
    assert "SweepDrift" not in alarms_by_name(Template.from_stack(stack))


def test_alarms_created_before_the_sweep_fail_synth_saying_to_create_them_last() -> None:
    stack = new_stack()
    replicate(stack, when_not_publishing=WhenNotPublishing.follow())
    alarmed(stack)
    ReplicationSweep(stack, "Sweep")
    with pytest.raises(RuntimeError, match="Create ReplicationAlarms last"):
        cdk.App.of(stack).synth()  # type: ignore[union-attr]


@pytest.mark.parametrize("periods", [0, -1, 1.5, True, 24 * 6 + 1])
def test_drift_periods_out_of_range_are_refused(periods: Any) -> None:
    stack = follow_stack()  # 10-minute sweeps: at most 144 in a day
    with pytest.raises(ValueError, match="drift_periods"):
        alarmed(stack, drift_periods=periods)


def test_the_optional_dashboard_shows_the_alarms_and_metrics() -> None:
    stack = follow_stack()
    alarmed(stack, dashboard=True)
    [dashboard] = Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").values()
    body = cdk.Stack.of(stack).resolve(dashboard["Properties"]["DashboardBody"])
    text = str(body)
    assert c.METRIC_REQUESTS in text
    assert c.METRIC_STARTED in text


def test_a_custom_namespace_reaches_both_functions_and_the_alarms() -> None:
    stack = follow_stack()
    ReplicationProvider.of(stack).use_metrics(namespace="Team/Live", service="live-video")
    alarmed(stack)
    template = Template.from_stack(stack)

    functions = template.find_resources("AWS::Lambda::Function")
    ours = [
        f
        for f in functions.values()
        if f["Properties"].get("Handler") in (c.ON_EVENT_ENTRY_POINT, c.RECONCILER_ENTRY_POINT)
    ]
    assert len(ours) == 2
    for function in ours:
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables[c.ENV_METRICS_NAMESPACE] == "Team/Live"
        assert variables[c.ENV_METRICS_SERVICE] == "live-video"
    handler = alarms_by_name(template)["HandlerFailures"]
    assert handler["Namespace"] == "Team/Live"
    assert {"Name": c.DIMENSION_SERVICE, "Value": "live-video"} in handler["Dimensions"]


def test_default_metric_settings_add_no_environment_variable() -> None:
    stack = follow_stack()
    for function in Template.from_stack(stack).find_resources("AWS::Lambda::Function").values():
        variables = (function["Properties"].get("Environment") or {}).get("Variables") or {}
        assert c.ENV_METRICS_NAMESPACE not in variables
