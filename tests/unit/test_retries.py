"""The retry policy: a throttled burst spreads over the time it needs at IVS's rate; other
transient errors back off briefly; nothing waits past the deadline."""

from __future__ import annotations

import random

import pytest

from ivs_replication_handler.errors import DeadlineExceededError, ServiceError
from ivs_replication_handler.retries import (
    MIN_RETRY_WAIT_SECONDS,
    Deadline,
    call_with_retries,
    retry_delay,
)

THROTTLED = ServiceError("StartParticipantReplication", "ThrottlingException", 429, "slow down")
SERVER_ERROR = ServiceError("StartParticipantReplication", "InternalServerException", 500, "oops")


class _Highest(random.Random):
    """Every draw lands on the top of its range."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_the_first_throttle_waits_somewhere_in_the_bursts_window() -> None:
    rng = random.Random(7)
    delays = [retry_delay(THROTTLED, 0, burst_window_seconds=96.0, rng=rng) for _ in range(200)]
    assert all(0.0 <= d <= 96.0 for d in delays)
    # Spread over the whole window, not bunched at its start (as a 0.2 s backoff would be).
    assert max(delays) > 80.0
    assert min(delays) < 16.0


def test_later_throttles_back_off_from_half_a_second_up_to_five() -> None:
    highest = _Highest()
    assert [
        retry_delay(THROTTLED, attempt, burst_window_seconds=96.0, rng=highest)
        for attempt in range(1, 7)
    ] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_without_a_burst_window_a_throttle_backs_off_from_half_a_second() -> None:
    assert retry_delay(THROTTLED, 0, burst_window_seconds=0.0, rng=_Highest()) == 0.5


def test_server_errors_back_off_from_a_fifth_of_a_second_whatever_the_window() -> None:
    highest = _Highest()
    assert retry_delay(SERVER_ERROR, 0, burst_window_seconds=96.0, rng=highest) == pytest.approx(
        0.2
    )
    assert retry_delay(SERVER_ERROR, 1, burst_window_seconds=96.0, rng=highest) == pytest.approx(
        0.4
    )


def test_the_bursts_window_never_pushes_a_retry_past_the_deadline() -> None:
    """With 30 s left and a 96 s window, a throttled call retries within the time left (or
    gives up), it never sleeps beyond the Lambda's deadline."""
    clock = {"now": 0.0}
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock["now"] += seconds

    def throttled() -> None:
        raise RuntimeError("throttled")

    deadline = Deadline(lambda: int((30.0 - clock["now"]) * 1000), margin_seconds=0.0)
    with pytest.raises(DeadlineExceededError):
        call_with_retries(
            "StartParticipantReplication",
            throttled,
            deadline,
            to_error=lambda _op, _error: THROTTLED,
            sleep=sleep,
            attempt_budget_seconds=1.0,
            burst_window_seconds=96.0,
        )
    assert slept
    assert clock["now"] <= 30.0 - 1.0


class _Middle(random.Random):
    """Every draw lands in the middle of its range."""

    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


def test_a_retry_that_still_fits_before_the_deadline_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Invariant: while an attempt still fits before the deadline, a transient failure is
    retried; a backoff drawn longer than the time left shrinks to fit, it never gives up with
    time to spare (the long Hypothesis profile found an Update failing with a third of its
    deadline unused)."""
    monkeypatch.setattr(random, "uniform", _Middle().uniform)
    now_ms = {"value": 0}
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now_ms["value"] += round(seconds * 1000)

    answers = iter([THROTTLED, None])

    def send() -> str:
        error = next(answers)
        if error is not None:
            raise RuntimeError("throttled")
        return "answered"

    # 3 s for an attempt, and 0.2 s to wait before it: the throttled backoff's middle (0.25 s)
    # is longer than that, a wait of 0.1 s is not.
    deadline = Deadline(lambda: 3200 - now_ms["value"], margin_seconds=0.0)
    result = call_with_retries(
        "ListParticipantReplicas",
        send,
        deadline,
        to_error=lambda _op, _error: THROTTLED,
        sleep=sleep,
        attempt_budget_seconds=3.0,
    )

    assert result == "answered"
    assert slept == [pytest.approx(0.1)]
    assert deadline.seconds_left() >= 3.0, "the last attempt must still fit"


def test_retrying_ends_once_no_wait_worth_making_fits_before_the_last_attempt() -> None:
    """Retries end when less than MIN_RETRY_WAIT_SECONDS is left to wait before the last
    attempt that fits: ever shorter waits near the deadline would be a burst of calls."""
    calls = {"count": 0}

    def throttled() -> None:
        calls["count"] += 1
        raise RuntimeError("throttled")

    with pytest.raises(DeadlineExceededError, match="still failing after 1 attempts") as caught:
        call_with_retries(
            "ListParticipantReplicas",
            throttled,
            Deadline(lambda: 3000 + round(MIN_RETRY_WAIT_SECONDS * 900), margin_seconds=0.0),
            to_error=lambda _op, _error: THROTTLED,
            sleep=lambda _: pytest.fail("no time to wait"),
            attempt_budget_seconds=3.0,
        )

    assert calls["count"] == 1
    assert caught.value.attempts == 1


REFUSED = ServiceError("StartParticipantReplication", "ConflictException", 409, "already")
ANSWER_LOST = ServiceError("StartParticipantReplication", "ConnectionError", 0, "read timeout")
NOT_CONNECTED = ServiceError(
    "StartParticipantReplication", "ConnectionError", 0, "could not connect", sent=False
)


@pytest.mark.parametrize(
    ("failures", "may_have_acted"),
    [
        ([], False),
        ([THROTTLED, THROTTLED], False),
        ([NOT_CONNECTED], False),
        ([ANSWER_LOST], True),
        ([SERVER_ERROR, THROTTLED], True),
    ],
    ids=["refused-at-once", "throttled", "never-sent", "answer-lost", "server-error"],
)
def test_a_refusal_says_whether_an_earlier_attempt_may_have_been_carried_out(
    failures: list[ServiceError], may_have_acted: bool
) -> None:
    """A refusal after an attempt that reached the service unrefused (its answer lost, or a
    5xx) says that attempt may have acted: the refusal is no evidence about what it did."""

    def send() -> None:
        raise RuntimeError("what the SDK raised")

    errors = iter([*failures, REFUSED])  # what each attempt's failure stands for
    with pytest.raises(ServiceError) as caught:
        call_with_retries(
            "StartParticipantReplication",
            send,
            Deadline(lambda: 60_000, margin_seconds=0.0),
            to_error=lambda _op, _error: next(errors),
            sleep=lambda _: None,
            attempt_budget_seconds=3.0,
        )

    assert caught.value.code == "ConflictException"
    assert caught.value.earlier_attempt_may_have_acted is may_have_acted
    assert REFUSED.earlier_attempt_may_have_acted is False, "the refusal given is not changed"


@pytest.mark.parametrize(
    ("failures", "may_have_acted"),
    [
        ([THROTTLED, THROTTLED, THROTTLED], False),
        ([NOT_CONNECTED, THROTTLED], False),
        ([THROTTLED, ANSWER_LOST, THROTTLED], True),
        ([SERVER_ERROR], True),
    ],
    ids=["throttled-only", "never-sent-then-throttled", "answer-lost-among-throttles", "5xx"],
)
def test_running_out_of_time_says_whether_an_attempt_may_have_been_carried_out(
    failures: list[ServiceError], may_have_acted: bool
) -> None:
    """A Start that ran out of time after throttles only (or requests never sent) started
    nothing, so its caller neither stops anything nor says something may be running; one
    with an attempt whose answer was lost, or answered with a 5xx, may have started it."""
    errors = iter(failures)
    # Each failed attempt takes a second: after the last failure, no wait fits any more.
    remaining_ms = [3000 + 1000 * len(failures)]

    def send() -> None:
        remaining_ms[0] -= 1000
        raise RuntimeError("what the SDK raised")

    with pytest.raises(DeadlineExceededError) as caught:
        call_with_retries(
            "StartParticipantReplication",
            send,
            Deadline(lambda: remaining_ms[0], margin_seconds=0.0),
            to_error=lambda _op, _error: next(errors),
            sleep=lambda _: None,
            attempt_budget_seconds=3.0,
        )

    assert caught.value.attempts == len(failures)
    assert caught.value.may_have_acted is may_have_acted
