"""What one Start means (`replicas.Replicas.start`), at the AWS edge, where a lost answer
meets a refusal: the outcome keeps the fact that an earlier attempt may have started the
replication, the known "not publishing" words after a lost answer are checked against the
state and still settle, and a replica another resource declares is adopted at once."""

from __future__ import annotations

from botocore.exceptions import ReadTimeoutError

from ivs_replication_handler import contract as c
from ivs_replication_handler.replicas import (
    SETTLE_SECONDS,
    STOP_ATTEMPTS,
    AlreadyActive,
    NotPublishing,
    Refused,
    Replicas,
    Settle,
    Started,
    Unconfirmed,
)
from ivs_replication_handler.retries import DEADLINE_MARGIN_SECONDS, Deadline
from ivs_replication_handler.spec import ReplicationKey, ReplicationSpec

# As in conftest.py.
SOURCE = "arn:aws:ivs:us-east-1:123456789012:stage/SourceStage01"
DESTINATION = "arn:aws:ivs:us-east-1:123456789012:stage/DestinationStage01"
PARTICIPANT = "host-1"
KEY = ReplicationKey(SOURCE, DESTINATION, PARTICIPANT)
SPEC = ReplicationSpec(KEY, when_not_publishing=c.MODE_FAIL)
ENDPOINT = "https://ivsrealtime.us-east-1.amazonaws.com"

START = "StartParticipantReplication"
LIST = "ListParticipantReplicas"
GET_STAGE = "GetStage"
GET_PARTICIPANT = "GetParticipant"


def start(stubbed, context, **options):
    deadline = Deadline(context.get_remaining_time_in_millis)
    return Replicas(stubbed.ivs).start(SPEC, deadline, **options)


def lost_then_refused(stubbed, code: str, status: int, message: str) -> None:
    """The first Start carried out, its answer lost (a read timeout); the retry refused."""
    stubbed.fail_next(START, ReadTimeoutError(endpoint_url=ENDPOINT))
    stubbed.expect_start_error(code, status, message)


def test_a_replica_another_resource_declares_is_adopted_without_a_watch(stubbed, context):
    """Declared elsewhere (a renamed construct's), a replica listed ACTIVE runs for good: one
    listing, no watch for a Stop that may be landing."""
    stubbed.expect_start_error("ConflictException", 409, "already replicating")
    stubbed.expect_list({DESTINATION: "ACTIVE"})

    assert start(stubbed, context, declared_elsewhere=True) == AlreadyActive()
    assert stubbed.calls == [START, LIST]
    assert stubbed.sleeps == []


def test_a_refusal_after_a_lost_answer_keeps_that_it_may_have_started_it(stubbed, context):
    """Refused for a real reason while the participant publishes and nothing is listed ACTIVE:
    the lost attempt may still have started it (late), so the outcome says so and an undo
    follows."""
    lost_then_refused(stubbed, "ConflictException", 409, "busy")
    stubbed.expect_list({})
    stubbed.expect_publishing_observed()

    outcome = start(stubbed, context)

    assert isinstance(outcome, Refused)
    assert outcome.unanswered is True
    assert outcome.may_have_acted
    assert stubbed.calls == [START, START, LIST, GET_STAGE, GET_PARTICIPANT]


def test_not_publishing_after_a_lost_answer_is_read_from_the_state_then_settles(stubbed, context):
    """The known words after a lost answer: the listing shows the lost attempt left nothing,
    and the words stand as "not publishing", so a publisher observed publishing is retried
    (IVS catching up), and the retry starts it."""
    lost_then_refused(stubbed, "ValidationException", 400, "host-1 is not publishing")
    stubbed.expect_list({})
    stubbed.expect_publishing_observed()
    stubbed.expect_start()

    assert start(stubbed, context, settle=Settle(SETTLE_SECONDS)) == Started()
    assert stubbed.calls == [START, START, LIST, GET_STAGE, GET_PARTICIPANT, START]
    assert stubbed.sleeps[-1] == 0.5  # the settle wait, after the retry's backoff


def test_not_publishing_after_a_lost_answer_with_the_publisher_gone_is_not_publishing(
    stubbed, context
):
    lost_then_refused(stubbed, "ValidationException", 400, "host-1 is not publishing")
    stubbed.expect_list({})
    stubbed.expect_not_publishing_observed()

    assert start(stubbed, context, settle=Settle(SETTLE_SECONDS)) == NotPublishing()
    assert stubbed.calls == [START, START, LIST, GET_STAGE]


def test_confirming_active_polls_from_half_a_second_doubling_to_four_within_the_timeout(
    stubbed, context, monkeypatch
):
    """A Start IVS accepted is confirmed by listing it until ACTIVE, with backoff from 0.5 s
    doubling up to 4 s (each wait its longest here), giving up once the next wait would pass
    the timeout (one that ends on it is still taken), and saying what IVS listed last."""
    monkeypatch.setattr("ivs_replication_handler.retries.random.uniform", lambda _, high: high)
    for _ in range(10):
        stubbed.expect_list({DESTINATION: "STOPPED"})
    sleeps: list[float] = []

    outcome = Replicas(stubbed.ivs).confirm_active(
        KEY,
        Deadline(context.get_remaining_time_in_millis),
        timeout_seconds=27.5,
        sleep=sleeps.append,
    )

    assert outcome == Unconfirmed("IVS did not list it as ACTIVE within 28 s (last state: STOPPED)")
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert stubbed.calls == [LIST] * 10


def test_confirming_active_with_the_listing_refused_says_the_listing_failed(stubbed, context):
    stubbed.stubber.add_client_error("list_participant_replicas", "AccessDeniedException", "", 403)

    outcome = Replicas(stubbed.ivs).confirm_active(
        KEY,
        Deadline(context.get_remaining_time_in_millis),
        timeout_seconds=30.0,
        sleep=lambda _: None,
    )

    assert isinstance(outcome, Unconfirmed)
    assert outcome.cause.startswith("listing replicas failed: ")
    assert "AccessDeniedException" in outcome.cause


def test_by_default_a_replica_listed_active_is_watched_for_a_stop_that_is_landing(stubbed, context):
    """The reconciler's Start (no other resource known to declare it): a replica IVS lists
    ACTIVE may be one whose Stop is still landing, so it is watched, and once it shows
    stopped the Start goes again instead of adopting what is about to end."""
    stubbed.expect_start_error("ConflictException", 409, "already replicating")
    stubbed.expect_list({DESTINATION: "ACTIVE"})
    stubbed.expect_list({DESTINATION: "STOPPED"})
    stubbed.expect_start()

    assert start(stubbed, context) == Started()
    assert stubbed.calls == [START, LIST, LIST, START]
    assert stubbed.sleeps == [0.25]


def test_a_refusal_after_a_lost_answer_with_the_source_stage_gone_keeps_the_lost_attempt(
    stubbed, context
):
    """The source stage is missing when the refusal is looked into: IVS's refusal is the
    answer, and it still says that the lost attempt may have started the replication."""
    lost_then_refused(stubbed, "ConflictException", 409, "busy")
    stubbed.expect_list({})
    stubbed.stubber.add_client_error("get_stage", "ResourceNotFoundException", "no stage", 404)

    outcome = start(stubbed, context)

    assert isinstance(outcome, Refused)
    assert outcome.error.code == "ConflictException"
    assert outcome.unanswered is True
    assert stubbed.calls == [START, START, LIST, GET_STAGE]


def landing_stop(stubbed) -> None:
    """A Start refused by a replica listed ACTIVE that shows stopped a moment later."""
    stubbed.expect_start_error("ConflictException", 409, "already replicating")
    stubbed.expect_list({DESTINATION: "ACTIVE"})
    stubbed.expect_list({DESTINATION: "STOPPED"})


def test_a_start_goes_again_after_each_of_two_landing_stops(stubbed, context):
    for _ in range(STOP_ATTEMPTS - 1):
        landing_stop(stubbed)
    stubbed.expect_start()

    assert start(stubbed, context) == Started()
    assert stubbed.calls.count(START) == STOP_ATTEMPTS


def test_a_start_that_keeps_meeting_landing_stops_gives_up_refused(stubbed, context):
    """Someone keeps starting and stopping it: after STOP_ATTEMPTS landing Stops the Start
    ends with IVS's refusal instead of going on."""
    for _ in range(STOP_ATTEMPTS):
        landing_stop(stubbed)

    outcome = start(stubbed, context)

    assert isinstance(outcome, Refused)
    assert outcome.error.code == "ConflictException"
    assert stubbed.calls.count(START) == STOP_ATTEMPTS


def test_a_lost_answer_in_an_earlier_settle_retry_stays_with_the_final_refusal(stubbed, context):
    """The first Start's answer is lost and IVS then says "not publishing" while the
    publisher is observed live (a settle retry); the retry is refused for a real reason, and
    the outcome still says the lost attempt may have started it."""
    lost_then_refused(stubbed, "ValidationException", 400, "host-1 is not publishing")
    stubbed.expect_list({})
    stubbed.expect_publishing_observed()
    stubbed.expect_start_error("ConflictException", 409, "busy")
    stubbed.expect_list({})
    stubbed.expect_publishing_observed()

    outcome = start(stubbed, context, settle=Settle(SETTLE_SECONDS))

    assert isinstance(outcome, Refused)
    assert outcome.error.code == "ConflictException"
    assert outcome.unanswered is True
    assert stubbed.calls.count(START) == 3


def test_giving_up_on_landing_stops_after_a_lost_answer_keeps_the_lost_attempt(stubbed, context):
    lost_then_refused(stubbed, "ConflictException", 409, "already replicating")
    stubbed.expect_list({DESTINATION: "ACTIVE"})
    stubbed.expect_list({DESTINATION: "STOPPED"})
    for _ in range(STOP_ATTEMPTS - 1):
        landing_stop(stubbed)

    outcome = start(stubbed, context)

    assert isinstance(outcome, Refused)
    assert outcome.unanswered is True


def refused_not_publishing_while_observed_publishing(stubbed, times: int) -> None:
    """IVS says "not publishing" while the publisher is observed publishing (IVS catching up)."""
    for _ in range(times):
        stubbed.expect_start_error("ValidationException", 400, "host-1 is not publishing")
        stubbed.expect_publishing_observed()


def test_a_settle_retry_is_taken_when_its_wait_ends_on_the_settle_time(stubbed, context):
    """Waits of 0.5, 1 and 2 s fit a settle time of 3.5 s exactly: three retries, then the
    next wait would pass it and the refusal stands."""
    refused_not_publishing_while_observed_publishing(stubbed, 3)
    stubbed.expect_start_error("ValidationException", 400, "host-1 is not publishing")

    assert start(stubbed, context, settle=Settle(3.5)) == NotPublishing()
    assert stubbed.sleeps == [0.5, 1.0, 2.0]
    assert stubbed.calls.count(START) == 4


def test_a_settle_retry_is_taken_only_with_an_attempts_time_left_after_its_wait(stubbed, context):
    """Near the deadline: the first wait leaves exactly one attempt's time, so the retry goes;
    the next would leave less, so the refusal stands (the deadline is never overrun)."""
    budget = stubbed.ivs.attempt_budget_seconds
    context.remaining_ms = int((DEADLINE_MARGIN_SECONDS + budget + 0.5) * 1000)
    refused_not_publishing_while_observed_publishing(stubbed, 1)
    stubbed.expect_start_error("ValidationException", 400, "host-1 is not publishing")

    assert start(stubbed, context, settle=Settle(SETTLE_SECONDS)) == NotPublishing()
    assert stubbed.sleeps == [0.5]
    assert stubbed.calls.count(START) == 2
