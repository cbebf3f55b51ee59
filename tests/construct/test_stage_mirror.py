"""`StageMirror`: one custom resource per destination stage, under ids derived from the stage;
every publisher of the source stage routed to the reconciler; validated at synth."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from ivs_replication import ParticipantFanOut, StageMirror
from ivs_replication_handler import contract as c
from tests.construct.helpers import (
    DESTINATION_ARN,
    OTHER_DESTINATION_ARN,
    SOURCE_ARN,
    cfn_stage,
    logical_ids,
    new_stack,
    replicate,
)

MIRROR_TYPE = c.MIRROR_RESOURCE_TYPE
RULE_TYPE = "AWS::Events::Rule"


def mirror(stack: cdk.Stack, construct_id: str = "Mirror", **overrides: Any) -> StageMirror:
    props: dict[str, Any] = {
        "source_stage": SOURCE_ARN,
        "destination_stages": [DESTINATION_ARN, OTHER_DESTINATION_ARN],
    }
    props.update(overrides)
    return StageMirror(stack, construct_id, **props)


def handler_environment(stack: cdk.Stack) -> dict[str, Any]:
    functions = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
    [handler] = [
        f for f in functions.values() if f["Properties"].get("Handler") == c.ON_EVENT_ENTRY_POINT
    ]
    return dict(handler["Properties"]["Environment"]["Variables"])


def test_each_destination_is_one_mirror_resource_with_the_shared_settings(
    stack: cdk.Stack,
) -> None:
    result = mirror(
        stack,
        user_ids=["host-1", "host-2"],
        attributes={"room": "audience"},
        reconnect_window=cdk.Duration.seconds(15),
    )

    assert [d.destination_stage_arn for d in result.destinations] == [
        DESTINATION_ARN,
        OTHER_DESTINATION_ARN,
    ]
    template = Template.from_stack(stack)
    template.resource_count_is(MIRROR_TYPE, 2)
    for destination in (DESTINATION_ARN, OTHER_DESTINATION_ARN):
        template.has_resource_properties(
            MIRROR_TYPE,
            {
                "SourceStageArn": SOURCE_ARN,
                "DestinationStageArn": destination,
                "UserIds": ["host-1", "host-2"],
                "Attributes": {"room": "audience"},
                "ReconnectWindowSeconds": 15,
            },
        )


def test_without_user_ids_the_property_is_left_out(stack: cdk.Stack) -> None:
    mirror(stack)

    resources = Template.from_stack(stack).find_resources(MIRROR_TYPE)
    assert all(c.PROP_USER_IDS not in r["Properties"] for r in resources.values())


def test_adding_a_destination_keeps_the_other_destinations_logical_ids() -> None:
    """Adding or removing a destination creates or deletes that destination's resource only."""
    before, after = new_stack(), new_stack()
    mirror(before, destination_stages=[DESTINATION_ARN])
    mirror(after, destination_stages=[OTHER_DESTINATION_ARN, DESTINATION_ARN])

    assert set(logical_ids(before, MIRROR_TYPE)) < set(logical_ids(after, MIRROR_TYPE))


def test_stage_constructs_give_stable_ids_and_add_destination_takes_one_more(
    stack: cdk.Stack,
) -> None:
    main, first, second = (cfn_stage(stack, n) for n in ("Main", "Audience1", "Audience2"))
    result = StageMirror(stack, "Mirror", source_stage=main, destination_stages=[first])

    added = result.add_destination(second)

    assert added.node.id != result.destinations[0].node.id
    assert len(logical_ids(stack, MIRROR_TYPE)) == 2


def test_a_token_destination_needs_an_explicit_construct_id(stack: cdk.Stack) -> None:
    parameter = cdk.CfnParameter(stack, "Audience")
    result = mirror(stack, destination_stages=[])

    with pytest.raises(ValueError, match="add_destination"):
        result.add_destination(parameter.value_as_string)
    result.add_destination(parameter.value_as_string, construct_id="FromParameter")
    assert len(logical_ids(stack, MIRROR_TYPE)) == 1


def test_every_publisher_of_the_source_reaches_the_reconciler(stack: cdk.Stack) -> None:
    """The stack's one rule matches by stage once a stage is mirrored (any participant id)."""
    replicate(stack, "Explicit", source_stage=OTHER_DESTINATION_ARN)
    mirror(stack, destination_stages=[DESTINATION_ARN])

    rules = Template.from_stack(stack).find_resources(RULE_TYPE)
    [pattern] = [r["Properties"]["EventPattern"] for r in rules.values()]
    assert "participant_id" not in pattern["detail"]
    assert set(pattern["resources"]) >= {SOURCE_ARN}


def test_the_handler_knows_how_many_mirror_destinations_share_the_rate(
    stack: cdk.Stack,
) -> None:
    mirror(stack)
    mirror(stack, "Second", source_stage=DESTINATION_ARN, destination_stages=[SOURCE_ARN])

    environment = handler_environment(stack)
    assert environment[c.ENV_STACK_MIRROR_DESTINATIONS] == "3"


def test_a_stack_without_mirrors_keeps_its_handler_environment(stack: cdk.Stack) -> None:
    replicate(stack)

    assert c.ENV_STACK_MIRROR_DESTINATIONS not in handler_environment(stack)


def test_two_mirrors_of_one_source_into_one_destination_name_both_paths(
    stack: cdk.Stack,
) -> None:
    mirror(stack, "First", destination_stages=[DESTINATION_ARN])

    with pytest.raises(ValueError, match=r"TestStack/Second/.*TestStack/First/"):
        mirror(stack, "Second", destination_stages=[DESTINATION_ARN])


def test_a_mirror_and_a_fan_out_of_the_same_stages_may_overlap(stack: cdk.Stack) -> None:
    mirror(stack, destination_stages=[DESTINATION_ARN])
    ParticipantFanOut(
        stack,
        "FanOut",
        source_stage=SOURCE_ARN,
        participant_id="encoder-1",
        destination_stages=[DESTINATION_ARN],
    )

    template = Template.from_stack(stack)
    template.resource_count_is(MIRROR_TYPE, 1)
    template.resource_count_is(c.RESOURCE_TYPE, 1)


def test_vs_mode_two_stages_mirroring_each_other_synthesize(stack: cdk.Stack) -> None:
    stage_a, stage_b = cfn_stage(stack, "StageA"), cfn_stage(stack, "StageB")
    StageMirror(stack, "AIntoB", source_stage=stage_a, destination_stages=[stage_b])
    StageMirror(stack, "BIntoA", source_stage=stage_b, destination_stages=[stage_a])

    Template.from_stack(stack).resource_count_is(MIRROR_TYPE, 2)


@pytest.mark.parametrize(
    ("overrides", "named", "allowed"),
    [
        (
            {"destination_stages": [SOURCE_ARN]},
            "destination_stages",
            "a stage other than the source",
        ),
        (
            {"destination_stages": [DESTINATION_ARN, DESTINATION_ARN]},
            "destination_stages",
            "each destination stage once",
        ),
        ({"destination_stages": DESTINATION_ARN}, "destination_stages", "a list of stages"),
        ({"user_ids": []}, "user_ids", "non-empty list"),
        ({"user_ids": ["ok", "tab\there"]}, "user_ids", "control characters"),
        ({"user_ids": ["x" * 129]}, "user_ids", "1-128 characters"),
        ({"user_ids": ["same", "same"]}, "user_ids", "each once"),
        ({"user_ids": "host-1"}, "user_ids", "list of token user ids"),
        ({"reconnect_window": cdk.Duration.seconds(301)}, "reconnect_window", "0 to 300"),
        ({"attributes": {"k": "v" * 1100}}, "attributes", "at most 1024 bytes"),
        ({"source_stage": "not-an-arn"}, "source_stage", "arn:aws:ivs"),
    ],
)
def test_bad_input_names_the_property_and_the_allowed_form(
    stack: cdk.Stack, overrides: dict[str, Any], named: str, allowed: str
) -> None:
    with pytest.raises(ValueError, match=named) as raised:
        mirror(stack, **overrides)

    assert allowed in str(raised.value)
    Template.from_stack(stack).resource_count_is(MIRROR_TYPE, 0)


def test_token_user_ids_are_left_to_the_handler(stack: cdk.Stack) -> None:
    parameter = cdk.CfnParameter(stack, "Hosts", type="CommaDelimitedList")

    mirror(stack, user_ids=parameter.value_as_list)

    resources = Template.from_stack(stack).find_resources(MIRROR_TYPE)
    assert all(
        json.dumps(r["Properties"][c.PROP_USER_IDS]) == json.dumps({"Ref": "Hosts"})
        for r in resources.values()
    )


def test_an_added_destination_whose_id_is_taken_is_refused_naming_construct_id(
    stack: cdk.Stack,
) -> None:
    """As for a fan-out: refused before any child is made, naming the property."""
    result = mirror(stack, destination_stages=[DESTINATION_ARN])
    taken = result.destinations[0].node.id

    with pytest.raises(ValueError, match=r"construct_id.*already names a child.*the mirror"):
        result.add_destination(OTHER_DESTINATION_ARN, construct_id=taken)
