"""The reconciler's pacer: calls of one operation at most at the configured rate (a burst of one
second's worth first), operations paced apart, and no call whose turn comes after the deadline."""

from __future__ import annotations

import itertools

import pytest

from ivs_replication_handler.errors import DeadlineExceededError
from ivs_replication_handler.ivs import Pacer
from ivs_replication_handler.retries import Deadline


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now


def long_deadline() -> Deadline:
    return Deadline(lambda: 300_000, margin_seconds=0.0)


def test_twenty_starts_at_five_per_second_take_three_seconds_after_a_burst_of_five() -> None:
    time = FakeTime()
    pacer = Pacer(5.0, sleep=time.sleep, clock=time.clock)
    turns = []
    for _ in range(20):
        pacer.wait_turn("StartParticipantReplication", long_deadline(), 1.0)
        turns.append(time.now)

    assert turns[:5] == [0.0] * 5
    assert turns[-1] == pytest.approx((20 - 5) / 5)
    gaps = [b - a for a, b in itertools.pairwise(turns[5:])]
    assert all(gap == pytest.approx(0.2) for gap in gaps)


def test_each_operation_has_a_pace_of_its_own() -> None:
    time = FakeTime()
    pacer = Pacer(1.0, sleep=time.sleep, clock=time.clock)
    pacer.wait_turn("StartParticipantReplication", long_deadline(), 1.0)
    pacer.wait_turn("ListParticipantReplicas", long_deadline(), 1.0)
    assert time.now == 0.0


def test_a_turn_past_the_deadline_is_refused_before_anything_is_sent() -> None:
    time = FakeTime()
    pacer = Pacer(1.0, sleep=time.sleep, clock=time.clock)
    pacer.wait_turn("StartParticipantReplication", long_deadline(), 1.0)
    short = Deadline(lambda: 1_500, margin_seconds=0.0)  # 1.5 s left, 1 s budget

    with pytest.raises(DeadlineExceededError) as caught:
        pacer.wait_turn("StartParticipantReplication", short, 1.0)

    assert caught.value.attempts == 0
    assert time.now == 0.0


@pytest.mark.parametrize("rate", [0.0, -1.0, 101.0])
def test_a_rate_out_of_range_is_refused_with_the_allowed_form(rate: float) -> None:
    with pytest.raises(ValueError, match=r"Invalid calls_per_second: .* at most 100"):
        Pacer(rate)
