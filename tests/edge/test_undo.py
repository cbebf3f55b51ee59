"""Undoing a Start, at the AWS edge: the one rule (`replicas.Replicas.undo`) both policies use
for a Start that may have acted, and the wait for a Stop to show (`Replicas.await_stopped`)
that a restart relies on. The outcome values are what the policies `match` on."""

from __future__ import annotations

from ivs_replication_handler.errors import ServiceError
from ivs_replication_handler.replicas import (
    NotRunning,
    Refused,
    Replicas,
    Started,
    Stopped,
    Undone,
    Unresolved,
)
from ivs_replication_handler.retries import DEADLINE_MARGIN_SECONDS, Deadline
from ivs_replication_handler.spec import ReplicationKey

# As in conftest.py.
SOURCE = "arn:aws:ivs:us-east-1:123456789012:stage/SourceStage01"
DESTINATION = "arn:aws:ivs:us-east-1:123456789012:stage/DestinationStage01"
PARTICIPANT = "host-1"
KEY = ReplicationKey(SOURCE, DESTINATION, PARTICIPANT)

STOP = "StopParticipantReplication"
LIST = "ListParticipantReplicas"
_REFUSAL = ServiceError("StartParticipantReplication", "AccessDeniedException", 403, "no")


def deadline(context) -> Deadline:
    return Deadline(context.get_remaining_time_in_millis)


def _wanted_was_asked(asked: list[bool], answer: bool):
    def wanted() -> bool:
        asked.append(answer)
        return answer

    return wanted


def test_a_start_that_cannot_have_acted_is_not_undone_and_nobody_is_asked(stubbed, context):
    """Refused with every attempt answered: nothing can run, so nothing is stopped, and the
    caller is not asked whether it wants it."""
    asked: list[bool] = []
    undone = Replicas(stubbed.ivs).undo(
        KEY, Refused(_REFUSAL), deadline(context), wanted=_wanted_was_asked(asked, False)
    )
    assert undone == Undone(needed=False)
    assert undone.nothing_left_running
    assert asked == []
    assert stubbed.calls == []


def test_a_start_its_caller_still_wants_is_kept_and_nothing_is_stopped(stubbed, context):
    """The reconciler's rule: a replication still declared with the settings it started is
    wanted, so the undo keeps it (no Stop) and says so."""
    asked: list[bool] = []
    undone = Replicas(stubbed.ivs).undo(
        KEY, Started(), deadline(context), wanted=_wanted_was_asked(asked, True)
    )
    assert undone == Undone(needed=True, kept=True)
    assert asked == [True]
    assert stubbed.calls == []


def test_an_unwanted_start_is_stopped_and_the_undo_returns_once_the_stop_shows(stubbed, context):
    """Whoever reads the listing next (a Create, a mirror's convergence, a sweep) must not
    count the replica whose Stop is landing as running: the undo watches for it to show."""
    stubbed.expect_stop()
    stubbed.expect_list({DESTINATION: "ACTIVE"})  # the Stop is still landing
    stubbed.expect_list({DESTINATION: "STOPPED"})
    undone = Replicas(stubbed.ivs).undo(KEY, Started(), deadline(context))
    assert undone == Undone(needed=True, stop=Stopped())
    assert undone.nothing_left_running
    assert stubbed.calls == [STOP, LIST, LIST]


def test_an_unanswered_start_found_not_running_may_still_start_later(stubbed, context):
    """A lost answer's Start may land after the Stop found nothing running: the undo does not
    claim that nothing is left running."""
    stubbed.expect_stop_error("ResourceNotFoundException", 404, "not found")
    stubbed.expect_list({})
    undone = Replicas(stubbed.ivs).undo(
        KEY, Unresolved("timed out", unanswered=True), deadline(context)
    )
    assert undone == Undone(needed=True, stop=NotRunning(), late_start_possible=True)
    assert not undone.nothing_left_running
    assert stubbed.calls == [STOP, LIST]


def test_a_stop_whose_listing_cannot_be_read_is_not_taken_as_shown(stubbed, context):
    """After an accepted Stop, a listing that cannot be read does not count as the Stop having
    shown: a restart must not take it for stopped."""
    stubbed.stubber.add_client_error("list_participant_replicas", "AccessDeniedException", "", 403)
    assert Replicas(stubbed.ivs).await_stopped(KEY, deadline(context)) is False
    assert stubbed.calls == [LIST]


def test_a_stop_that_shows_in_the_listing_is_taken_as_shown(stubbed, context):
    stubbed.expect_list({DESTINATION: "STOPPED"})
    assert Replicas(stubbed.ivs).await_stopped(KEY, deadline(context)) is True


def test_the_watch_for_a_stop_lists_while_an_attempts_time_is_left_after_each_wait(
    stubbed, context
):
    """Near the deadline the watch ends early, with the replica taken as still ACTIVE: it
    waits and lists again only while a whole attempt's time is left after the wait (here:
    after 0.25 s and 0.5 s, the second leaving exactly that), never past the deadline."""
    budget = stubbed.ivs.attempt_budget_seconds
    context.remaining_ms = int((DEADLINE_MARGIN_SECONDS + budget + 0.75) * 1000)
    for _ in range(3):
        stubbed.expect_list({DESTINATION: "ACTIVE"})

    assert Replicas(stubbed.ivs).await_stopped(KEY, deadline(context)) is False
    assert stubbed.calls == [LIST] * 3
    assert stubbed.sleeps == [0.25, 0.5]
