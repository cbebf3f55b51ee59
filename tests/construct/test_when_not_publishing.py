"""`when_not_publishing`: the modes, their custom-resource properties and the timeouts a
wait needs."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from ivs_replication import WhenNotPublishing
from ivs_replication_handler import contract as c
from tests.construct.helpers import new_stack, replicate

CUSTOM_TYPE = c.RESOURCE_TYPE


def wait(seconds: float) -> WhenNotPublishing:
    return WhenNotPublishing.wait_up_to(cdk.Duration.seconds(seconds))


def on_event_timeout(stack: cdk.Stack) -> int:
    functions = Template.from_stack(stack).find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": c.ON_EVENT_ENTRY_POINT}}
    )
    (function,) = functions.values()
    return int(function["Properties"]["Timeout"])


def replication_props(stack: cdk.Stack) -> dict[str, dict[str, Any]]:
    resources = Template.from_stack(stack).find_resources(CUSTOM_TYPE)
    return {r["Properties"]["ParticipantId"]: r["Properties"] for r in resources.values()}


def test_the_modes_expose_their_name_and_wait() -> None:
    assert (WhenNotPublishing.fail().mode, WhenNotPublishing.fail().wait_seconds) == ("FAIL", 0)
    assert (WhenNotPublishing.follow().mode, WhenNotPublishing.follow().wait_seconds) == (
        "FOLLOW",
        0,
    )
    longest = WhenNotPublishing.wait_up_to(cdk.Duration.minutes(9))
    assert (longest.mode, longest.wait_seconds) == ("WAIT", 540)
    assert wait(1).wait_seconds == 1
    assert wait(30) == wait(30)


@pytest.mark.parametrize(
    ("mode", "expected", "handler_timeout"),
    [
        # The default, always emitted.
        (
            None,
            {"WhenNotPublishing": "FAIL", "WaitForPublisherSeconds": 0, "ServiceTimeout": "600"},
            300,
        ),
        # A wait lengthens the custom resource's ServiceTimeout and the handler's timeout.
        (
            WhenNotPublishing.wait_up_to(cdk.Duration.minutes(3)),
            {"WhenNotPublishing": "WAIT", "WaitForPublisherSeconds": 180, "ServiceTimeout": "780"},
            300 + 180,
        ),
        # Follow mode needs no longer timeouts.
        (
            WhenNotPublishing.follow(),
            {"WhenNotPublishing": "FOLLOW", "WaitForPublisherSeconds": 0, "ServiceTimeout": "600"},
            300,
        ),
    ],
    ids=["fail-by-default", "wait", "follow"],
)
def test_each_mode_sets_its_properties_and_timeouts(
    stack: cdk.Stack,
    mode: WhenNotPublishing | None,
    expected: dict[str, Any],
    handler_timeout: int,
) -> None:
    replicate(stack, **({} if mode is None else {"when_not_publishing": mode}))

    Template.from_stack(stack).has_resource_properties(CUSTOM_TYPE, expected)
    assert on_event_timeout(stack) == handler_timeout


def test_the_handler_timeout_grows_with_the_longest_wait_of_the_stack() -> None:
    stack = new_stack()
    replicate(stack, "Short", participant_id="short", when_not_publishing=wait(60))
    replicate(stack, "Longest", participant_id="longest", when_not_publishing=wait(540))
    replicate(stack, "Medium", participant_id="medium", when_not_publishing=wait(120))
    replicate(stack, "Failing", participant_id="failing")

    # The provider framework calls the handler from a 15-minute function: 300 + 540 fits.
    assert on_event_timeout(stack) == 300 + 540
    props = replication_props(stack)
    assert props["short"]["ServiceTimeout"] == "660"
    assert props["longest"]["ServiceTimeout"] == "1140"
    assert props["failing"]["ServiceTimeout"] == "600"
    assert props["failing"]["WaitForPublisherSeconds"] == 0


@pytest.mark.parametrize(
    ("duration", "fragment"),
    [
        (cdk.Duration.seconds(0), "out of range"),
        (cdk.Duration.seconds(541), "out of range"),
        (cdk.Duration.minutes(10), "600 seconds is out of range"),
        (cdk.Duration.millis(1500), "not whole seconds"),
        (cdk.Duration.seconds(cdk.Token.as_number(cdk.Fn.ref("WaitParameter"))), "token"),
    ],
)
def test_invalid_waits_fail_naming_the_property(duration: cdk.Duration, fragment: str) -> None:
    with pytest.raises(ValueError, match="Invalid when_not_publishing:") as caught:
        WhenNotPublishing.wait_up_to(duration)

    assert fragment in str(caught.value)
    assert "Expected" in str(caught.value)
    assert "1 to 540" in str(caught.value)


def test_a_mode_given_as_a_string_is_rejected(stack: cdk.Stack) -> None:
    with pytest.raises(ValueError, match=r"Invalid when_not_publishing: a str was given") as caught:
        replicate(stack, when_not_publishing="FOLLOW")

    assert "WhenNotPublishing.follow()" in str(caught.value)


def test_a_wait_given_as_a_number_is_rejected() -> None:
    with pytest.raises(ValueError, match="Invalid when_not_publishing: a int was given"):
        WhenNotPublishing.wait_up_to(30)  # type: ignore[arg-type]
