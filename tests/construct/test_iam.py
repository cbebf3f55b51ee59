"""The provider's permissions: three IVS replication actions and two reads, scoped to the
stages of the stack's own account and region, stable across updates; each role writes its own
logs only; and the acknowledgments of cdk-nag's wildcard findings match what each
configuration renders."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from ivs_replication import WhenNotPublishing
from ivs_replication.nag import flatten
from ivs_replication_handler import contract as c
from tests.configurations import ACCOUNT, CONFIGURATIONS, Configuration
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
    # Read-only: whether a refused Start means "not publishing" is decided from state.
    "ivs:GetStage",
    "ivs:GetParticipant",
    # Read-only: who publishes in a mirror's source, which replicas a mirror holds.
    "ivs:ListParticipants",
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


def test_grants_exactly_the_replication_actions_and_the_reads() -> None:
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


def test_each_role_writes_only_its_own_logs_and_has_no_managed_policy() -> None:
    stack = new_stack()
    replicate(stack)
    template = Template.from_stack(stack)

    roles = template.find_resources("AWS::IAM::Role")
    assert len(roles) == 2  # the handler's and the provider framework's
    assert all("ManagedPolicyArns" not in role["Properties"] for role in roles.values())
    statements = statements_by_function(template)
    assert set(statements) == {"handler", "framework"}
    handler_id = handler_logical_id(template)
    for name, (log_group_id, granted) in statements.items():
        logs = [s for s in granted if _writes_logs(s)]
        assert logs, name
        assert all(s["Resource"] == {"Fn::GetAtt": [log_group_id, "Arn"]} for s in logs), name
    # The handler: its logs and exactly two more statements, the IVS one and the registry's.
    (_, handler_granted) = statements["handler"]
    (table_id,) = template.find_resources("AWS::DynamoDB::Table")
    registry = {
        "Effect": "Allow",
        "Action": list(c.REGISTRY_HANDLER_ACTIONS),
        "Resource": {"Fn::GetAtt": [table_id, "Arn"]},
    }
    assert [s for s in handler_granted if not _writes_logs(s)] == [
        *ivs_statements(stack),
        registry,
    ]
    # The framework may invoke the handler, any version of it, and no other function.
    (_, framework_granted) = statements["framework"]
    (invoke,) = [s for s in framework_granted if s["Action"] == "lambda:InvokeFunction"]
    handler_arn = {"Fn::GetAtt": [handler_id, "Arn"]}
    assert invoke["Resource"] == [handler_arn, {"Fn::Join": ["", [handler_arn, ":*"]]}]
    lambda_resources = [
        r
        for s in framework_granted
        if any(a.startswith("lambda:") for a in _as_list(s["Action"]))
        for r in _as_list(s["Resource"])
    ]
    assert all(handler_id in str(r) for r in lambda_resources)


def _writes_logs(statement: dict[str, Any]) -> bool:
    return any(a.startswith("logs:") for a in _as_list(statement["Action"]))


def handler_logical_id(template: Template) -> str:
    (logical_id,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": c.ON_EVENT_ENTRY_POINT}}
    )
    return logical_id


def statements_by_function(template: Template) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """For each function ("handler" or "framework"): its log group's logical id and the
    statements of its role's policies."""
    policies = template.find_resources("AWS::IAM::Policy").values()
    result: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for function in template.find_resources("AWS::Lambda::Function").values():
        props = function["Properties"]
        name = "handler" if props.get("Handler") == c.ON_EVENT_ENTRY_POINT else "framework"
        role_id = props["Role"]["Fn::GetAtt"][0]
        granted = [
            s
            for p in policies
            if {"Ref": role_id} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        ]
        result[name] = (props["LoggingConfig"]["LogGroup"]["Ref"], granted)
    return result


def ivs_resource_of(stack: cdk.Stack) -> Any:
    [resource] = {json.dumps(s["Resource"]) for s in ivs_statements(stack)}
    return json.loads(resource)


def test_an_env_agnostic_stack_grants_the_stages_of_the_region_it_is_deployed_in() -> None:
    stack = new_stack()
    replicate(stack)
    assert ivs_resource_of(stack) == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ivs:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":stage/*",
            ],
        ]
    }


@pytest.mark.parametrize(
    "configuration", [c for c in CONFIGURATIONS if c.region], ids=lambda c: c.name
)
def test_a_stack_in_a_concrete_region_grants_that_regions_stages_only(
    configuration: Configuration,
) -> None:
    stack = cdk.Stack(configuration.app(), "Live", env=configuration.env)
    replicate(stack)
    pattern = flatten(stack.resolve(ivs_resource_of(stack)))
    partition = configuration.partition if configuration.recommended else "<AWS::Partition>"
    assert pattern == f"arn:{partition}:ivs:{configuration.region}:{ACCOUNT}:stage/*"
    assert not fnmatch.fnmatchcase(f"arn:{partition}:ivs:eu-west-1:{ACCOUNT}:stage/Other", pattern)


def wildcard_findings(policy: dict[str, Any]) -> set[str]:
    """The IAM5 findings cdk-nag reports on a policy's resources (its own rendering)."""
    return {
        f"Resource::{flatten(resource)}"
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
        for resource in _as_list(statement["Resource"])
        if "*" in flatten(resource)
    }


def acknowledged_for_cdk_nag_2(resource: dict[str, Any], rule: str) -> set[str]:
    suppressions = resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    return {a for s in suppressions if s["id"] == rule for a in s.get("applies_to", [])}


@pytest.mark.parametrize("configuration", CONFIGURATIONS, ids=lambda c: c.name)
def test_each_wildcard_finding_is_acknowledged_as_the_configuration_renders_it(
    configuration: Configuration,
) -> None:
    """The acknowledgments' finding ids are computed from the resources the template holds,
    so they match in every environment and with every recommended flag (partition literals,
    minimized policies): no finding left over, none acknowledged that does not exist."""
    stack = cdk.Stack(configuration.app(), "Live", env=configuration.env)
    replicate(stack, when_not_publishing=WhenNotPublishing.follow())  # handler and reconciler
    template = Template.from_stack(stack).to_json()

    policies = {
        lid: r for lid, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Policy"
    }
    assert len(policies) == 3  # handler, framework, reconciler
    for logical_id, policy in policies.items():
        findings = wildcard_findings(policy)
        assert findings, logical_id
        assert acknowledged_for_cdk_nag_2(policy, "AwsSolutions-IAM5") == findings, logical_id


@pytest.mark.parametrize(
    ("rendered", "flat"),
    [
        (
            {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":ivs:*"]]},
            "arn:<AWS::Partition>:ivs:*",
        ),
        ({"Fn::Join": ["", [{"Fn::GetAtt": ["OnEvent1", "Arn"]}, ":*"]]}, "<OnEvent1.Arn>:*"),
        ({"Fn::Sub": "arn:${AWS::Partition}:s3:::b/*"}, "arn:<AWS::Partition>:s3:::b/*"),
        ({"Fn::ImportValue": "Shared-Arn"}, "Shared-Arn"),
        ({"Fn::Select": [0, ["a"]]}, '{"Fn::Select":[0,["a"]]}'),
        ("arn:aws-cn:ivs:cn-north-1:1:stage/*", "arn:aws-cn:ivs:cn-north-1:1:stage/*"),
    ],
)
def test_finding_ids_are_rendered_as_cdk_nag_renders_them(rendered: Any, flat: str) -> None:
    # cdk-nag's flattenCfnReference, versions 2 and 3 (utils/flatten-cfn-reference.js).
    assert flatten(rendered) == flat
