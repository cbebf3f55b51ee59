"""What deploy does when the participant is not publishing: parsing and planning the mode."""

from __future__ import annotations

import pytest

from ivs_replication_handler import contract as c
from ivs_replication_handler.errors import InvalidPropertyError
from ivs_replication_handler.messages import MAX_MESSAGE_BYTES, reason_bytes, wait_timed_out_message
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.spec import ReplicationKey, UpdateKind, parse_properties, plan_update

PREFIX = "arn:aws:ivs:us-east-1:123456789012:stage/"
SOURCE = PREFIX + "SourceStage01"
DESTINATION = PREFIX + "DestinationStage01"
PHYSICAL_ID = f"{SOURCE}|{DESTINATION}|host-1"


def props(**overrides: object) -> dict[str, object]:
    """Properties as CloudFormation delivers them (numbers as strings)."""
    base: dict[str, object] = {
        c.PROP_SOURCE_STAGE_ARN: SOURCE,
        c.PROP_DESTINATION_STAGE_ARN: DESTINATION,
        c.PROP_PARTICIPANT_ID: "host-1",
        c.PROP_ATTRIBUTES: {},
        c.PROP_RECONNECT_WINDOW_SECONDS: "0",
        c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FAIL,
        c.PROP_WAIT_SECONDS: "0",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_properties_written_before_modes_existed_mean_fail() -> None:
    spec = parse_properties(props(**{c.PROP_WHEN_NOT_PUBLISHING: None, c.PROP_WAIT_SECONDS: None}))
    assert (spec.when_not_publishing, spec.wait_seconds, spec.follows) == (c.MODE_FAIL, 0, False)


@pytest.mark.parametrize("wait", ["90", 90, "540", "1"])
def test_wait_mode_takes_its_seconds_as_string_or_number(wait: object) -> None:
    spec = parse_properties(
        props(**{c.PROP_WHEN_NOT_PUBLISHING: c.MODE_WAIT, c.PROP_WAIT_SECONDS: wait})
    )
    assert spec.when_not_publishing == c.MODE_WAIT
    assert spec.wait_seconds == int(str(wait))


@pytest.mark.parametrize("wait", ["0", "30", "not a number", None])
@pytest.mark.parametrize("mode", [c.MODE_FOLLOW, c.MODE_FAIL])
def test_modes_without_a_wait_ignore_the_wait_property(mode: str, wait: object) -> None:
    """The construct sends 0; any other value (or none) is ignored, not validated."""
    spec = parse_properties(props(**{c.PROP_WHEN_NOT_PUBLISHING: mode, c.PROP_WAIT_SECONDS: wait}))
    assert spec.when_not_publishing == mode
    assert spec.follows is (mode == c.MODE_FOLLOW)
    assert spec.wait_seconds == 0


@pytest.mark.parametrize(
    ("overrides", "prop", "problem"),
    [
        ({c.PROP_WHEN_NOT_PUBLISHING: "follow"}, c.PROP_WHEN_NOT_PUBLISHING, "is not a mode"),
        ({c.PROP_WHEN_NOT_PUBLISHING: "true"}, c.PROP_WHEN_NOT_PUBLISHING, "is not a mode"),
        ({c.PROP_WHEN_NOT_PUBLISHING: 1}, c.PROP_WHEN_NOT_PUBLISHING, "is not a mode"),
        (
            {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_WAIT, c.PROP_WAIT_SECONDS: None},
            c.PROP_WAIT_SECONDS,
            "missing",
        ),
        (
            {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_WAIT, c.PROP_WAIT_SECONDS: "0"},
            c.PROP_WAIT_SECONDS,
            "out of range",
        ),
        (
            {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_WAIT, c.PROP_WAIT_SECONDS: "541"},
            c.PROP_WAIT_SECONDS,
            "541 seconds is out of range",
        ),
        (
            {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_WAIT, c.PROP_WAIT_SECONDS: "9" * 5000},
            c.PROP_WAIT_SECONDS,
            "out of range",
        ),
        (
            {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_WAIT, c.PROP_WAIT_SECONDS: "1.5"},
            c.PROP_WAIT_SECONDS,
            "not an integer",
        ),
        (
            {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_WAIT, c.PROP_WAIT_SECONDS: True},
            c.PROP_WAIT_SECONDS,
            "not an integer",
        ),
    ],
)
def test_bad_modes_and_waits_are_rejected_naming_property_problem_and_form(
    overrides: dict[str, object], prop: str, problem: str
) -> None:
    with pytest.raises(InvalidPropertyError) as caught:
        parse_properties(props(**overrides))
    assert caught.value.prop == prop
    assert problem in caught.value.problem
    message = str(caught.value)
    is_mode = prop == c.PROP_WHEN_NOT_PUBLISHING
    expected_form = "FAIL, WAIT or FOLLOW" if is_mode else "from 1 to 540"
    assert expected_form in message.split(". Expected ", 1)[1]


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ({}, {}, UpdateKind.NO_CHANGE),
        ({}, {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FOLLOW}, UpdateKind.MODE_ONLY),
        ({c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FOLLOW}, {}, UpdateKind.MODE_ONLY),
        (
            {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_WAIT, c.PROP_WAIT_SECONDS: "30"},
            {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_WAIT, c.PROP_WAIT_SECONDS: "60"},
            UpdateKind.MODE_ONLY,
        ),
        # A new window restarts whatever the mode: IVS applies it only on Start.
        (
            {},
            {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FOLLOW, c.PROP_RECONNECT_WINDOW_SECONDS: "30"},
            UpdateKind.IN_PLACE,
        ),
        # Mode properties are absent in templates of the previous version: FAIL, unchanged.
        (
            {c.PROP_WHEN_NOT_PUBLISHING: None, c.PROP_WAIT_SECONDS: None},
            {},
            UpdateKind.NO_CHANGE,
        ),
    ],
)
def test_a_mode_change_alone_never_restarts_but_a_new_window_does(
    old: dict[str, object], new: dict[str, object], kind: UpdateKind
) -> None:
    assert plan_update(parse_properties(props(**new)), PHYSICAL_ID, props(**old)) is kind


def test_wait_timeout_message_names_the_wait_and_the_alternatives() -> None:
    key = ReplicationKey(SOURCE, DESTINATION, "p" * 64)
    message = wait_timed_out_message(key, 120)
    assert reason_bytes(message) <= MAX_MESSAGE_BYTES
    assert "within the 120 s wait" in message
    assert "WhenNotPublishing.follow()" in message
    assert "at most 9 minutes" in message
    assert message.endswith("publishes.")


class FakeClock:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining = remaining_ms

    def __call__(self) -> int:
        return self.remaining


def test_within_ends_at_the_budget_or_the_lambda_deadline_whichever_is_first() -> None:
    clock = FakeClock(900_000)
    budget = Deadline(clock, margin_seconds=5).within(300)
    assert budget.seconds_left() == pytest.approx(295)
    clock.remaining -= 100_000  # 100 s later
    assert budget.seconds_left() == pytest.approx(195)
    short_lambda = Deadline(FakeClock(60_000), margin_seconds=5).within(300)
    assert short_lambda.seconds_left() == pytest.approx(55)


def test_within_may_drop_the_margin_for_a_plain_wait() -> None:
    clock = FakeClock(900_000)
    wait = Deadline(clock, margin_seconds=5).within(30, margin_seconds=0)
    assert wait.seconds_left() == pytest.approx(30)
    clock.remaining -= 31_000
    assert wait.seconds_left() < 0
