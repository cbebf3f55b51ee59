"""Wait mode: deploy waits (up to a limit) for the participant to publish, then starts.

Time is simulated: the Lambda context's remaining time and every sleep of the handler read one
fake clock, so a nine-minute wait takes milliseconds, and the local endpoint is real HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import pytest

from ivs_realtime_emulator import IvsRealtimeEmulator
from ivs_realtime_emulator.profiles import PROFILES
from ivs_realtime_emulator.pytest_plugin import serving
from ivs_replication.testing.cloudformation import custom_resource_event
from ivs_replication_handler import aws, retries
from ivs_replication_handler import contract as c
from ivs_replication_handler.errors import ReplicationFailedError
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.ivs import IvsRealtime, make_client
from tests.edge.test_request_steps import ReadLogs, steps_of_the_last_request

# What the construct gives the handler for a stack whose longest wait is nine minutes.
LAMBDA_TIMEOUT_SECONDS = c.REQUEST_BUDGET_SECONDS + c.WAIT_MAX_SECONDS


@dataclass
class FakeTime:
    """The Lambda's clock; `at(t, action)` runs `action` once simulated time reaches t."""

    timeout_seconds: float = LAMBDA_TIMEOUT_SECONDS
    now: float = 0.0
    scheduled: list[tuple[float, Callable[[], object]]] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - self.now) * 1000))

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        due = [entry for entry in self.scheduled if entry[0] <= self.now]
        for entry in due:
            self.scheduled.remove(entry)
            entry[1]()

    def at(self, when: float, action: Callable[[], object]) -> None:
        self.scheduled.append((when, action))


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def create(
    local_ivs: IvsRealtimeEmulator, fake_time: FakeTime, **props: object
) -> dict[str, object]:
    main, side = local_ivs.create_stage("main"), local_ivs.create_stage("side")
    properties = {
        c.PROP_SOURCE_STAGE_ARN: main,
        c.PROP_DESTINATION_STAGE_ARN: side,
        c.PROP_PARTICIPANT_ID: "encoder-1",
        **props,
    }

    def sleep(seconds: float) -> None:
        local_ivs.clock.advance(seconds)  # the endpoint's time passes too (propagation)
        fake_time.sleep(seconds)

    ivs = IvsRealtime(make_client(), sleep=sleep)
    event = custom_resource_event("Create", properties)
    return handle_event(event, fake_time, ivs)  # type: ignore[arg-type]


def test_a_publisher_appearing_within_the_wait_is_replicated(
    local_ivs: IvsRealtimeEmulator, fake_time: FakeTime
) -> None:
    def go_live() -> None:
        [main] = [s for s in local_ivs.snapshot()["stages"] if s["name"] == "main"]
        local_ivs.publish(main["arn"], "encoder-1")

    fake_time.at(20.0, go_live)

    result = create(local_ivs, fake_time, WhenNotPublishing="WAIT", WaitForPublisherSeconds="60")

    assert str(result["PhysicalResourceId"]).endswith("|encoder-1")
    [replica] = local_ivs.replicas(participant_id="encoder-1")
    assert replica.state == "ACTIVE"
    # Started on the first poll after going live (a poll is at most 6 s); under a profile where
    # IVS replicates a publisher only seconds after it starts, the first poll after that.
    delay = local_ivs.profile.publish_propagation_seconds
    assert 20.0 <= fake_time.now < (30.0 if not delay else 26.0 + delay + 6.0)


def test_a_publisher_that_never_appears_fails_clearly_when_the_wait_ends(
    local_ivs: IvsRealtimeEmulator, fake_time: FakeTime
) -> None:
    with pytest.raises(ReplicationFailedError) as caught:
        create(local_ivs, fake_time, WhenNotPublishing="WAIT", WaitForPublisherSeconds="45")

    message = str(caught.value)
    assert "did not publish" in message
    assert "within the 45 s wait" in message
    assert "WhenNotPublishing.follow()" in message
    # It used the wait (a poll is at most 6 s) and not a second more.
    assert 45.0 - 6.0 < fake_time.now <= 45.0
    # It kept trying, every 1 to 6 s: each sleep is a poll (a refusal is not retried).
    assert local_ivs.calls["StartParticipantReplication"] == len(fake_time.slept) + 1
    assert len(fake_time.slept) > 5
    assert all(1.0 <= seconds <= 6.0 for seconds in fake_time.slept)
    assert local_ivs.replicas() == []


def test_fail_mode_fails_at_once_and_names_the_other_modes(
    local_ivs: IvsRealtimeEmulator, fake_time: FakeTime
) -> None:
    with pytest.raises(ReplicationFailedError) as caught:
        create(local_ivs, fake_time)

    assert "is not publishing" in str(caught.value)
    assert "when_not_publishing=WhenNotPublishing.follow()" in str(caught.value)
    assert "WhenNotPublishing.wait_up_to(" in str(caught.value)
    assert local_ivs.calls["StartParticipantReplication"] == 1
    assert fake_time.now == 0.0


def test_a_request_without_a_wait_keeps_to_the_standard_budget_in_a_longer_lambda(
    local_ivs: IvsRealtimeEmulator, fake_time: FakeTime
) -> None:
    """The stack's Lambda timeout grows with its longest wait; a throttled request of another
    replication must still give up after the standard budget, not the Lambda's timeout."""
    local_ivs.faults.random_errors("StartParticipantReplication", probability=1.0, seed=1)
    with pytest.raises(ReplicationFailedError, match="still failing"):
        create(local_ivs, fake_time)
    assert fake_time.now <= c.REQUEST_BUDGET_SECONDS
    assert fake_time.now > c.REQUEST_BUDGET_SECONDS / 2


def test_a_request_without_a_wait_gives_up_when_only_its_undo_and_one_attempt_fit(
    local_ivs: IvsRealtimeEmulator, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request without a wait gets the standard budget and not a second more: with every
    backoff at its ceiling (each wait ends exactly where the last attempt that fits begins),
    a Start failing throughout gives up when the budget, less the margin to report back,
    holds just the time kept for its undo and one attempt."""
    monkeypatch.setattr(retries.random, "uniform", lambda low, high: high)
    local_ivs.faults.random_errors("StartParticipantReplication", probability=1.0, seed=1)
    with pytest.raises(ReplicationFailedError, match="still failing"):
        create(local_ivs, fake_time)

    kept_back = retries.DEADLINE_MARGIN_SECONDS + 2 * aws.ATTEMPT_BUDGET_SECONDS
    assert fake_time.now == pytest.approx(c.REQUEST_BUDGET_SECONDS - kept_back)


def test_a_refusal_during_the_wait_of_an_update_fails_it_and_is_never_swallowed(
    local_ivs: IvsRealtimeEmulator, fake_time: FakeTime
) -> None:
    """Rollback safety lets an Update succeed when only the publisher is missing (nothing was
    running), not when IVS refuses for another reason while it waits: that reason must reach
    CloudFormation."""
    main, side = local_ivs.create_stage("main"), local_ivs.create_stage("side")
    old = {
        c.PROP_SOURCE_STAGE_ARN: main,
        c.PROP_DESTINATION_STAGE_ARN: side,
        c.PROP_PARTICIPANT_ID: "encoder-1",
        "WhenNotPublishing": "WAIT",
        "WaitForPublisherSeconds": "60",
    }
    new = {**old, "ReconnectWindowSeconds": "30"}
    physical_id = f"{main}|{side}|encoder-1"
    # The first Start hears "not publishing"; the next one, during the wait, is refused.
    fake_time.at(
        0.0,
        lambda: local_ivs.faults.script_errors(
            "StartParticipantReplication", ["AccessDeniedException"]
        ),
    )
    ivs = IvsRealtime(make_client(), sleep=fake_time.sleep)
    event = custom_resource_event("Update", new, physical_id=physical_id, old_properties=old)

    with pytest.raises(ReplicationFailedError, match="AccessDeniedException"):
        handle_event(event, fake_time, ivs)  # type: ignore[arg-type]


def test_the_wait_polls_at_one_second_plus_a_backoff_doubling_from_one_to_five_seconds(
    local_ivs: IvsRealtimeEmulator, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poll schedule (each jitter at its ceiling): 1 s + min(5 s, 1 s x 2^n) for the n-th
    poll, so 2, 3, 5, 6, 6 ... s; and a poll that fits the wait exactly is still made. A
    shorter schedule would spend the account's Start rate on one absent publisher, a longer
    one would start late."""
    monkeypatch.setattr(retries.random, "uniform", lambda low, high: high)
    # A 22 s wait: polls at 2, 5, 10, 16, then one whose 6 s end exactly at the wait's end.
    with pytest.raises(ReplicationFailedError, match="within the 22 s wait"):
        create(local_ivs, fake_time, WhenNotPublishing="WAIT", WaitForPublisherSeconds="22")

    assert fake_time.slept == [2.0, 3.0, 5.0, 6.0, 6.0]
    assert local_ivs.calls["StartParticipantReplication"] == 6


@pytest.fixture
def propagating_ivs(monkeypatch: pytest.MonkeyPatch) -> Iterator[IvsRealtimeEmulator]:
    """The emulator's guess, but a publisher is replicated only 3 s after it starts publishing
    (slow-propagation's delay) and answered "not publishing" until then. A profile of its own,
    so that `make mutate`, which runs some profiles by name, runs this test too."""
    profile = replace(PROFILES["guess"], name="guess-propagating", publish_propagation_seconds=3.0)
    with serving(monkeypatch, profile) as server:
        yield server


def test_a_publisher_ivs_has_not_caught_up_with_is_polled_on_the_waits_schedule_alone(
    propagating_ivs: IvsRealtimeEmulator,
    fake_time: FakeTime,
    monkeypatch: pytest.MonkeyPatch,
    read_logs: ReadLogs,
) -> None:
    """Wait mode retries its Start on the wait's own schedule: a "not publishing" that the
    observed state contradicts (the participant publishes, IVS has not caught up yet) gets no
    settle retries inside each poll as well, which would spend the account's Start rate on
    two schedules at once. The publisher is found by the wait's polls, and says so."""
    monkeypatch.setattr(retries.random, "uniform", lambda low, high: high)
    read_logs()
    main = propagating_ivs.create_stage("main")
    propagating_ivs.publish(main, "encoder-1")  # Start hears "not publishing" for 3 s more

    properties = {
        c.PROP_SOURCE_STAGE_ARN: main,
        c.PROP_DESTINATION_STAGE_ARN: propagating_ivs.create_stage("side"),
        c.PROP_PARTICIPANT_ID: "encoder-1",
        "WhenNotPublishing": "WAIT",
        "WaitForPublisherSeconds": "60",
    }

    def sleep(seconds: float) -> None:
        propagating_ivs.clock.advance(seconds)
        fake_time.sleep(seconds)

    ivs = IvsRealtime(make_client(), sleep=sleep)
    handle_event(custom_resource_event("Create", properties), fake_time, ivs)  # type: ignore[arg-type]

    assert fake_time.slept == [2.0, 3.0]  # the wait's polls: 1 s + a backoff from 1 s
    assert [r.state for r in propagating_ivs.replicas(participant_id="encoder-1")] == ["ACTIVE"]
    assert steps_of_the_last_request(read_logs) == [
        "Participant publishes; started (wait_attempts=2)",
        "Replication ACTIVE",
    ]


def test_a_publisher_appearing_at_the_end_of_the_longest_wait_is_replicated_and_logged(
    local_ivs: IvsRealtimeEmulator, fake_time: FakeTime, read_logs: ReadLogs
) -> None:
    """A wait-mode request's budget is its wait plus the standard budget: the Start after the
    longest wait still has the standard time. The request's summary line says after how many
    polls the publisher was found."""
    read_logs()

    def go_live() -> None:
        [main] = [s for s in local_ivs.snapshot()["stages"] if s["name"] == "main"]
        local_ivs.publish(main["arn"], "encoder-1")

    fake_time.at(c.WAIT_MAX_SECONDS - 60, go_live)  # room for slow propagation

    create(
        local_ivs,
        fake_time,
        WhenNotPublishing="WAIT",
        WaitForPublisherSeconds=str(c.WAIT_MAX_SECONDS),
    )

    [replica] = local_ivs.replicas(participant_id="encoder-1")
    assert replica.state == "ACTIVE"
    polls = local_ivs.calls["StartParticipantReplication"] - 1  # after the first Start
    assert polls > 0
    assert steps_of_the_last_request(read_logs) == [
        f"Participant publishes; started (wait_attempts={polls})",
        "Replication ACTIVE",
    ]
