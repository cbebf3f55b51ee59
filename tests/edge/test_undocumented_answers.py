"""The handler at its AWS edge where IVS documents nothing: replica records across pages, a
refused Start decided from observed state, a duplicate Start answering 200, a Stop of a
STOPPED replica answering an error, and a Start right after publishing."""

from __future__ import annotations

import pytest

from ivs_replication_handler import contract as c
from ivs_replication_handler.errors import ReplicationFailedError
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.reconciler import reconcile
from ivs_replication_handler.replicas import SETTLE_SECONDS, STOP_ATTEMPTS, STOP_EFFECT_DELAYS
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.spec import ReplicationKey, ReplicationSpec
from tests.publishing import published_event

# As in conftest.py (this folder is no package).
SOURCE = "arn:aws:ivs:us-east-1:123456789012:stage/SourceStage01"
DESTINATION = "arn:aws:ivs:us-east-1:123456789012:stage/DestinationStage01"
OTHER_DESTINATION = "arn:aws:ivs:us-east-1:123456789012:stage/DestinationStage02"
PARTICIPANT = "host-1"

START = "StartParticipantReplication"
STOP = "StopParticipantReplication"
LIST = "ListParticipantReplicas"
KEY = ReplicationKey(SOURCE, DESTINATION, PARTICIPANT)


def sid(name: str) -> str:
    """A session id of the model's form: "st-" and 13 letters or digits."""
    return ("st-" + name.replace("-", "") + "0" * 13)[:16]


def deadline(context) -> Deadline:
    return Deadline(context.get_remaining_time_in_millis)


# --- replica records ------------------------------------------------------------------------


def test_an_active_record_on_a_later_page_wins_over_stopped_history(stubbed, context):
    stubbed.expect_list_records([(DESTINATION, "STOPPED", sid("old"))], token_out="2")
    stubbed.expect_list_records(
        [(DESTINATION, "STOPPED", sid("older"))], token_in="2", token_out="3"
    )
    stubbed.expect_list_records([(DESTINATION, "ACTIVE", sid("live"))], token_in="3")
    assert stubbed.ivs.replica_state(KEY, deadline(context)) == "ACTIVE"
    assert stubbed.calls == [LIST, LIST, LIST]  # every page read


def test_only_stopped_records_and_no_record_are_distinct_answers(stubbed, context):
    stubbed.expect_list_records(
        [(DESTINATION, "STOPPED", sid("s1")), (DESTINATION, "STOPPED", sid("s2"))]
    )
    assert stubbed.ivs.replica_states(SOURCE, PARTICIPANT, deadline(context)) == {
        DESTINATION: "STOPPED"
    }
    stubbed.expect_list_records([])
    assert stubbed.ivs.replica_state(KEY, deadline(context)) is None


def test_with_a_live_session_known_only_its_active_record_counts(stubbed, context):
    records = [(DESTINATION, "ACTIVE", sid("old")), (OTHER_DESTINATION, "ACTIVE", sid("live"))]
    stubbed.expect_list_records(records)
    states = stubbed.ivs.replica_states(
        SOURCE, PARTICIPANT, deadline(context), live_session_id=sid("live")
    )
    assert states == {DESTINATION: "STOPPED", OTHER_DESTINATION: "ACTIVE"}


# --- a refused Start, decided from observed state -----------------------------------------


@pytest.mark.parametrize(("code", "status"), [("ResourceNotFoundException", 404),
                                              ("ConflictException", 409)])  # fmt: skip
def test_an_unknown_refusal_with_nobody_publishing_is_not_publishing(
    stubbed, cfn, context, code, status
):
    stubbed.expect_start_error(code, status, "Participant not found in the stage session")
    stubbed.expect_list({})
    stubbed.expect_get_stage(None)  # no active session
    with pytest.raises(ReplicationFailedError, match="'host-1' is not publishing"):
        handle_event(cfn.create(), context, stubbed.ivs)


def test_an_unknown_refusal_of_a_participant_who_left_is_not_publishing(stubbed, cfn, context):
    stubbed.expect_start_error("ConflictException", 409, "Source is not in a valid state")
    stubbed.expect_list({})
    stubbed.expect_get_stage(sid("live"))
    stubbed.expect_get_participant(sid("live"), state="DISCONNECTED")
    with pytest.raises(ReplicationFailedError, match="'host-1' is not publishing"):
        handle_event(cfn.create(), context, stubbed.ivs)


def test_an_unknown_refusal_with_the_replica_active_adopts_it(stubbed, cfn, context):
    stubbed.expect_start_error("ValidationException", 400, "Replica already exists")
    for _ in range(1 + len(STOP_EFFECT_DELAYS)):  # listed ACTIVE throughout the watch
        stubbed.expect_list_records(
            [(DESTINATION, "STOPPED", sid("a")), (DESTINATION, "ACTIVE", sid("b"))]
        )
    result = handle_event(cfn.create(), context, stubbed.ivs)
    assert result["PhysicalResourceId"] == cfn.physical_id
    assert stubbed.calls == [START, *[LIST] * (1 + len(STOP_EFFECT_DELAYS))]


def test_a_refusal_whose_source_stage_is_missing_fails_with_the_services_text(
    stubbed, cfn, context
):
    stubbed.expect_start_error("ResourceNotFoundException", 404, "Stage not found")
    stubbed.expect_list({})
    stubbed.stubber.add_client_error(
        "get_stage", service_error_code="ResourceNotFoundException", http_status_code=404
    )
    with pytest.raises(ReplicationFailedError, match="Stage not found"):
        handle_event(cfn.create(), context, stubbed.ivs)


# --- a duplicate Start answering 200, a Stop of a STOPPED replica answering an error -------


def test_a_duplicate_start_answering_200_is_a_confirmed_create(stubbed, cfn, context):
    stubbed.expect_start()  # IVS may answer 200 to a Start of an ACTIVE replica
    stubbed.expect_list_records(
        [(DESTINATION, "STOPPED", sid("a")), (DESTINATION, "ACTIVE", sid("b"))]
    )
    result = handle_event(cfn.create(), context, stubbed.ivs)
    assert result["PhysicalResourceId"] == cfn.physical_id
    assert STOP not in stubbed.calls


@pytest.mark.parametrize(("code", "status"), [("ConflictException", 409),
                                              ("ValidationException", 400)])  # fmt: skip
def test_a_stop_of_a_stopped_replica_refused_with_any_code_is_a_successful_delete(
    stubbed, cfn, context, code, status
):
    stubbed.expect_stop_error(code, status, "Replication is not active")
    stubbed.expect_list_records([(DESTINATION, "STOPPED", sid("a"))], token_out="2")
    stubbed.expect_list_records([(DESTINATION, "STOPPED", sid("b"))], token_in="2")
    handle_event(cfn.delete(), context, stubbed.ivs)  # no exception: deleted


def test_a_stop_refused_while_a_later_page_lists_it_active_fails(stubbed, cfn, context):
    for _ in range(STOP_ATTEMPTS):
        stubbed.expect_stop_error("ConflictException", 409, "Try again")
        for _ in range(1 + len(STOP_EFFECT_DELAYS)):  # watched for an earlier Stop to show
            stubbed.expect_list_records([(DESTINATION, "STOPPED", sid("a"))], token_out="2")
            stubbed.expect_list_records([(DESTINATION, "ACTIVE", sid("b"))], token_in="2")
    with pytest.raises(ReplicationFailedError, match="Try again"):
        handle_event(cfn.delete(), context, stubbed.ivs)


# --- right after a Published event ----------------------------------------------------------


class _Declared:
    """A registry with one follow-mode declaration of KEY, answering at once."""

    attempt_budget_seconds = 0.0

    def __init__(self, spec) -> None:
        self.spec = spec

    def declarations_of(self, *_):
        return [self.spec]

    def mirrors_of(self, *_):
        return []

    def declaration(self, *_):
        return self.spec


def _follow_spec() -> ReplicationSpec:
    return ReplicationSpec(KEY, when_not_publishing=c.MODE_FOLLOW)


def test_after_a_published_event_not_publishing_is_retried_until_ivs_catches_up(stubbed, context):
    """A publisher observed live in the event's session, whose replication IVS does not accept
    yet: the refusal is retried until IVS catches up."""
    stubbed.expect_list({})
    for _ in range(3):
        stubbed.expect_start_error("ValidationException", 400, "host-1 is not publishing")
        stubbed.expect_publishing_observed(session_id="st-live-session1")
    stubbed.expect_start()
    report = reconcile(
        published_event(SOURCE, PARTICIPANT, session_id="st-live-session1"),
        stubbed.ivs,
        _Declared(_follow_spec()),
        deadline(context),
    )
    assert report.started == [KEY.physical_id()]
    assert stubbed.sleeps == [0.5, 1.0, 2.0]  # from half a second, doubling up to 2 s


def test_after_a_published_event_not_publishing_is_retried_for_30_s_at_most(stubbed, context):
    stubbed.expect_list({})
    # As many refusals as fit in 30 s of backoff (0.5, 1, then 2 s each: 29.5 s, 17 Starts),
    # each but the last followed by a look at the publisher: still live.
    for attempt in range(17):
        stubbed.expect_start_error("ValidationException", 400, "host-1 is not publishing")
        if attempt < 16:
            stubbed.expect_publishing_observed()
    report = reconcile(
        published_event(SOURCE, PARTICIPANT),
        stubbed.ivs,
        _Declared(_follow_spec()),
        deadline(context),
    )
    assert report.not_publishing == [KEY.physical_id()]
    assert 25 <= sum(stubbed.sleeps) <= SETTLE_SECONDS


@pytest.mark.parametrize(
    "gone",
    ["another session is active", "no session is active", "left, session lingering", "unknown"],
)
def test_a_late_published_event_for_a_publisher_observed_gone_ends_at_once(stubbed, context, gone):
    """EventBridge may deliver an event hours late: a publisher observed gone (the stage's
    session is another one, or none, or it is disconnected in a lingering session) is skipped
    after one Start and a read or two, instead of a 30-second settle and 17 Starts."""
    stubbed.expect_list({})
    stubbed.expect_start_error("ValidationException", 400, "host-1 is not publishing")
    if gone == "another session is active":
        stubbed.expect_get_stage("st-later-session")
    elif gone == "no session is active":
        stubbed.expect_get_stage(None)
    elif gone == "left, session lingering":
        stubbed.expect_get_stage("st-event-session")
        stubbed.expect_get_participant("st-event-session", state="DISCONNECTED")
    else:
        stubbed.expect_get_stage("st-event-session")
        stubbed.stubber.add_client_error(
            "get_participant", "ResourceNotFoundException", "not found", 404
        )
    report = reconcile(
        published_event(SOURCE, PARTICIPANT, session_id="st-event-session"),
        stubbed.ivs,
        _Declared(_follow_spec()),
        deadline(context),
    )
    assert report.not_publishing == [KEY.physical_id()]
    assert stubbed.calls.count("StartParticipantReplication") == 1
    assert stubbed.sleeps == []


def test_a_published_event_whose_publisher_cannot_be_read_is_retried_on_the_events_word(
    stubbed, context
):
    """When the publisher's state cannot be read, the event's word that it is live stands."""
    stubbed.expect_list({})
    stubbed.expect_start_error("ValidationException", 400, "host-1 is not publishing")
    stubbed.stubber.add_client_error("get_stage", "AccessDeniedException", "denied", 403)
    stubbed.expect_start()
    report = reconcile(
        published_event(SOURCE, PARTICIPANT, session_id="st-event-session"),
        stubbed.ivs,
        _Declared(_follow_spec()),
        deadline(context),
    )
    assert report.started == [KEY.physical_id()]


class _WithdrawnDuringTheStart:
    """A registry declaring KEY when the run reads it, and nothing by the re-read after the
    Start: the resource was deleted meanwhile."""

    attempt_budget_seconds = 0.0

    def declarations_of(self, *_):
        return [ReplicationSpec(KEY, when_not_publishing=c.MODE_FOLLOW)]

    def mirrors_of(self, *_):
        return []

    def declaration(self, *_):
        return None


def test_a_reconciler_whose_undo_stop_cannot_be_confirmed_fails_that_declaration(stubbed, context):
    """Withdrawn during its Start, refused the Stop, the listing unreadable: the replication
    may run with nothing declaring it, so the run fails (Lambda retries it) instead of
    reporting it handled, or crashing the other declarations' run."""
    stubbed.expect_list({})
    stubbed.expect_start()
    stubbed.expect_stop_error("ConflictException", 409, "busy")
    stubbed.stubber.add_client_error(
        "list_participant_replicas", "AccessDeniedException", "refused", 403
    )
    report = reconcile(
        published_event(SOURCE, PARTICIPANT),
        stubbed.ivs,
        _WithdrawnDuringTheStart(),
        deadline(context),
    )
    assert list(report.failed) == [KEY.physical_id()]
    assert (
        "reading the state to tell whether it still runs then failed"
        in report.failed[KEY.physical_id()]
    )
    assert stubbed.calls == [LIST, START, STOP, LIST]
