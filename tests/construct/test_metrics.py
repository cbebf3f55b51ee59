"""Monitoring that composes: every metric and alarm of a stack is its own (the Stack
dimension), the provider's `metric_*` methods are the one definition the alarms use too, the
namespace and service may be set in any order, and alarms take any CloudWatch action."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from ivs_replication import ReplicationAlarms, ReplicationProvider, ReplicationSweep
from ivs_replication_handler import contract as c
from ivs_replication_handler.metrics import ReplicationMetrics
from ivs_replication_handler.settings import FunctionSettings
from tests.construct.helpers import NO_BUNDLING, new_stack, replicate

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ops"
PAGER_ARN = "arn:aws:sns:us-east-1:123456789012:pager"


def follow_stack(app: cdk.App, name: str) -> cdk.Stack:
    stack = cdk.Stack(app, name)
    # follow(), the default; a publisher of its own (one replication in two stacks fails synth)
    replicate(stack, when_not_publishing=None, participant_id=f"host-{name.lower()}")
    ReplicationSweep(stack, "Sweep")
    return stack


def alarm_named(template: Template, name: str) -> dict[str, Any]:
    [alarm] = [
        resource["Properties"]
        for logical_id, resource in template.find_resources("AWS::CloudWatch::Alarm").items()
        if name in logical_id
    ]
    return alarm


def handler_environment(template: Template, entry_point: str) -> dict[str, str]:
    [function] = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": entry_point}}
    ).values()
    variables = function["Properties"]["Environment"]["Variables"]
    return {k: v for k, v in variables.items() if isinstance(v, str)}


def written_failure(environment: dict[str, str]) -> dict[str, Any]:
    """The EMF document a function with this environment writes for a failed request."""
    written: list[str] = []
    settings = FunctionSettings.from_environment(environment)
    ReplicationMetrics.of(settings, write=written.append).record_request("Create", succeeded=False)
    [document] = [json.loads(text) for text in written]
    return document


def test_two_stacks_in_one_account_alarm_on_their_own_functions_failures_only() -> None:
    """Same namespace, same service: the Stack dimension the functions write (from their
    environment) is the one each stack's alarm reads, and the two stacks' differ."""
    app = cdk.App(context=NO_BUNDLING)
    stacks = [follow_stack(app, name) for name in ("LiveEurope", "LiveAmericas")]
    for stack in stacks:
        ReplicationAlarms(stack, "Alarms")

    watched = []
    for stack in stacks:
        template = Template.from_stack(stack)
        alarm = alarm_named(template, "HandlerFailures")
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        for entry_point in (c.ON_EVENT_ENTRY_POINT, c.RECONCILER_ENTRY_POINT):
            assert handler_environment(template, entry_point)[c.ENV_STACK_NAME] == stack.stack_name
        document = written_failure(handler_environment(template, c.ON_EVENT_ENTRY_POINT))
        [directive] = document["_aws"]["CloudWatchMetrics"]
        written_sets = [
            {name: document[name] for name in names} for names in directive["Dimensions"]
        ]
        assert dimensions in written_sets  # the alarm reads what the handler writes
        assert alarm["Namespace"] == directive["Namespace"]
        watched.append(dimensions[c.DIMENSION_STACK])
    assert watched == ["LiveEurope", "LiveAmericas"]


def test_every_alarm_on_the_functions_metrics_names_its_stack() -> None:
    stack = follow_stack(cdk.App(context=NO_BUNDLING), "Live")
    ReplicationAlarms(stack, "Alarms", dashboard=True)
    template = Template.from_stack(stack)
    ours = [
        alarm["Properties"]
        for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == c.METRICS_NAMESPACE_DEFAULT
    ]
    assert len(ours) == 2  # handler failures and sweep drift
    for alarm in ours:
        assert {"Name": c.DIMENSION_STACK, "Value": "Live"} in alarm["Dimensions"]
    [dashboard] = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads(
        "".join(
            part if isinstance(part, str) else "?"
            for part in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
        )
    )
    graphed = [
        metric
        for widget in body["widgets"]
        for metric in widget["properties"].get("metrics", [])
        if metric[0] == c.METRICS_NAMESPACE_DEFAULT
    ]
    assert graphed
    assert all("Stack" in metric and "Live" in metric for metric in graphed)


def test_use_metrics_after_the_alarms_still_reaches_them() -> None:
    """The namespace and service are read when the template is written: the order of the
    calls does not matter."""
    stack = follow_stack(cdk.App(context=NO_BUNDLING), "Live")
    ReplicationAlarms(stack, "Alarms")
    provider = ReplicationProvider.of(stack)
    early = provider.metric_failed_requests()
    provider.use_metrics(namespace="Team/Live", service="live-video")
    template = Template.from_stack(stack)

    for name in ("HandlerFailures", "SweepDrift"):
        alarm = alarm_named(template, name)
        assert alarm["Namespace"] == "Team/Live"
        assert {"Name": c.DIMENSION_SERVICE, "Value": "live-video"} in alarm["Dimensions"]
    assert stack.resolve(early.namespace) == "Team/Live"
    environment = handler_environment(template, c.RECONCILER_ENTRY_POINT)
    assert environment[c.ENV_METRICS_NAMESPACE] == "Team/Live"


def test_alarms_take_any_alarm_and_ok_actions_after_the_topic() -> None:
    stack = follow_stack(cdk.App(context=NO_BUNDLING), "Live")
    topic = sns.Topic.from_topic_arn(stack, "Ops", TOPIC_ARN)
    pager = sns.Topic.from_topic_arn(stack, "Pager", PAGER_ARN)
    ReplicationAlarms(
        stack,
        "Alarms",
        topic=topic,
        alarm_actions=[actions.SnsAction(pager)],
        ok_actions=[],
    )
    for alarm in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [TOPIC_ARN, PAGER_ARN]
        assert alarm["Properties"]["OKActions"] == [TOPIC_ARN]


def test_alarm_actions_alone_without_a_topic() -> None:
    stack = new_stack()
    replicate(stack)
    pager = sns.Topic.from_topic_arn(stack, "Pager", PAGER_ARN)
    alarms = ReplicationAlarms(stack, "Alarms", alarm_actions=[actions.SnsAction(pager)])
    [alarm] = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values()
    assert alarm["Properties"]["AlarmActions"] == [PAGER_ARN]
    assert "OKActions" not in alarm["Properties"]
    assert alarms.alarms == [alarms.handler_failures]


def test_metric_methods_take_metric_options_and_keep_their_dimensions() -> None:
    stack = follow_stack(cdk.App(context=NO_BUNDLING), "Live")
    provider = ReplicationProvider.of(stack)

    failed = provider.metric_failed_requests(
        period=cdk.Duration.minutes(1), statistic="Maximum", label="failed", color="#d62728"
    )
    assert failed.metric_name == c.METRIC_REQUESTS
    assert failed.statistic == "Maximum"
    assert failed.period.to_seconds() == 60
    assert failed.label == "failed"
    assert failed.dimensions == {
        c.DIMENSION_OUTCOME: c.OUTCOME_FAILED,
        c.DIMENSION_SERVICE: failed.dimensions[c.DIMENSION_SERVICE],
        c.DIMENSION_STACK: "Live",
    }
    assert stack.resolve(failed.dimensions[c.DIMENSION_SERVICE]) == c.METRICS_SERVICE_DEFAULT
    # The sweep's interval is the drift metric's period; its statistic the worst sweep.
    drift = provider.metric_sweep_drift()
    assert (drift.metric_name, drift.statistic) == (c.METRIC_SWEEP_DRIFT, "Maximum")
    assert drift.period.to_seconds() == 300
    # The queue and the reconciler, as SQS and Lambda measure them.
    assert provider.metric_dead_letters().namespace == "AWS/SQS"
    assert provider.metric_reconciler_errors(period=cdk.Duration.minutes(1)).metric_name == "Errors"
    # Other metrics by name (e.g. the reconciler's other counts), the stack's dimensions kept.
    active = provider.metric(
        c.METRIC_ALREADY_ACTIVE,
        dimensions_map={c.DIMENSION_TRIGGER: c.TRIGGER_EVENT, c.DIMENSION_STACK: "Other"},
    )
    assert active.dimensions[c.DIMENSION_STACK] == "Live"
    assert active.dimensions[c.DIMENSION_TRIGGER] == c.TRIGGER_EVENT


def test_reconciler_counts_by_trigger_or_added_up_for_both() -> None:
    stack = follow_stack(cdk.App(context=NO_BUNDLING), "Live")
    provider = ReplicationProvider.of(stack)

    sweep = provider.metric_started_replications(trigger="sweep")
    assert isinstance(sweep, cloudwatch.Metric)
    assert sweep.dimensions[c.DIMENSION_TRIGGER] == c.TRIGGER_SWEEP
    both = provider.metric_failed_replications(label="failed starts")
    assert isinstance(both, cloudwatch.MathExpression)
    assert both.expression == (
        "FILL(replicationsFailed_event, 0) + FILL(replicationsFailed_sweep, 0)"
    )
    assert both.label == "failed starts"
    assert {m.dimensions[c.DIMENSION_TRIGGER] for m in both.using_metrics.values()} == {  # type: ignore[attr-defined]
        c.TRIGGER_EVENT,
        c.TRIGGER_SWEEP,
    }
    # Both sums in one graph: their metrics' ids differ.
    cloudwatch.Dashboard(stack, "Board").add_widgets(
        cloudwatch.GraphWidget(left=[provider.metric_started_replications(), both])
    )
    # Usable in an alarm of your own.
    cloudwatch.Alarm(stack, "FailedStarts", metric=both, threshold=1, evaluation_periods=1)
    [alarm] = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").values()
    [expression] = [m for m in alarm["Properties"]["Metrics"] if "Expression" in m]
    assert expression["Expression"] == both.expression


def test_an_unknown_trigger_is_refused_naming_the_allowed_ones() -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match="Invalid trigger: 'events' is not a trigger"):
        ReplicationProvider.of(stack).metric_started_replications(trigger="events")


@pytest.mark.parametrize("method", ["metric_dead_letters", "metric_reconciler_errors"])
def test_follow_mode_metrics_without_follow_mode_say_what_to_declare_first(method: str) -> None:
    stack = new_stack()
    replicate(stack)  # fail(): no follow mode
    with pytest.raises(ValueError, match="no follow-mode infrastructure"):
        getattr(ReplicationProvider.of(stack), method)()


def test_the_over_quota_metric_is_the_one_the_reconciler_writes() -> None:
    """A StageMirror's full destination is visible on a dashboard: the method names the
    metric and dimensions the reconciler writes (``ReplicationsOverQuota`` by Trigger and
    Stack), not another."""
    stack = follow_stack(cdk.App(context=NO_BUNDLING), "Live")
    provider = ReplicationProvider.of(stack)

    event = provider.metric_replications_over_quota(trigger="event", statistic="Maximum")
    assert isinstance(event, cloudwatch.Metric)
    assert event.metric_name == c.METRIC_OVER_QUOTA
    assert event.statistic == "Maximum"
    assert event.dimensions[c.DIMENSION_TRIGGER] == c.TRIGGER_EVENT
    assert event.dimensions[c.DIMENSION_STACK] == "Live"
    both = provider.metric_replications_over_quota()
    assert isinstance(both, cloudwatch.MathExpression)
    assert "replicationsOverQuota_event" in both.expression
