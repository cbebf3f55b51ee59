"""The provider's permissions: three IVS actions, scoped to stage ARNs, stable across updates."""

from __future__ import annotations

import fnmatch
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from tests.construct.helpers import (
    DESTINATION_ARN,
    OTHER_DESTINATION_ARN,
    new_stack,
    render,
    replicate,
)

IVS_ACTIONS = {
    "ivs:StartParticipantReplication",
    "ivs:StopParticipantReplication",
    "ivs:ListParticipantReplicas",
}


def ivs_statements(stack: cdk.Stack) -> list[dict[str, Any]]:
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    statements = [
        s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    return [s for s in statements if any(a.startswith("ivs:") for a in _as_list(s["Action"]))]


def granted_resources(stack: cdk.Stack) -> list[str]:
    return [render(r) for s in ivs_statements(stack) for r in _as_list(s["Resource"])]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_grants_exactly_the_three_ivs_actions() -> None:
    stack = new_stack()
    replicate(stack)

    (statement,) = ivs_statements(stack)
    assert set(statement["Action"]) == IVS_ACTIONS
    assert statement["Effect"] == "Allow"


def test_never_grants_ivs_actions_on_every_resource() -> None:
    stack = new_stack()
    for index in range(3):
        replicate(stack, f"R{index}", participant_id=f"p{index}")

    resources = granted_resources(stack)
    assert resources
    assert "*" not in resources
    assert all(r.startswith("arn:aws:ivs:") and ":stage/" in r for r in resources)


def test_policy_covers_the_replicated_stages() -> None:
    stack = new_stack()
    replicate(stack)

    patterns = granted_resources(stack)
    assert any(fnmatch.fnmatchcase(DESTINATION_ARN, p) for p in patterns)


def test_changing_the_destination_keeps_the_permission_to_stop_the_old_one() -> None:
    # CloudFormation updates the policy first, then creates the new replication, then
    # deletes the old one: the policy of the new template must still cover the old stage.
    before = new_stack()
    replicate(before, destination_stage=DESTINATION_ARN)
    after = new_stack()
    replicate(after, destination_stage=OTHER_DESTINATION_ARN)

    patterns_after = granted_resources(after)
    assert any(fnmatch.fnmatchcase(DESTINATION_ARN, p) for p in patterns_after)
    assert any(fnmatch.fnmatchcase(OTHER_DESTINATION_ARN, p) for p in patterns_after)
    assert granted_resources(before) == patterns_after


def test_policy_size_does_not_grow_with_the_number_of_replications() -> None:
    def policy_json_length(count: int) -> int:
        stack = new_stack()
        for index in range(count):
            replicate(stack, f"R{index}", participant_id=f"p{index}")
        return len(str(ivs_statements(stack)))

    assert policy_json_length(1) == policy_json_length(40)
