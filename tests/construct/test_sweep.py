"""`ReplicationSweep`: one schedule rule per stack with a constant input, at any scale."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from ivs_replication import ReplicationSweep, WhenNotPublishing
from ivs_replication._handler.ivs_replication_handler import constants as c
from tests.construct.helpers import new_stack, replicate

# CloudFormation's limit of resources per stack.
MAX_RESOURCES = 500


def schedule_rules(stack: cdk.Stack) -> list[dict[str, Any]]:
    rules = Template.from_stack(stack).find_resources("AWS::Events::Rule")
    return [r for r in rules.values() if "ScheduleExpression" in r["Properties"]]


def sweep_target(stack: cdk.Stack) -> dict[str, Any]:
    (rule,) = schedule_rules(stack)
    (target,) = rule["Properties"]["Targets"]
    return target  # type: ignore[no-any-return]


def reconciler_arn(stack: cdk.Stack) -> dict[str, Any]:
    functions = Template.from_stack(stack).find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": c.RECONCILER_ENTRY_POINT}}
    )
    (logical_id,) = functions
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def test_sweeps_every_five_minutes_with_a_constant_input(stack: cdk.Stack) -> None:
    replicate(stack, when_not_publishing=WhenNotPublishing.follow())
    ReplicationSweep(stack, "Sweep")

    (rule,) = schedule_rules(stack)
    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    target = sweep_target(stack)
    assert target["Arn"] == reconciler_arn(stack)
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

    (rule,) = schedule_rules(stack)
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
    assert sweep_target(stack)["Arn"] == reconciler_arn(stack)


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

    small, large = stack_following(1), stack_following(200)

    resources = Template.from_stack(large).to_json()["Resources"]
    assert len(resources) < MAX_RESOURCES
    # A custom resource and a rule per publisher; everything else is shared.
    assert len(resources) - len(Template.from_stack(small).to_json()["Resources"]) == 2 * 199
    assert sweep_target(large)["Input"] == sweep_target(small)["Input"]
    Template.from_stack(large).resource_count_is("AWS::Lambda::Permission", 1)
