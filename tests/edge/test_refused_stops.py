"""A refused Stop, at the AWS edge: one rule (`replicas.Replicas.stop`) for the handler and
the reconciler (the reconciler's use of it: test_undocumented_answers.py). What IVS answers
when asked to stop what does not run is undocumented, so a refusal counts as "not running"
only when the listing read after it shows nothing ACTIVE; a transient refusal is never read
past, and an unreadable listing is a failure, not a success."""

from __future__ import annotations

import pytest

from ivs_replication_handler.replicas import (
    STOP_ATTEMPTS,
    STOP_EFFECT_DELAYS,
    STOP_EFFECT_SECONDS,
    NotRunning,
    Replicas,
    StopFailed,
    Stopped,
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


def deadline(context) -> Deadline:
    return Deadline(context.get_remaining_time_in_millis)


def stop(stubbed, context):
    return Replicas(stubbed.ivs).stop(KEY, deadline(context))


def refuse_listing(stubbed, code: str = "AccessDeniedException", status: int = 403) -> None:
    stubbed.stubber.add_client_error("list_participant_replicas", code, "refused", status)


def test_an_accepted_stop_is_stopped_without_a_listing(stubbed, context):
    stubbed.expect_stop()
    assert stop(stubbed, context) == Stopped()
    assert stubbed.calls == [STOP]


@pytest.mark.parametrize(
    "listing", ["not listed", "STOPPED", "source stage gone"], ids=lambda listing: listing
)
def test_a_refusal_is_not_running_only_when_the_listing_shows_nothing_active(
    stubbed, context, listing
):
    stubbed.expect_stop_error("ConflictException", 409, "Replication is stopped")
    if listing == "source stage gone":
        refuse_listing(stubbed, "ResourceNotFoundException", 404)
    else:
        stubbed.expect_list({DESTINATION: listing} if listing == "STOPPED" else {})
    assert stop(stubbed, context) == NotRunning()
    assert stubbed.calls == [STOP, LIST]


def test_a_refusal_while_listed_active_is_met_by_another_stop(stubbed, context):
    """Someone started it between the refused Stop and the listing: stop that too, once the
    listing has kept it ACTIVE for as long as a Stop may take to show."""
    stubbed.expect_stop_error("ResourceNotFoundException", 404, "Replication not found")
    stubbed.expect_listed_active_while_a_stop_is_watched()
    stubbed.expect_stop()
    assert stop(stubbed, context) == Stopped()
    assert stubbed.calls == [STOP, *[LIST] * (1 + len(STOP_EFFECT_DELAYS)), STOP]
    assert stubbed.sleeps == list(STOP_EFFECT_DELAYS)


def test_a_refused_stop_watches_the_listing_from_a_quarter_second_for_up_to_ten_seconds(
    stubbed, context
):
    """The watch for an earlier Stop to show lists at once, then after 0.25, 0.5 and 1 s, then
    every 2 s, within STOP_EFFECT_SECONDS: quick for a Stop that lands at once, patient enough
    for one that takes seconds, and no longer than a Stop is known to take."""
    stubbed.expect_stop_error("ResourceNotFoundException", 404, "Replication not found")
    stubbed.expect_listed_active_while_a_stop_is_watched()
    stubbed.expect_stop()
    stop(stubbed, context)
    assert stubbed.sleeps == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert sum(stubbed.sleeps) <= STOP_EFFECT_SECONDS < sum(stubbed.sleeps) + 2.0


def test_a_refusal_while_an_earlier_stop_is_still_landing_is_not_running(stubbed, context):
    """IVS may list a stopped replica ACTIVE for a moment after it answered the Stop (a
    duplicate Delete arrives meanwhile, and its Stop is refused): the refusal is watched until
    the listing shows it stopped, and the Delete succeeds instead of failing."""
    stubbed.expect_stop_error("ConflictException", 409, "Replication is stopping")
    stubbed.expect_list({DESTINATION: "ACTIVE"})
    stubbed.expect_list({DESTINATION: "ACTIVE"})
    stubbed.expect_list({DESTINATION: "STOPPED"})
    assert stop(stubbed, context) == NotRunning()
    assert stubbed.calls == [STOP, LIST, LIST, LIST]


def test_a_refusal_while_still_listed_active_after_every_attempt_fails_with_it(stubbed, context):
    for _ in range(STOP_ATTEMPTS):
        stubbed.expect_stop_error("ResourceNotFoundException", 404, "Replication not found")
        stubbed.expect_listed_active_while_a_stop_is_watched()
    outcome = stop(stubbed, context)
    assert isinstance(outcome, StopFailed)
    assert outcome.why == "refused"
    assert "Replication not found" in outcome.cause
    assert outcome.refusal is not None
    assert outcome.refusal.code == "ResourceNotFoundException"
    assert stubbed.calls == ([STOP] + [LIST] * (1 + len(STOP_EFFECT_DELAYS))) * STOP_ATTEMPTS


def test_an_accepted_stop_is_watched_until_it_shows(stubbed, context):
    """A caller that starts the replication again after its own Stop waits for the Stop to
    show: a Start before then would find the replication it just stopped."""
    replicas = Replicas(stubbed.ivs)
    stubbed.expect_list({DESTINATION: "ACTIVE"})
    stubbed.expect_list({DESTINATION: "STOPPED"})
    assert replicas.await_stopped(KEY, deadline(context)) is True
    stubbed.expect_listed_active_while_a_stop_is_watched()
    assert replicas.await_stopped(KEY, deadline(context)) is False
    assert sum(stubbed.sleeps) <= STOP_EFFECT_SECONDS


def test_a_transient_refusal_that_outlasts_the_retries_is_never_read_past(stubbed, context):
    """A 500 says nothing about the state: it is not resolved by a listing into a success."""
    # Time for one attempt only, after the margin kept to answer CloudFormation.
    context.remaining_ms = (
        int((DEADLINE_MARGIN_SECONDS + stubbed.ivs.attempt_budget_seconds) * 1000) + 10
    )
    stubbed.expect_stop_error("InternalServerException", 500, "try later")
    outcome = stop(stubbed, context)
    assert isinstance(outcome, StopFailed)
    assert outcome.why == "timed-out"
    assert "try later" in outcome.cause  # what the run's or the request's failure reports
    assert stubbed.calls == [STOP]


def test_a_refusal_with_an_unreadable_listing_is_unresolved(stubbed, context):
    stubbed.expect_stop_error("ValidationException", 400, "Replication is not active")
    refuse_listing(stubbed)
    outcome = stop(stubbed, context)
    assert isinstance(outcome, StopFailed)
    assert outcome.why == "unreadable"
    assert outcome.refusal is not None
    assert outcome.refusal.code == "ValidationException"
    assert "AccessDeniedException" in outcome.cause
