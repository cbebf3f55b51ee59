"""`ReplicationSweep`: one schedule rule per stack with a constant input, at any scale."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from ivs_replication import ReplicationSweep, WhenNotPublishing
from ivs_replication_handler import contract as c
from tests.construct.helpers import new_stack, replicate

# CloudFormation's limit of resources per stack.
MAX_RESOURCES = 500
# Created once per stack with follow mode and a sweep: the provider's 8 (two functions, their
# roles, policies and log groups), follow mode's 9 (table, reconciler with its role, policy,
# log group and invoke config, one permission, the dead-letter queue and its policy) and the
# schedule rule.
SHARED_RESOURCES = 18  # with the dead-letter queue and its policy


def schedule_rules(template: Template) -> list[dict[str, Any]]:
    rules = template.find_resources("AWS::Events::Rule")
    return [r for r in rules.values() if "ScheduleExpression" in r["Properties"]]


def sweep_target(template: Template) -> dict[str, Any]:
    (rule,) = schedule_rules(template)
    (target,) = rule["Properties"]["Targets"]
    return target  # type: ignore[no-any-return]


def reconciler_arn(template: Template) -> dict[str, Any]:
    functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": c.RECONCILER_ENTRY_POINT}}
    )
    (logical_id,) = functions
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def test_sweeps_every_five_minutes_with_a_constant_input(stack: cdk.Stack) -> None:
    replicate(stack, when_not_publishing=WhenNotPublishing.follow())
    ReplicationSweep(stack, "Sweep")
    template = Template.from_stack(stack)

    (rule,) = schedule_rules(template)
    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    target = sweep_target(template)
    assert target["Arn"] == reconciler_arn(template)
    assert json.loads(target["Input"]) == {c.SWEEP_INPUT_KEY: True}


@pytest.mark.parametrize(
    ("interval", "expression"),
    [
        (cdk.Duration.minutes(1), "rate(1 minute)"),
        (cdk.Duration.seconds(120), "rate(2 minutes)"),
        (cdk.Duration.hours(1), "rate(1 hour)"),
        (cdk.Duration.days(1), "rate(1 day)"),
    ],
)
def test_the_interval_sets_the_rate(interval: cdk.Duration, expression: str) -> None:
    stack = new_stack()
    ReplicationSweep(stack, "Sweep", interval=interval)

    (rule,) = schedule_rules(Template.from_stack(stack))
    assert rule["Properties"]["ScheduleExpression"] == expression


@pytest.mark.parametrize(
    ("interval", "fragment"),
    [
        (cdk.Duration.seconds(30), "not whole minutes"),
        (cdk.Duration.seconds(90), "not whole minutes"),
        (cdk.Duration.minutes(0), "out of range"),
        (cdk.Duration.hours(25), "out of range"),
        (cdk.Duration.minutes(cdk.Token.as_number(cdk.Fn.ref("Every"))), "token"),
    ],
)
def test_invalid_intervals_fail_naming_the_property(interval: cdk.Duration, fragment: str) -> None:
    with pytest.raises(ValueError, match="Invalid interval:") as caught:
        ReplicationSweep(new_stack(), "Sweep", interval=interval)

    assert fragment in str(caught.value)
    assert "1 minute to 1 day" in str(caught.value)


def test_a_second_sweep_in_one_stack_is_rejected(stack: cdk.Stack) -> None:
    ReplicationSweep(stack, "Sweep")

    with pytest.raises(ValueError, match="at most one ReplicationSweep per stack"):
        ReplicationSweep(stack, "AnotherSweep")


def test_a_sweep_alone_brings_the_follow_infrastructure(stack: cdk.Stack) -> None:
    ReplicationSweep(stack, "Sweep")

    template = Template.from_stack(stack)
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.resource_count_is("AWS::Lambda::Permission", 1)
    assert sweep_target(template)["Arn"] == reconciler_arn(template)


def test_two_hundred_followed_publishers_fit_in_one_stack_with_a_constant_sweep() -> None:
    def stack_following(count: int) -> cdk.Stack:
        stack = new_stack()
        for index in range(count):
            replicate(
                stack,
                f"R{index}",
                participant_id=f"host-{index}",
                when_not_publishing=WhenNotPublishing.follow(),
            )
        ReplicationSweep(stack, "Sweep")
        return stack

    small = Template.from_stack(stack_following(1))
    large = Template.from_stack(stack_following(200))

    # A custom resource and a rule per publisher; everything else is shared.
    assert len(small.to_json()["Resources"]) == 2 + SHARED_RESOURCES
    large_count = len(large.to_json()["Resources"])
    assert large_count == 2 * 200 + SHARED_RESOURCES == 418  # the README's figure
    assert large_count < MAX_RESOURCES
    assert sweep_target(large)["Input"] == sweep_target(small)["Input"]
    large.resource_count_is("AWS::Lambda::Permission", 1)
