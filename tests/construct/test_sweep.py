"""`ReplicationSweep`: one schedule rule per stack with a constant input, at any scale."""

from __future__ import annotations

import json
from collections.abc import Callable
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
# roles, policies and log groups), follow mode's 10 (table, reconciler with its role, policy,
# log group and invoke config, one permission, the dead-letter queue and its policy, the one
# "Participant Published" rule) and the schedule rule.
SHARED_RESOURCES = 19


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


# IAM's limit on the inline policies of one role, in characters (whitespace not counted).
ROLE_POLICY_LIMIT = 10_240


def test_480_followed_publishers_over_20_stages_fit_in_one_stack_with_a_constant_sweep(
    following: Callable[[int, int], Template],
) -> None:
    """One resource per replication in follow mode: 480 custom resources plus the shared ones
    stay within CloudFormation's 500, whatever the number of publishers."""
    small, large = following(1, 1), following(480, 20)

    assert len(small.to_json()["Resources"]) == 1 + SHARED_RESOURCES
    large_count = len(large.to_json()["Resources"])
    assert large_count == 480 + SHARED_RESOURCES == 499  # the guide's figure (Resources and IAM)
    assert large_count <= MAX_RESOURCES
    assert sweep_target(large)["Input"] == sweep_target(small)["Input"]
    large.resource_count_is("AWS::Lambda::Permission", 1)
    large.resource_count_is("AWS::Events::Rule", 2)  # the published rule and the schedule


def test_every_role_of_the_largest_stack_stays_within_iam_limits(
    following: Callable[[int, int], Template],
) -> None:
    """No `ivs:` action on "*", and each role's inline policies (constant in the number of
    replications) far below IAM's 10,240 characters."""
    template = following(480, 20).to_json()
    by_role: dict[str, int] = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        document = resource["Properties"]["PolicyDocument"]
        for statement in document["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            resources = statement["Resource"]
            if any(a.startswith("ivs:") for a in actions):
                assert "*" not in (resources if isinstance(resources, list) else [resources])
        size = len(json.dumps(document, separators=(",", ":")))
        for role in resource["Properties"]["Roles"]:
            by_role[json.dumps(role)] = by_role.get(json.dumps(role), 0) + size
    assert by_role
    assert max(by_role.values()) < ROLE_POLICY_LIMIT / 4
