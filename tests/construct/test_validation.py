"""Concrete properties are checked at synth time, with the handler's rules."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from tests.construct.helpers import SOURCE_ARN, cfn_stage, replicate

TOO_BIG = {"k": "v" * 1024}


@pytest.mark.parametrize(
    ("overrides", "prop", "fragment"),
    [
        ({"source_stage": "not-an-arn"}, "source_stage", "arn:aws:ivs:<region>"),
        ({"source_stage": ""}, "source_stage", "empty"),
        (
            {"destination_stage": "arn:aws:ivs:us-east-1:1:channel/abc"},
            "destination_stage",
            "not a stage ARN",
        ),
        ({"destination_stage": SOURCE_ARN + "x" * 100}, "destination_stage", "characters long"),
        ({"destination_stage": SOURCE_ARN}, "destination_stage", "other than the source"),
        ({"destination_stage": 42}, "destination_stage", "IStageRef"),
        ({"participant_id": ""}, "participant_id", "empty"),
        ({"participant_id": "a" * 65}, "participant_id", "65 characters"),
        ({"participant_id": "host 1"}, "participant_id", "outside the allowed set"),
        ({"participant_id": "host/1"}, "participant_id", "A-Z, a-z, 0-9"),
        ({"attributes": TOO_BIG}, "attributes", "1025 bytes"),
        ({"attributes": {"k": 1}}, "attributes", "int"),
        ({"attributes": {"é" * 300: "ü" * 213}}, "attributes", "1026 bytes"),
        ({"reconnect_window": cdk.Duration.seconds(301)}, "reconnect_window", "0 to 300"),
        ({"reconnect_window": cdk.Duration.millis(1500)}, "reconnect_window", "whole seconds"),
        ({"reconnect_window": cdk.Duration.minutes(6)}, "reconnect_window", "360 seconds is out"),
        ({"reconnect_window": 30}, "reconnect_window", "a Duration such as Duration.seconds(30)"),
    ],
)
def test_invalid_concrete_props_fail_at_synth_naming_the_prop(
    stack: cdk.Stack, overrides: dict[str, Any], prop: str, fragment: str
) -> None:
    with pytest.raises(ValueError, match=rf"Invalid {prop}:") as caught:
        replicate(stack, **overrides)

    assert fragment in str(caught.value)
    assert "Expected" in str(caught.value)


def test_attributes_of_exactly_one_kilobyte_are_accepted(stack: cdk.Stack) -> None:
    replicate(stack, attributes={"k": "v" * 1023})


def test_longest_participant_id_and_window_are_accepted(stack: cdk.Stack) -> None:
    replicate(stack, participant_id="a" * 64, reconnect_window=cdk.Duration.minutes(5))


def test_the_same_stage_object_as_source_and_destination_is_named_by_its_path(
    stack: cdk.Stack,
) -> None:
    """A token's text (`${Token[...]}`) means nothing to a user: the message names the path."""
    main = cfn_stage(stack, "Main")

    with pytest.raises(
        ValueError, match="Invalid destination_stage: it is the same stage as"
    ) as caught:
        replicate(stack, source_stage=main, destination_stage=main)

    assert main.node.path in str(caught.value)
    assert "${Token" not in str(caught.value)


def test_attribute_tokens_are_left_for_the_handler_but_concrete_pairs_are_checked(
    stack: cdk.Stack,
) -> None:
    token_value = cdk.Fn.ref("SomeParameter")
    replicate(stack, "Fine", attributes={"room": token_value})

    with pytest.raises(ValueError, match="Invalid attributes"):
        replicate(stack, "Broken", attributes={"room": token_value, "k": "v" * 1024})
