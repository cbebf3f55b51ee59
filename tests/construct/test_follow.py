"""Follow mode in the template: the registry, the reconciler, ONE rule and one permission per
stack whatever the number of publishers, its pattern within EventBridge's limit, and no
dependency between the rule and the replications."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from ivs_replication import IngestReplication, ReplicationProvider, WhenNotPublishing
from ivs_replication_handler import contract as c
from tests.construct.helpers import (
    DESTINATION_ARN,
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
# EventBridge's limit on an event pattern, in characters.
EVENT_PATTERN_LIMIT = 2048
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


def test_the_rule_comes_before_the_replications_and_depends_on_none(
    encoder_stack: Synthesized,
) -> None:
    """The rule exists before the first replication (an encoder switched on during the first
    deploy is caught); the registry protocol, not the delete order, keeps a late event from
    restarting a replication whose Stop has run (tests/races)."""
    template = encoder_stack.template

    _, rule = only(template.find_resources(RULE_TYPE))
    permission_id, _ = only(template.find_resources("AWS::Lambda::Permission"))
    assert rule["DependsOn"] == [permission_id]
    for replication in template.find_resources(CUSTOM_TYPE).values():
        assert "DependsOn" not in replication


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
        assert resources == ["arn:aws:ivs:us-east-1:123456789012:stage/*"]
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


def test_one_invoke_permission_and_one_rule_for_twenty_publishers() -> None:
    stack = new_stack()
    for index in range(20):
        replicate(stack, f"R{index}", participant_id=f"host-{index}", when_not_publishing=FOLLOW)
    template = Template.from_stack(stack)

    _, rule = only(template.find_resources(RULE_TYPE))
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["resources"] == [SOURCE_ARN]
    assert pattern["detail"]["participant_id"] == [f"host-{index}" for index in range(20)]
    _, permission = only(template.find_resources("AWS::Lambda::Permission"))
    props = permission["Properties"]
    assert props["Principal"] == "events.amazonaws.com"
    assert props["Action"] == "lambda:InvokeFunction"
    assert props["FunctionName"] == {"Fn::GetAtt": [reconciler_id(template), "Arn"]}
    assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert render(props["SourceArn"]) == "arn:aws:events:us-east-1:123456789012:rule/*"


def test_declarations_of_one_publisher_are_listed_once() -> None:
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
    template = Template.from_stack(stack)

    _, rule = only(template.find_resources(RULE_TYPE))
    (main_id,) = template.find_resources("AWS::IVS::Stage", {"Properties": {"Name": "main"}})
    assert rule["Properties"]["EventPattern"]["resources"] == [{"Ref": main_id}]
    assert rule["Properties"]["EventPattern"]["detail"]["participant_id"] == ["host-1"]


@pytest.mark.parametrize(("publishers", "stages"), [(1, 1), (50, 5), (480, 20)])
def test_the_published_rule_stays_one_however_many_publishers(
    following: Callable[[int, int], Template], publishers: int, stages: int
) -> None:
    template = following(publishers, stages)

    published = template.find_resources(
        RULE_TYPE, {"Properties": {"EventPattern": Match.any_value()}}
    )
    assert len(published) == 1
    template.resource_count_is(RULE_TYPE, 2)  # and the sweep's schedule


def test_the_pattern_drops_participants_then_stages_to_stay_within_2048_characters() -> None:
    """Counting every token at its longest (a 128-character ARN): 12 stage tokens and 12 short
    participant ids fit; 16 stage tokens alone (16 x 131 characters) do not, so the rule
    matches every stage of the account and the reconciler filters through the registry."""
    stack = new_stack()
    stages = [cfn_stage(stack, f"Stage{index}") for index in range(16)]
    destination = cfn_stage(stack, "Destination")
    for index, stage in enumerate(stages):
        replicate(
            stack,
            f"R{index}",
            source_stage=stage,
            destination_stage=destination,
            participant_id=f"p-{index}",
            when_not_publishing=FOLLOW,
        )
    stack_with_twelve = new_stack()
    twelve = [cfn_stage(stack_with_twelve, f"Stage{index}") for index in range(12)]
    for index, stage in enumerate(twelve):
        replicate(
            stack_with_twelve,
            f"R{index}",
            source_stage=stage,
            destination_stage=DESTINATION_ARN,
            participant_id=f"p-{index}",
            when_not_publishing=FOLLOW,
        )

    _, sixteen_rule = only(Template.from_stack(stack).find_resources(RULE_TYPE))
    _, twelve_rule = only(Template.from_stack(stack_with_twelve).find_resources(RULE_TYPE))
    assert "resources" not in sixteen_rule["Properties"]["EventPattern"]
    assert "participant_id" not in sixteen_rule["Properties"]["EventPattern"]["detail"]
    assert len(twelve_rule["Properties"]["EventPattern"]["resources"]) == 12
    assert "participant_id" in twelve_rule["Properties"]["EventPattern"]["detail"]


def longest_deployed_length(pattern: dict[str, Any]) -> int:
    """The pattern's length as EventBridge counts it, each stage token deployed as the longest
    ARN IVS allows and each participant id token as the longest id."""

    def longest(value: Any, placeholder: str) -> Any:
        return placeholder if isinstance(value, dict) else value  # a Ref or Fn::GetAtt

    detail = dict(pattern["detail"])
    if "participant_id" in detail:
        ids = detail["participant_id"]
        detail["participant_id"] = [longest(p, "p" * c.PARTICIPANT_ID_MAX_LENGTH) for p in ids]
    deployed = {**pattern, "detail": detail}
    if "resources" in pattern:
        arns = pattern["resources"]
        deployed["resources"] = [longest(arn, "a" * c.STAGE_ARN_MAX_LENGTH) for arn in arns]
    return len(json.dumps(deployed, separators=(",", ":")))


def test_a_pattern_too_long_with_the_participant_ids_lists_the_stages_alone() -> None:
    """The middle step: 12 stage tokens fit (12 x 131 characters), but not with 40 participant
    ids beside them, so the rule matches any participant of the stack's source stages (the
    reconciler filters through the registry) rather than any stage of the account."""
    stack = new_stack()
    stages = [cfn_stage(stack, f"Stage{index}") for index in range(12)]
    participants = [f"publisher-{index}" for index in range(40)]
    for index, participant in enumerate(participants):
        replicate(
            stack,
            f"R{index}",
            source_stage=stages[index % len(stages)],
            destination_stage=DESTINATION_ARN,
            participant_id=participant,
            when_not_publishing=FOLLOW,
        )

    _, rule = only(Template.from_stack(stack).find_resources(RULE_TYPE))
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["resources"] == [{"Ref": stack.get_logical_id(stage)} for stage in stages]
    assert pattern["detail"] == {"event_name": [c.EVENT_PARTICIPANT_PUBLISHED]}
    assert longest_deployed_length(pattern) <= EVENT_PATTERN_LIMIT
    with_participants = {**pattern, "detail": {**pattern["detail"], "participant_id": participants}}
    assert longest_deployed_length(with_participants) > EVENT_PATTERN_LIMIT  # the premise


def test_fail_mode_stacks_hold_the_registry_and_no_follow_infrastructure() -> None:
    """Every stack with a replication records who declares it (ownership: a renamed
    construct's Delete must not stop what its new resource declares); only follow mode adds
    the reconciler, its queue, permission and rule."""
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
        + ["AWS::DynamoDB::Table"]
        + ["AWS::IAM::Policy"] * 2
        + ["AWS::IAM::Role"] * 2
        + ["AWS::Lambda::Function"] * 2
        + ["AWS::Logs::LogGroup"] * 2
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": c.ON_EVENT_ENTRY_POINT,
            "Environment": Match.object_equals(
                {
                    "Variables": {
                        c.ENV_STACK_REPLICATIONS: "2",
                        c.ENV_STACK_NAME: "TestStack",
                        c.ENV_REGISTRY_TABLE: {"Ref": table_id(template)},
                    }
                }
            ),
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


@pytest.mark.parametrize("paced_first", [True, False])
def test_the_ivs_pace_is_a_provider_setting_both_functions_read(paced_first: bool) -> None:
    stack = new_stack()
    if paced_first:
        ReplicationProvider.of(stack).pace_ivs_calls(calls_per_second=10)
    replicate(stack, when_not_publishing=FOLLOW)
    if not paced_first:
        ReplicationProvider.of(stack).pace_ivs_calls(calls_per_second=10)
    template = Template.from_stack(stack)

    for entry_point in (c.RECONCILER_ENTRY_POINT, c.ON_EVENT_ENTRY_POINT):
        template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Handler": entry_point,
                "Environment": {"Variables": Match.object_like({c.ENV_IVS_CALLS_PER_SECOND: "10"})},
            },
        )


@pytest.mark.parametrize("rate", [0, -1, 101])
def test_a_reconciler_pace_out_of_range_is_refused_with_the_allowed_form(rate: float) -> None:
    with pytest.raises(ValueError, match=r"Invalid calls_per_second: .* at most 100"):
        ReplicationProvider.of(new_stack()).pace_ivs_calls(calls_per_second=rate)
