"""What `ParticipantReplication` puts in the template."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match, Template

from ivs_replication import (
    ParticipantFanOut,
    ParticipantReplication,
    ReplicationProvider,
    WhenNotPublishing,
)
from tests.construct.helpers import DESTINATION_ARN, SOURCE_ARN, cfn_stage, new_stack, replicate

CUSTOM_TYPE = "Custom::IvsParticipantReplication"


def test_emits_the_custom_resource_with_every_property(stack: cdk.Stack) -> None:
    replicate(
        stack,
        attributes={"role": "cohost"},
        reconnect_window=cdk.Duration.seconds(30),
    )

    Template.from_stack(stack).has_resource_properties(
        CUSTOM_TYPE,
        {
            "ServiceToken": Match.any_value(),
            "SourceStageArn": SOURCE_ARN,
            "DestinationStageArn": DESTINATION_ARN,
            "ParticipantId": "host-1",
            "Attributes": {"role": "cohost"},
            "ReconnectWindowSeconds": 30,
        },
    )


def test_optional_properties_default_to_the_api_defaults(stack: cdk.Stack) -> None:
    replicate(stack)

    Template.from_stack(stack).has_resource_properties(
        CUSTOM_TYPE, {"Attributes": {}, "ReconnectWindowSeconds": 0}
    )


def test_sets_a_service_timeout_of_minutes_not_an_hour(stack: cdk.Stack) -> None:
    replicate(stack)

    Template.from_stack(stack).has_resource_properties(CUSTOM_TYPE, {"ServiceTimeout": "600"})


def test_accepts_a_cfn_stage_and_references_its_arn(stack: cdk.Stack) -> None:
    main = cfn_stage(stack, "Main")
    side = cfn_stage(stack, "Side")
    replicate(stack, source_stage=main, destination_stage=side)

    template = Template.from_stack(stack)
    props = template.find_resources(CUSTOM_TYPE)
    (resource,) = props.values()
    source_ref = resource["Properties"]["SourceStageArn"]
    destination_ref = resource["Properties"]["DestinationStageArn"]
    stages = template.find_resources("AWS::IVS::Stage")
    assert {source_ref["Ref"], destination_ref["Ref"]} == set(stages)


def test_accepts_tokens_for_the_participant_id(stack: cdk.Stack) -> None:
    main = cfn_stage(stack, "Main")
    ingest = cdk.aws_ivs.CfnIngestConfiguration(
        stack, "Encoder", stage_arn=main.attr_arn, ingest_protocol="RTMPS"
    )
    replicate(stack, participant_id=ingest.attr_participant_id)

    Template.from_stack(stack).has_resource_properties(
        CUSTOM_TYPE, {"ParticipantId": {"Fn::GetAtt": [Match.any_value(), "ParticipantId"]}}
    )


def test_three_replications_share_one_provider() -> None:
    stack = new_stack()
    for index in range(3):
        replicate(stack, f"Replication{index}", participant_id=f"host-{index}")

    template = Template.from_stack(stack)
    replications = template.find_resources(CUSTOM_TYPE)
    assert len(replications) == 3
    tokens = {str(r["Properties"]["ServiceToken"]) for r in replications.values()}
    assert len(tokens) == 1
    python_functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Runtime": Match.string_like_regexp("python")}}
    )
    assert len(python_functions) == 1
    # The handler plus the provider framework's own function, whatever the count of replications.
    template.resource_count_is("AWS::Lambda::Function", 2)


def test_provider_lives_at_a_fixed_path_under_the_stack(stack: cdk.Stack) -> None:
    replicate(stack)

    provider = stack.node.find_child("IvsParticipantReplicationProvider")
    assert isinstance(provider, ReplicationProvider)
    assert ReplicationProvider.of(stack) is provider


def test_each_replication_costs_one_resource() -> None:
    one = new_stack()
    replicate(one)
    many = new_stack()
    for index in range(10):
        replicate(many, f"Replication{index}", participant_id=f"host-{index}")

    count_one = len(Template.from_stack(one).to_json()["Resources"])
    count_many = len(Template.from_stack(many).to_json()["Resources"])
    assert count_many - count_one == 9


def test_handler_runs_on_current_python_arm64_with_the_entry_point(stack: cdk.Stack) -> None:
    replicate(stack)

    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "Handler": "ivs_replication_handler.handler.on_event",
            # Below the custom resource's ServiceTimeout (600 s): the handler ends first.
            "Timeout": 300,
            "LoggingConfig": Match.object_like({"LogGroup": Match.any_value()}),
        },
    )


def test_log_groups_have_a_retention(stack: cdk.Stack) -> None:
    replicate(stack)

    template = Template.from_stack(stack)
    log_groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(log_groups) == 2  # the handler's and the provider framework's
    assert {g["Properties"]["RetentionInDays"] for g in log_groups.values()} == {30}


def test_replication_id_is_the_custom_resource_reference(stack: cdk.Stack) -> None:
    replication = replicate(stack)

    assert stack.resolve(replication.replication_id) == {
        "Ref": stack.get_logical_id(replication.resource.node.default_child)
    }


def test_reserved_provider_id_taken_by_another_construct_is_reported(stack: cdk.Stack) -> None:
    cdk.CfnResource(stack, "IvsParticipantReplicationProvider", type="AWS::SNS::Topic")

    with pytest.raises(ValueError, match="'IvsParticipantReplicationProvider' is reserved"):
        replicate(stack)


def test_warns_when_stages_are_in_different_regions(stack: cdk.Stack) -> None:
    replicate(stack, destination_stage="arn:aws:ivs:eu-west-1:123456789012:stage/DestinationStage1")

    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp("does not document replication across regions")
    )


def test_warns_when_stages_are_in_different_accounts(stack: cdk.Stack) -> None:
    replicate(stack, destination_stage="arn:aws:ivs:us-east-1:210987654321:stage/DestinationStage1")

    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp("does not document replication across regions or accounts")
    )


def test_no_warning_for_stages_of_one_region(stack: cdk.Stack) -> None:
    replicate(stack)

    Annotations.from_stack(stack).has_no_warning("*", Match.any_value())


def test_warns_when_a_stage_is_in_another_account_than_the_stack() -> None:
    stack = new_stack(env=cdk.Environment(account="210987654321", region="us-east-1"))
    replicate(stack)

    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp("not this stack's account")
    )


def test_replications_in_two_stacks_get_a_provider_each() -> None:
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    first, second = cdk.Stack(app, "First"), cdk.Stack(app, "Second")
    for stack, participant_id in ((first, "a"), (second, "b")):
        ParticipantReplication(
            stack,
            "R",
            source_stage=SOURCE_ARN,
            destination_stage=DESTINATION_ARN,
            participant_id=participant_id,
            when_not_publishing=WhenNotPublishing.fail(),  # the provider alone
        )

    for stack in (first, second):
        Template.from_stack(stack).resource_count_is("AWS::Lambda::Function", 2)


def test_the_handler_knows_how_many_replications_its_stack_holds() -> None:
    """The count a throttled burst of creates spreads its retries by: every replication of the
    stack, whatever its mode or the construct that made it."""
    stack = new_stack()
    replicate(stack, "Single")
    ParticipantFanOut(
        stack,
        "FanOut",
        source_stage=SOURCE_ARN,
        participant_id="host-2",
        destination_stages=[DESTINATION_ARN, "arn:aws:ivs:us-east-1:123456789012:stage/Side3"],
        when_not_publishing=WhenNotPublishing.follow(),
    )

    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "ivs_replication_handler.handler.on_event",
            "Environment": {
                "Variables": Match.object_like({"IVS_REPLICATION_STACK_REPLICATIONS": "3"})
            },
        },
    )
