"""LocalEventBus: EventBridge rules in-process: matching, best-effort delivery, schedules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ivs_replication.testing.events import (
    EventPatternError,
    LocalEventBus,
    ReleaseOrder,
    RuleError,
    matches,
    validate_pattern,
)

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator

SWEEP = {"IvsReplicationSweep": True}


def publisher_pattern(stage_arn: str, participant_id: str) -> dict[str, Any]:
    """The pattern follow mode puts on each followed publisher."""
    return {
        "source": ["aws.ivs"],
        "detail-type": ["IVS Stage Update"],
        "detail": {"event_name": ["Participant Published"], "participant_id": [participant_id]},
        "resources": [stage_arn],
    }


class Recorder:
    """A target that remembers what it got."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def __call__(self, payload: Any) -> str:
        self.calls.append(payload)
        return f"call {len(self.calls)}"

    def participants(self) -> list[str]:
        return [call["detail"]["participant_id"] for call in self.calls]

    def sessions(self) -> list[str]:
        return [call["detail"]["session_id"] for call in self.calls]


@pytest.fixture
def bus(local_ivs: IvsRealtimeEmulator) -> LocalEventBus:
    bus = LocalEventBus()
    bus.attach(local_ivs)
    return bus


@pytest.fixture
def main(local_ivs: IvsRealtimeEmulator) -> str:
    return local_ivs.create_stage("main")


@pytest.fixture
def target(bus: LocalEventBus, main: str) -> Recorder:
    recorder = Recorder()
    bus.put_rule("encoder", pattern=publisher_pattern(main, "encoder"), targets=[recorder])
    return recorder


# --- matching --------------------------------------------------------------------------------


def test_only_the_followed_participant_publishing_in_its_stage_reaches_the_target(
    local_ivs: IvsRealtimeEmulator, target: Recorder, main: str
) -> None:
    other_stage = local_ivs.create_stage("other")

    local_ivs.publish(main, "guest")  # another participant, same stage
    local_ivs.publish(other_stage, "encoder")  # the same id in another stage
    local_ivs.publish(main, "encoder")
    local_ivs.unpublish(main, "encoder")  # "Participant Unpublished" is not followed

    assert target.participants() == ["encoder"]
    assert target.calls[0]["resources"] == [main]


def test_each_publish_is_one_event_so_a_return_is_seen_again(
    local_ivs: IvsRealtimeEmulator, target: Recorder, main: str
) -> None:
    first = local_ivs.publish(main, "encoder")
    local_ivs.unpublish(main, "encoder")
    second = local_ivs.publish(main, "encoder")

    assert target.sessions() == [first, second]


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ({"resources": ["b"]}, {"resources": ["a", "b"]}, True),  # any element of an array
        ({"resources": ["c"]}, {"resources": ["a", "b"]}, False),
        ({"detail": {"n": [1]}}, {"detail": {"n": 1.0}}, True),  # numbers compare as numbers
        ({"detail": {"n": [1]}}, {"detail": {"n": True}}, False),  # JSON: true is not 1
        ({"detail": {"n": ["1"]}}, {"detail": {"n": 1}}, False),  # nor is "1"
        ({"detail": {"x": [None]}}, {"detail": {"x": None}}, True),
        ({"detail": {"x": ["a"]}}, {"detail": {}}, False),  # a missing field never matches
        ({"detail": {"x": ["a"]}}, {"detail": "a"}, False),  # nor a scalar for an object
        ({"source": ["aws.ivs"]}, {"source": {"nested": "aws.ivs"}}, False),
    ],
)
def test_matching_follows_eventbridge_for_exact_values(
    pattern: dict[str, Any], event: dict[str, Any], expected: bool
) -> None:
    validate_pattern(pattern)
    assert matches(pattern, event) is expected


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        ({"detail": {"participant_id": [{"prefix": "enc"}]}}, "detail.participant_id"),
        ({"source": [{"anything-but": "aws.ivs"}]}, "anything-but"),
        ({"detail": {"x": [{"exists": True}]}}, "exists"),
        ({"detail": {"n": [{"numeric": [">", 0]}]}}, "numeric"),
        ({"resources": [{"wildcard": "arn:*"}]}, "wildcard"),
    ],
)
def test_content_filters_are_refused_by_name_not_ignored(
    bus: LocalEventBus, pattern: dict[str, Any], named: str
) -> None:
    with pytest.raises(EventPatternError, match=r"not supported locally") as raised:
        bus.put_rule("filtered", pattern=pattern, targets=[Recorder()])

    assert named in str(raised.value)
    assert bus.rules() == {}


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ({}, "non-empty object"),
        ({"source": []}, "list of values is empty"),
        ({"source": "aws.ivs"}, "must be a list of values or an object"),
        ({"detail": {"x": [["nested"]]}}, "not a string, number, boolean or null"),
    ],
)
def test_malformed_patterns_are_refused(pattern: dict[str, Any], problem: str) -> None:
    with pytest.raises(EventPatternError, match=problem):
        validate_pattern(pattern)


def test_a_disabled_rule_gets_nothing(
    local_ivs: IvsRealtimeEmulator, bus: LocalEventBus, main: str
) -> None:
    recorder = Recorder()
    bus.put_rule(
        "off", pattern=publisher_pattern(main, "encoder"), targets=[recorder], enabled=False
    )

    local_ivs.publish(main, "encoder")
    bus.put_rule("off-schedule", schedule="rate(1 minute)", targets=[recorder], enabled=False)
    bus.run_schedules()

    assert recorder.calls == []


def test_a_deleted_rule_gets_nothing_more(
    local_ivs: IvsRealtimeEmulator, bus: LocalEventBus, target: Recorder, main: str
) -> None:
    assert bus.delete_rule("encoder") is True
    assert bus.delete_rule("encoder") is False

    local_ivs.publish(main, "encoder")

    assert target.calls == []


def test_attaching_twice_delivers_once_and_detach_stops_delivery(
    local_ivs: IvsRealtimeEmulator, bus: LocalEventBus, target: Recorder, main: str
) -> None:
    bus.attach(local_ivs)
    local_ivs.publish(main, "encoder")
    bus.detach(local_ivs)
    local_ivs.unpublish(main, "encoder")
    local_ivs.publish(main, "encoder")

    assert len(target.calls) == 1


# --- delivery policies -----------------------------------------------------------------------


def test_drop_next_loses_exactly_that_many_matching_events_and_logs_them(
    local_ivs: IvsRealtimeEmulator, bus: LocalEventBus, target: Recorder, main: str
) -> None:
    bus.drop_next(1)

    local_ivs.publish(main, "guest")  # matches no rule: does not use up the drop
    first = local_ivs.publish(main, "encoder")
    local_ivs.unpublish(main, "encoder")
    second = local_ivs.publish(main, "encoder")

    assert target.sessions() == [second]
    statuses = [(d.status, d.event["detail"]["session_id"]) for d in bus.deliveries]
    assert statuses == [("dropped", first), ("delivered", second)]


def test_duplicate_next_delivers_the_same_event_twice(
    local_ivs: IvsRealtimeEmulator, bus: LocalEventBus, target: Recorder, main: str
) -> None:
    bus.duplicate_next()

    session = local_ivs.publish(main, "encoder")

    assert target.sessions() == [session, session]
    assert [d.duplicate for d in bus.deliveries] == [False, True]
    assert target.calls[0]["id"] == target.calls[1]["id"]


@pytest.mark.parametrize("order", ["fifo", "reverse"])
def test_held_events_arrive_on_release_in_the_order_asked_for(
    local_ivs: IvsRealtimeEmulator, bus: LocalEventBus, main: str, order: ReleaseOrder
) -> None:
    recorder = Recorder()
    bus.put_rule("all-ivs", pattern={"source": ["aws.ivs"]}, targets=[recorder])
    bus.hold()

    local_ivs.publish(main, "encoder")
    local_ivs.unpublish(main, "encoder")
    assert recorder.calls == []
    assert bus.held == 2

    deliveries = bus.release(order)

    names = [call["detail"]["event_name"] for call in recorder.calls]
    published_first = ["Participant Published", "Participant Unpublished"]
    assert names == (published_first if order == "fifo" else published_first[::-1])
    assert [d.status for d in deliveries] == ["delivered", "delivered"]
    assert bus.held == 0
    local_ivs.publish(main, "encoder")  # released: delivery is immediate again
    assert len(recorder.calls) == 3


def test_a_held_event_still_reaches_a_rule_deleted_before_the_release(
    local_ivs: IvsRealtimeEmulator, bus: LocalEventBus, target: Recorder, main: str
) -> None:
    """EventBridge matches on arrival: a late event must be harmless on its own merits."""
    bus.hold()
    local_ivs.publish(main, "encoder")
    bus.delete_rule("encoder")

    bus.release()

    assert target.participants() == ["encoder"]


def test_a_failing_target_is_logged_and_never_reaches_the_publisher(
    local_ivs: IvsRealtimeEmulator, bus: LocalEventBus, main: str
) -> None:
    def broken(_: Any) -> None:
        raise RuntimeError("reconciler exploded")

    after = Recorder()
    bus.put_rule("broken", pattern={"source": ["aws.ivs"]}, targets=[broken, after])

    local_ivs.publish(main, "encoder")  # does not raise

    failed, delivered = bus.deliveries
    assert (failed.status, failed.error) == ("failed", "RuntimeError: reconciler exploded")
    assert (delivered.status, delivered.result) == ("delivered", "call 1")


def test_deliver_immediately_forgets_pending_drops_and_duplicates(
    local_ivs: IvsRealtimeEmulator, bus: LocalEventBus, target: Recorder, main: str
) -> None:
    bus.drop_next(5)
    bus.duplicate_next(5)
    bus.deliver_immediately()

    local_ivs.publish(main, "encoder")

    assert len(target.calls) == 1


@pytest.mark.parametrize("count", [0, -1])
def test_policy_counts_must_be_positive(bus: LocalEventBus, count: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        bus.drop_next(count)


# --- schedules -------------------------------------------------------------------------------


def test_run_schedules_fires_each_schedule_rule_once_with_its_constant_input(
    local_ivs: IvsRealtimeEmulator, bus: LocalEventBus, target: Recorder, main: str
) -> None:
    sweep, plain = Recorder(), Recorder()
    bus.put_rule("sweep", schedule="rate(5 minutes)", targets=[(sweep, SWEEP)])
    bus.put_rule("plain", schedule="cron(0 12 * * ? *)", targets=[plain])
    bus.drop_next()  # policies are for events, not for the schedule

    deliveries = bus.run_schedules()

    assert sweep.calls == [SWEEP]
    [scheduled] = plain.calls
    assert scheduled["detail-type"] == "Scheduled Event"
    assert scheduled["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/plain"]
    assert [d.rule for d in deliveries] == ["sweep", "plain"]
    assert target.calls == []  # a pattern rule is not a schedule
    local_ivs.publish(main, "encoder")
    assert target.calls == []  # the drop was still pending for the first event


def test_a_constant_input_replaces_the_event_for_pattern_rules_too(
    local_ivs: IvsRealtimeEmulator, bus: LocalEventBus, main: str
) -> None:
    recorder = Recorder()
    bus.put_rule("constant", pattern={"source": ["aws.ivs"]}, targets=[(recorder, {"k": 1})])

    local_ivs.publish(main, "encoder")

    assert recorder.calls == [{"k": 1}]
    assert bus.deliveries[0].payload == {"k": 1}


@pytest.mark.parametrize(
    "schedule", ["rate(5 minute)", "rate(1 minutes)", "rate(0 minutes)", "every 5 minutes"]
)
def test_malformed_schedules_are_refused(bus: LocalEventBus, schedule: str) -> None:
    with pytest.raises(RuleError, match="is not"):
        bus.put_rule("bad", schedule=schedule, targets=[Recorder()])


def test_a_rule_needs_a_pattern_or_a_schedule(bus: LocalEventBus) -> None:
    with pytest.raises(RuleError, match="pattern or a schedule"):
        bus.put_rule("nothing", targets=[Recorder()])
