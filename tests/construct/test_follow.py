"""Follow mode in the template: the registry, the reconciler, one rule per publisher, one
permission per stack, and rules deleted before the replications they trigger."""

from __future__ import annotations

from typing import Any, NamedTuple

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from ivs_replication import IngestReplication, WhenNotPublishing
from ivs_replication_handler import contract as c
from tests.construct.helpers import (
    DESTINATION_ARN,
    OTHER_DESTINATION_ARN,
    SOURCE_ARN,
    cfn_stage,
    ingest_configuration,
    logical_ids,
    new_stack,
    render,
    replicate,
    resource_types,
)

CUSTOM_TYPE = c.RESOURCE_TYPE
RULE_TYPE = "AWS::Events::Rule"
FOLLOW = WhenNotPublishing.follow()


def encoder_fanned_out_to_three_stages() -> tuple[cdk.Stack, IngestReplication]:
    stack = new_stack()
    main = cfn_stage(stack, "Main")
    encoder = ingest_configuration(stack, main)
    fan_out = IngestReplication(
        stack,
        "EncoderEverywhere",
        ingest_configuration=encoder,
        destination_stages=[cfn_stage(stack, "Left"), DESTINATION_ARN, cfn_stage(stack, "Right")],
    )
    return stack, fan_out


class Synthesized(NamedTuple):
    stack: cdk.Stack
    fan_out: IngestReplication
    template: Template


@pytest.fixture(scope="module")
def encoder_stack() -> Synthesized:
    """One synthesis of `encoder_fanned_out_to_three_stages` for the tests that only read it."""
    stack, fan_out = encoder_fanned_out_to_three_stages()
    return Synthesized(stack, fan_out, Template.from_stack(stack))


def only(resources: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = resources.items()
    return logical_id, resource


def reconciler_id(template: Template) -> str:
    logical_id, _ = only(
        template.find_resources(
            "AWS::Lambda::Function", {"Properties": {"Handler": c.RECONCILER_ENTRY_POINT}}
        )
    )
    return logical_id


def table_id(template: Template) -> str:
    logical_id, _ = only(template.find_resources("AWS::DynamoDB::Table"))
    return logical_id


def policy_statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_an_encoder_fanned_out_to_three_stages_is_three_replications_and_one_rule(
    encoder_stack: Synthesized,
) -> None:
    stack, fan_out, template = encoder_stack

    replications = template.find_resources(CUSTOM_TYPE)
    assert len(replications) == 3
    assert {r["Properties"][c.PROP_WHEN_NOT_PUBLISHING] for r in replications.values()} == {
        c.MODE_FOLLOW
    }
    _, rule = only(template.find_resources(RULE_TYPE))
    encoder_id = stack.get_logical_id(fan_out.ingest_configuration)
    (main_id,) = template.find_resources("AWS::IVS::Stage", {"Properties": {"Name": "main"}})
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.ivs"],
        "detail-type": ["IVS Stage Update"],
        "detail": {
            "event_name": ["Participant Published"],
            "participant_id": [{"Fn::GetAtt": [encoder_id, "ParticipantId"]}],
        },
        "resources": [{"Fn::GetAtt": [main_id, "Arn"]}],
    }


def test_the_rule_delivers_the_event_itself_to_the_reconciler(encoder_stack: Synthesized) -> None:
    template = encoder_stack.template

    _, rule = only(template.find_resources(RULE_TYPE))
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [reconciler_id(template), "Arn"]}
    assert "Input" not in target
    assert "InputPath" not in target
    assert "InputTransformer" not in target


def test_the_rule_depends_on_every_replication_of_its_publisher(
    encoder_stack: Synthesized,
) -> None:
    # So CloudFormation deletes the rule before the replications: no late event can restart
    # a replication whose Stop has already run.
    template = encoder_stack.template

    _, rule = only(template.find_resources(RULE_TYPE))
    assert set(template.find_resources(CUSTOM_TYPE)) <= set(rule["DependsOn"])


def test_the_reconciler_runs_the_handler_asset_with_its_own_role_and_logs(
    encoder_stack: Synthesized,
) -> None:
    template = encoder_stack.template

    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": c.RECONCILER_ENTRY_POINT,
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "Timeout": 300,
            "MemorySize": 256,
            "LoggingConfig": Match.object_like({"LogFormat": "JSON"}),
            "Environment": {"Variables": {c.ENV_REGISTRY_TABLE: {"Ref": table_id(template)}}},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": reconciler_id(template)},
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 3600,
        },
    )
    functions = template.find_resources("AWS::Lambda::Function")
    by_handler = {f["Properties"].get("Handler"): f["Properties"] for f in functions.values()}
    reconciler, on_event = by_handler[c.RECONCILER_ENTRY_POINT], by_handler[c.ON_EVENT_ENTRY_POINT]
    assert reconciler["Code"] == on_event["Code"]  # the same asset
    roles = {str(f["Properties"]["Role"]) for f in functions.values()}
    log_groups = {str(f["Properties"]["LoggingConfig"]["LogGroup"]) for f in functions.values()}
    assert len(roles) == len(log_groups) == len(functions) == 3
    retention = template.find_resources("AWS::Logs::LogGroup")
    assert [g["Properties"]["RetentionInDays"] for g in retention.values()] == [30] * 3


def test_the_handler_knows_the_registry_table(encoder_stack: Synthesized) -> None:
    template = encoder_stack.template

    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": c.ON_EVENT_ENTRY_POINT,
            "Environment": {"Variables": {c.ENV_REGISTRY_TABLE: {"Ref": table_id(template)}}},
        },
    )


def test_the_registry_is_an_on_demand_table_with_point_in_time_recovery(
    encoder_stack: Synthesized,
) -> None:
    encoder_stack.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": Match.object_like(
                {
                    "KeySchema": [
                        {"AttributeName": c.REGISTRY_PARTITION_KEY, "KeyType": "HASH"},
                        {"AttributeName": c.REGISTRY_SORT_KEY, "KeyType": "RANGE"},
                    ],
                    "AttributeDefinitions": Match.array_with(
                        [
                            {"AttributeName": c.REGISTRY_PARTITION_KEY, "AttributeType": "S"},
                            {"AttributeName": c.REGISTRY_SORT_KEY, "AttributeType": "S"},
                        ]
                    ),
                    "BillingMode": "PAY_PER_REQUEST",
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                }
            ),
            "DeletionPolicy": "Delete",
        },
    )


def test_no_ivs_action_on_every_resource_and_dynamodb_only_on_the_table(
    encoder_stack: Synthesized,
) -> None:
    template = encoder_stack.template
    statements = policy_statements(template)
    table_arn = {"Fn::GetAtt": [table_id(template), "Arn"]}

    ivs_statements = [
        s for s in statements if any(a.startswith("ivs:") for a in as_list(s["Action"]))
    ]
    assert len(ivs_statements) == 2  # the handler's and the reconciler's
    for statement in ivs_statements:
        assert set(as_list(statement["Action"])) == set(c.IAM_ACTIONS)
        resources = [render(r) for r in as_list(statement["Resource"])]
        assert resources == ["arn:aws:ivs:*:123456789012:stage/*"]
    dynamodb_statements = [
        s for s in statements if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
    ]
    assert sorted(tuple(sorted(as_list(s["Action"]))) for s in dynamodb_statements) == sorted(
        [tuple(sorted(c.REGISTRY_HANDLER_ACTIONS)), tuple(sorted(c.REGISTRY_RECONCILER_ACTIONS))]
    )
    assert all(s["Resource"] == table_arn for s in dynamodb_statements)
    assert all(
        not a.startswith("dynamodb:") and not a.startswith("ivs:")
        for s in statements
        if s["Resource"] == "*"
        for a in as_list(s["Action"])
    )


def test_one_invoke_permission_for_twenty_publishers_and_twenty_rules() -> None:
    stack = new_stack()
    for index in range(20):
        replicate(stack, f"R{index}", participant_id=f"host-{index}", when_not_publishing=FOLLOW)
    template = Template.from_stack(stack)

    template.resource_count_is(RULE_TYPE, 20)
    _, permission = only(template.find_resources("AWS::Lambda::Permission"))
    props = permission["Properties"]
    assert props["Principal"] == "events.amazonaws.com"
    assert props["Action"] == "lambda:InvokeFunction"
    assert props["FunctionName"] == {"Fn::GetAtt": [reconciler_id(template), "Arn"]}
    assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert render(props["SourceArn"]) == "arn:aws:events:us-east-1:123456789012:rule/*"


def test_two_declarations_of_one_publisher_share_one_rule() -> None:
    stack = new_stack()
    replicate(stack, "First", destination_stage=DESTINATION_ARN, when_not_publishing=FOLLOW)
    replicate(stack, "Second", destination_stage=OTHER_DESTINATION_ARN, when_not_publishing=FOLLOW)
    template = Template.from_stack(stack)

    _, rule = only(template.find_resources(RULE_TYPE))
    assert rule["Properties"]["EventPattern"]["resources"] == [SOURCE_ARN]
    assert rule["Properties"]["EventPattern"]["detail"]["participant_id"] == ["host-1"]
    assert logical_ids(stack, CUSTOM_TYPE) <= set(rule["DependsOn"])


def test_two_declarations_from_one_stage_construct_share_one_rule() -> None:
    stack = new_stack()
    main = cfn_stage(stack, "Main")
    replicate(stack, "First", source_stage=main, when_not_publishing=FOLLOW)
    replicate(
        stack,
        "Second",
        source_stage=main,
        destination_stage=cfn_stage(stack, "Side"),
        when_not_publishing=FOLLOW,
    )

    Template.from_stack(stack).resource_count_is(RULE_TYPE, 1)


def test_one_stage_as_ref_and_as_getatt_makes_two_rules() -> None:
    """README, "Limits": the construct cannot tell two token forms of one stage apart."""
    stack = new_stack()
    main = cfn_stage(stack, "Main")
    replicate(stack, "AsRef", source_stage=main, when_not_publishing=FOLLOW)
    replicate(
        stack,
        "AsGetAtt",
        source_stage=main.attr_arn,
        destination_stage=OTHER_DESTINATION_ARN,
        when_not_publishing=FOLLOW,
    )
    template = Template.from_stack(stack)

    rules = list(template.find_resources(RULE_TYPE).values())
    assert len(rules) == 2
    (main_id,) = template.find_resources("AWS::IVS::Stage")
    assert sorted(str(r["Properties"]["EventPattern"]["resources"]) for r in rules) == sorted(
        [str([{"Ref": main_id}]), str([{"Fn::GetAtt": [main_id, "Arn"]}])]
    )


def test_a_fan_out_and_a_single_declaration_of_one_publisher_share_one_rule() -> None:
    stack = new_stack()
    main = cfn_stage(stack, "Main")
    encoder = ingest_configuration(stack, main)
    IngestReplication(
        stack, "Fan", ingest_configuration=encoder, destination_stages=[cfn_stage(stack, "A")]
    )
    replicate(
        stack,
        "Single",
        source_stage=encoder.stage_arn,
        participant_id=encoder.attr_participant_id,
        when_not_publishing=FOLLOW,
    )
    template = Template.from_stack(stack)

    _, rule = only(template.find_resources(RULE_TYPE))
    assert set(template.find_resources(CUSTOM_TYPE)) <= set(rule["DependsOn"])


def test_publishers_differing_in_stage_or_participant_get_a_rule_each() -> None:
    stack = new_stack()
    replicate(stack, "A", when_not_publishing=FOLLOW)
    replicate(stack, "B", participant_id="host-2", when_not_publishing=FOLLOW)
    replicate(
        stack,
        "C",
        source_stage=OTHER_DESTINATION_ARN,
        destination_stage=DESTINATION_ARN,
        when_not_publishing=FOLLOW,
    )

    Template.from_stack(stack).resource_count_is(RULE_TYPE, 3)


def test_fail_mode_stacks_hold_no_follow_infrastructure() -> None:
    stack = new_stack()
    replicate(stack)
    replicate(
        stack,
        "Waiting",
        participant_id="host-2",
        when_not_publishing=WhenNotPublishing.wait_up_to(cdk.Duration.seconds(30)),
    )
    template = Template.from_stack(stack)

    assert resource_types(stack) == sorted(
        [CUSTOM_TYPE] * 2
        + ["AWS::IAM::Policy"] * 2
        + ["AWS::IAM::Role"] * 2
        + ["AWS::Lambda::Function"] * 2
        + ["AWS::Logs::LogGroup"] * 2
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": c.ON_EVENT_ENTRY_POINT,
            "Environment": Match.object_equals({"Variables": {c.ENV_STACK_REPLICATIONS: "2"}}),
        },
    )
    template.has_resource_properties(
        CUSTOM_TYPE, {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FAIL, c.PROP_WAIT_SECONDS: 0}
    )


def test_the_follow_infrastructure_is_created_once_under_the_provider() -> None:
    stack, _ = encoder_fanned_out_to_three_stages()
    replicate(stack, "Another", participant_id="host-9", when_not_publishing=FOLLOW)
    template = Template.from_stack(stack)

    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.resource_count_is("AWS::Lambda::Permission", 1)
    template.resource_count_is("AWS::Lambda::Function", 3)
    follow = stack.node.find_child("IvsParticipantReplicationProvider").node.find_child("Follow")
    assert {child.node.id for child in follow.node.children} >= {"Registry", "Reconciler"}


def test_removing_one_destination_keeps_the_other_logical_ids() -> None:
    def fan_out_ids(destinations: list[str]) -> tuple[set[str], set[str]]:
        stack = new_stack()
        main = cfn_stage(stack, "Main")
        stages = {name: cfn_stage(stack, name) for name in ("Left", "Right")}
        chosen = [stages.get(d, d) for d in destinations]
        IngestReplication(
            stack,
            "Fan",
            ingest_configuration=ingest_configuration(stack, main),
            destination_stages=chosen,
        )
        return logical_ids(stack, CUSTOM_TYPE), logical_ids(stack, RULE_TYPE)

    replications_before, rule_before = fan_out_ids(["Left", DESTINATION_ARN, "Right"])
    replications_after, rule_after = fan_out_ids(["Left", "Right"])
    replications_reordered, _ = fan_out_ids(["Right", DESTINATION_ARN, "Left"])

    assert replications_after < replications_before
    assert len(replications_before - replications_after) == 1
    assert rule_after == rule_before
    assert replications_reordered == replications_before
