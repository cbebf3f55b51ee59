"""`ParticipantFanOut` and `IngestReplication`: one custom resource per destination, under ids
that stay put when destinations come and go."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ivs as ivs
from aws_cdk.assertions import Template

from ivs_replication import (
    IngestReplication,
    ParticipantFanOut,
    ParticipantReplication,
    WhenNotPublishing,
)
from ivs_replication_handler import contract as c
from tests.construct.helpers import (
    DESTINATION_ARN,
    OTHER_DESTINATION_ARN,
    SOURCE_ARN,
    cfn_stage,
    ingest_configuration,
    logical_ids,
    new_stack,
)

CUSTOM_TYPE = c.RESOURCE_TYPE
RULE_TYPE = "AWS::Events::Rule"


def fan_out(stack: cdk.Stack, **overrides: Any) -> ParticipantFanOut:
    props: dict[str, Any] = {
        "source_stage": SOURCE_ARN,
        "participant_id": "host-1",
        "destination_stages": [DESTINATION_ARN, OTHER_DESTINATION_ARN],
    }
    props.update(overrides)
    return ParticipantFanOut(stack, "FanOut", **props)


def test_each_destination_is_its_own_replication_with_the_shared_settings(
    stack: cdk.Stack,
) -> None:
    result = fan_out(
        stack, attributes={"role": "cohost"}, reconnect_window=cdk.Duration.seconds(20)
    )

    assert [r.destination_stage_arn for r in result.replications] == [
        DESTINATION_ARN,
        OTHER_DESTINATION_ARN,
    ]
    template = Template.from_stack(stack)
    for destination in (DESTINATION_ARN, OTHER_DESTINATION_ARN):
        template.has_resource_properties(
            CUSTOM_TYPE,
            {
                "SourceStageArn": SOURCE_ARN,
                "DestinationStageArn": destination,
                "ParticipantId": "host-1",
                "Attributes": {"role": "cohost"},
                "ReconnectWindowSeconds": 20,
                "WhenNotPublishing": "FOLLOW",  # the default
            },
        )


def test_a_fan_out_follows_by_default_with_one_rule_for_its_publisher(stack: cdk.Stack) -> None:
    fan_out(stack)

    template = Template.from_stack(stack)
    template.resource_count_is(CUSTOM_TYPE, 2)
    template.resource_count_is(RULE_TYPE, 1)
    template.resource_count_is("AWS::DynamoDB::Table", 1)


def test_a_failing_fan_out_has_no_rule_and_only_the_registry(stack: cdk.Stack) -> None:
    """Fail mode needs no reconciler: the one table is the registry of who declares what."""
    fan_out(stack, when_not_publishing=WhenNotPublishing.fail())

    template = Template.from_stack(stack)
    template.resource_count_is(RULE_TYPE, 0)
    template.resource_count_is("AWS::DynamoDB::Table", 1)


def test_the_stacks_one_rule_lives_at_a_fixed_path_whatever_declares_it(stack: cdk.Stack) -> None:
    """Its logical id never depends on which fan-out or replication came first."""
    fan_out(stack, when_not_publishing=WhenNotPublishing.follow())

    rule = (
        stack.node.find_child("IvsParticipantReplicationProvider")
        .node.find_child("Follow")
        .node.find_child("PublishedRule")
    )
    (rule_id,) = logical_ids(stack, RULE_TYPE)
    assert stack.resolve(rule.logical_id) == rule_id  # type: ignore[attr-defined]


def test_child_ids_come_from_the_stage_not_its_position(stack: cdk.Stack) -> None:
    left = cfn_stage(stack, "Left")
    result = fan_out(stack, destination_stages=[left, DESTINATION_ARN])

    ids = [r.node.id for r in result.replications]
    assert ids[0] == cdk.Names.unique_id(left)
    assert ids[1] == "DestinationStage1"


def test_add_destination_appends_a_replication(stack: cdk.Stack) -> None:
    result = fan_out(stack, destination_stages=[DESTINATION_ARN])

    added = result.add_destination(OTHER_DESTINATION_ARN)

    assert isinstance(added, ParticipantReplication)
    assert result.replications[-1] is added
    Template.from_stack(stack).resource_count_is(CUSTOM_TYPE, 2)


def test_a_token_destination_needs_an_explicit_construct_id(stack: cdk.Stack) -> None:
    token_arn = cdk.Fn.import_value("SideStageArn")
    result = fan_out(stack, destination_stages=[])

    with pytest.raises(ValueError, match="Invalid destination_stages:") as caught:
        result.add_destination(token_arn)
    assert "construct_id" in str(caught.value)
    assert "stage construct" in str(caught.value)

    added = result.add_destination(token_arn, construct_id="Side")
    assert added.node.id == "Side"


def test_a_token_destination_in_the_list_is_reported(stack: cdk.Stack) -> None:
    with pytest.raises(ValueError, match="add_destination"):
        fan_out(stack, destination_stages=[cdk.Fn.import_value("SideStageArn")])


def test_a_duplicate_destination_is_rejected(stack: cdk.Stack) -> None:
    left = cfn_stage(stack, "Left")

    with pytest.raises(ValueError, match=r"Invalid destination_stages: .* already a destination"):
        fan_out(stack, destination_stages=[left, DESTINATION_ARN, left])


def test_a_duplicate_construct_id_is_rejected(stack: cdk.Stack) -> None:
    result = fan_out(stack, destination_stages=[DESTINATION_ARN])

    with pytest.raises(ValueError, match="Invalid construct_id: 'DestinationStage1' already"):
        result.add_destination(OTHER_DESTINATION_ARN, construct_id="DestinationStage1")


def test_the_source_as_a_destination_is_rejected(stack: cdk.Stack) -> None:
    with pytest.raises(
        ValueError, match="Invalid destination_stages: it is the same stage as source_stage"
    ):
        fan_out(stack, destination_stages=[DESTINATION_ARN, SOURCE_ARN])


@pytest.mark.parametrize(
    ("overrides", "prop"),
    [
        ({"destination_stages": DESTINATION_ARN}, "destination_stages"),
        ({"destination_stages": ["not-an-arn"]}, "destination_stages"),
        ({"source_stage": "not-an-arn"}, "source_stage"),
        ({"participant_id": "host 1"}, "participant_id"),
        ({"attributes": {"k": "v" * 1024}}, "attributes"),
        ({"reconnect_window": cdk.Duration.seconds(301)}, "reconnect_window"),
        ({"when_not_publishing": "FOLLOW"}, "when_not_publishing"),
    ],
)
def test_invalid_props_fail_before_any_destination(
    stack: cdk.Stack, overrides: dict[str, Any], prop: str
) -> None:
    # Found by the fan-out itself: with no destination yet, and before any child replication.
    with pytest.raises(ValueError, match=rf"Invalid {prop}:"):
        fan_out(stack, **{"destination_stages": [], **overrides})
    with_destination = new_stack()
    with pytest.raises(ValueError, match=rf"Invalid {prop}:"):
        fan_out(with_destination, **{"destination_stages": [DESTINATION_ARN], **overrides})
    assert with_destination.node.find_child("FanOut").node.children == []


def test_an_ingest_replication_follows_the_encoder_by_default(stack: cdk.Stack) -> None:
    main = cfn_stage(stack, "Main")
    encoder = ingest_configuration(stack, main)
    result = IngestReplication(
        stack, "Encoder2", ingest_configuration=encoder, destination_stages=[DESTINATION_ARN]
    )

    assert result.when_not_publishing == WhenNotPublishing.follow()
    assert result.participant_id == encoder.attr_participant_id
    assert result.source_stage_arn == encoder.stage_arn
    Template.from_stack(stack).has_resource_properties(
        CUSTOM_TYPE,
        {
            "SourceStageArn": stack.resolve(main.attr_arn),
            "ParticipantId": stack.resolve(encoder.attr_participant_id),
            "WhenNotPublishing": "FOLLOW",
        },
    )


def test_an_ingest_replication_may_fail_instead(stack: cdk.Stack) -> None:
    encoder = ingest_configuration(stack, cfn_stage(stack, "Main"))
    IngestReplication(
        stack,
        "Encoder2",
        ingest_configuration=encoder,
        destination_stages=[DESTINATION_ARN],
        when_not_publishing=WhenNotPublishing.fail(),
    )

    template = Template.from_stack(stack)
    template.resource_count_is(RULE_TYPE, 0)
    template.has_resource_properties(CUSTOM_TYPE, {"WhenNotPublishing": "FAIL"})


def test_an_ingest_configuration_without_a_stage_is_rejected(stack: cdk.Stack) -> None:
    encoder = ivs.CfnIngestConfiguration(stack, "Loose", ingest_protocol="RTMPS")

    with pytest.raises(ValueError, match=r"Invalid ingest_configuration: .* has no stage_arn"):
        IngestReplication(
            stack, "Encoder2", ingest_configuration=encoder, destination_stages=[DESTINATION_ARN]
        )


def test_an_ingest_configuration_with_a_bad_concrete_stage_is_rejected(stack: cdk.Stack) -> None:
    encoder = ivs.CfnIngestConfiguration(stack, "Bad", stage_arn="nope")

    with pytest.raises(ValueError, match=r"Invalid ingest_configuration\.stage_arn:"):
        IngestReplication(
            stack, "Encoder2", ingest_configuration=encoder, destination_stages=[DESTINATION_ARN]
        )


def test_something_else_than_an_ingest_configuration_is_rejected(stack: cdk.Stack) -> None:
    with pytest.raises(ValueError, match="Invalid ingest_configuration: a CfnStage was given"):
        IngestReplication(
            stack,
            "Encoder2",
            ingest_configuration=cfn_stage(stack, "Main"),  # type: ignore[arg-type]
            destination_stages=[DESTINATION_ARN],
        )


def test_an_added_destination_whose_id_is_taken_is_refused_naming_construct_id(
    stack: cdk.Stack,
) -> None:
    """Two children with one id would be a synth crash deep in the CDK: refused first, with
    the property and the allowed form."""
    result = fan_out(stack, destination_stages=[DESTINATION_ARN])
    taken = result.replications[0].node.id

    with pytest.raises(ValueError, match=r"construct_id.*already names a child.*the fan-out"):
        result.add_destination(OTHER_DESTINATION_ARN, construct_id=taken)
