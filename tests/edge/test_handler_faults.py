"""Transient and permanent IVS errors, and the Lambda deadline, through `handle_event`."""

from __future__ import annotations

import random

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from ivs_replication_handler import contract as c
from ivs_replication_handler import messages
from ivs_replication_handler.errors import ReplicationFailedError
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.ivs import IvsRealtime
from ivs_replication_handler.settings import FunctionSettings

START = "StartParticipantReplication"
STOP = "StopParticipantReplication"
LIST = "ListParticipantReplicas"
ENDPOINT = "https://ivsrealtime.us-east-1.amazonaws.com"

# --- transient: retried with bounded backoff ------------------------------------------------


def test_start_throttled_twice_then_accepted_succeeds_after_bounded_backoff(stubbed, cfn, context):
    stubbed.expect_start_error("ThrottlingException", 429, "Rate exceeded")
    stubbed.expect_start_error("ThrottlingException", 429, "Rate exceeded")
    stubbed.expect_start()
    stubbed.expect_list({cfn.destination: "ACTIVE"})

    result = handle_event(cfn.create(), context, stubbed.ivs)

    assert result["PhysicalResourceId"] == cfn.physical_id
    assert stubbed.calls == [START, START, START, LIST]
    # No stack size known (no IVS_REPLICATION_STACK_REPLICATIONS): back off from half a second.
    assert len(stubbed.sleeps) == 2
    assert 0 <= stubbed.sleeps[0] <= 0.5
    assert 0 <= stubbed.sleeps[1] <= 1.0


def test_a_throttled_start_spreads_its_first_retry_over_the_stacks_burst_window(
    stubbed, cfn, context, monkeypatch
):
    """In a stack of 400 replications a throttled Start first waits anywhere in (a little more
    than) the 80 s that 400 Starts need at 5 per second, so a burst of creates does not retry
    in lockstep. The count is read once, as the handler's cold start reads it: a later change
    of the process's environment reaches nothing."""
    monkeypatch.setenv(c.ENV_STACK_REPLICATIONS, "400")
    settings = FunctionSettings.from_environment().ivs
    stubbed.ivs = IvsRealtime(stubbed.client, sleep=stubbed.ivs.sleep, settings=settings)
    monkeypatch.setenv(c.ENV_STACK_REPLICATIONS, "40")
    monkeypatch.setattr(random, "uniform", lambda low, high: high)  # the window's far end
    context.remaining_ms = 300_000
    stubbed.expect_start_error("ThrottlingException", 429, "Rate exceeded")
    stubbed.expect_start()
    stubbed.expect_list({cfn.destination: "ACTIVE"})

    handle_event(cfn.create(), context, stubbed.ivs)

    assert stubbed.calls == [START, START, LIST]
    # The far end of the window: 400 Starts at 5/s, spread 10 % wider.
    assert stubbed.sleeps == [pytest.approx(1.1 * 400 / c.IVS_CALLS_PER_SECOND)]


def test_start_internal_server_error_then_accepted_succeeds(stubbed, cfn, context):
    stubbed.expect_start_error("InternalServerException", 500, "Internal failure")
    stubbed.expect_start()
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    handle_event(cfn.create(), context, stubbed.ivs)
    assert stubbed.calls == [START, START, LIST]
    assert len(stubbed.sleeps) == 1


@pytest.mark.parametrize(
    "error",
    [EndpointConnectionError(endpoint_url=ENDPOINT), ReadTimeoutError(endpoint_url=ENDPOINT)],
    ids=["connection", "read-timeout"],
)
def test_start_transport_failure_is_retried(stubbed, cfn, context, error):
    stubbed.fail_next(START, error)
    stubbed.expect_start()
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    handle_event(cfn.create(), context, stubbed.ivs)
    assert stubbed.calls == [START, START, LIST]


def test_a_refusal_after_a_lost_start_answer_stops_what_that_attempt_may_have_started(
    stubbed, cfn, context
):
    """Nothing is left running after a failed Create: the first Start reached IVS and its
    answer was lost (a read timeout), so the refusal of the retry is followed by a Stop."""
    stubbed.fail_next(START, ReadTimeoutError(endpoint_url=ENDPOINT))
    stubbed.expect_start_error("ServiceQuotaExceededException", 402, "Replication quota exceeded")
    stubbed.expect_undo_stop()

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.create(), context, stubbed.ivs)

    assert stubbed.calls == [START, START, STOP, LIST]
    assert "may have started it. It was stopped again" in str(caught.value)
    assert "request a quota increase" in str(caught.value)


def test_a_refusal_after_a_start_that_never_connected_stops_nothing(stubbed, cfn, context):
    stubbed.fail_next(START, EndpointConnectionError(endpoint_url=ENDPOINT))
    stubbed.expect_start_error("ServiceQuotaExceededException", 402, "Replication quota exceeded")

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.create(), context, stubbed.ivs)

    assert stubbed.calls == [START, START]
    assert "may have started" not in str(caught.value)


def test_delete_retries_a_503_stop(stubbed, cfn, context):
    stubbed.expect_stop_error("ServiceUnavailableException", 503, "Service unavailable")
    stubbed.expect_stop()
    stubbed.expect_list({cfn.destination: "STOPPED"})
    handle_event(cfn.delete(), context, stubbed.ivs)
    assert stubbed.calls == [STOP, STOP, LIST]


def test_confirmation_retries_a_throttled_list(stubbed, cfn, context):
    stubbed.expect_start()
    stubbed.stubber.add_client_error(
        "list_participant_replicas", "ThrottlingException", "Rate exceeded", 429
    )
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    handle_event(cfn.create(), context, stubbed.ivs)
    assert stubbed.calls == [START, LIST, LIST]


# --- permanent: fail at once with the service's text and a hint -----------------------------


@pytest.mark.parametrize(
    "error",
    [
        (
            "AccessDeniedException",
            403,
            "User is not authorized to perform ivs:StartParticipantReplication",
            "check the role's policy",
        ),
        (
            "PendingVerification",
            403,
            "Account is pending verification",
            "complete verification",
        ),
        (
            "ServiceQuotaExceededException",
            402,
            "Replication quota exceeded",
            "request a quota increase",
        ),
        ("ValidationException", 400, "Destination stage is invalid", "check the stage ARNs"),
    ],
)
def test_permanent_start_error_fails_at_once_with_service_text_and_hint(
    stubbed, cfn, context, error
):
    code, status, text, hint = error
    stubbed.expect_start_error(code, status, text)
    if status == 400:
        # Could mean "not publishing": decided from observed state (publishing, nothing ACTIVE).
        stubbed.expect_list({})
        stubbed.expect_get_stage("st-source-session")
        stubbed.expect_get_participant("st-source-session")

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.create(), context, stubbed.ivs)

    message = str(caught.value)
    assert message == (
        f"{START} failed for {cfn.key_description}: {code}: {text} {messages.hint(code)}"
    )
    assert hint in message
    assert stubbed.calls[0] == START
    assert START not in stubbed.calls[1:]  # no retry of a refusal
    assert stubbed.sleeps == []


def test_service_text_only_in_exception_message_is_surfaced(stubbed, cfn, context):
    stubbed.expect_start_error(
        "AccessDeniedException",
        403,
        "",
        exception_message="Stage arn:aws:ivs:us-east-1:111122223333:stage/x is not yours",
    )
    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.create(), context, stubbed.ivs)
    assert "is not yours" in str(caught.value)
    assert "check the role's policy" in str(caught.value)
    assert stubbed.calls == [START]


def test_exception_message_wins_over_the_generic_message(stubbed, cfn, context):
    stubbed.expect_start_error(
        "ServiceQuotaExceededException",
        402,
        "Forbidden",
        exception_message="Too many replications for this stage",
    )
    with pytest.raises(ReplicationFailedError, match="Too many replications for this stage"):
        handle_event(cfn.create(), context, stubbed.ivs)


# --- the Lambda deadline --------------------------------------------------------------------


def test_create_with_almost_no_time_left_fails_clearly_without_calling(stubbed, cfn, context):
    context.remaining_ms = 10_000

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.create(), context, stubbed.ivs)

    message = str(caught.value)
    assert "no time left" in message
    assert cfn.participant in message
    assert "Deploy again" in message
    assert stubbed.calls == []


def test_create_that_never_sent_start_does_not_claim_it_may_be_running(stubbed, cfn, context):
    context.remaining_ms = 10_000
    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.create(), context, stubbed.ivs)
    assert stubbed.calls == []
    assert "may still be running" not in str(caught.value)


def test_delete_with_almost_no_time_left_fails_asking_for_a_retry(stubbed, cfn, context):
    context.remaining_ms = 10_000
    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.delete(), context, stubbed.ivs)
    assert caught.value.advice == (
        f"Stopping {cfn.key_description} ran out of time. Retry the operation."
    )
    assert "no time left" in caught.value.cause
    assert stubbed.calls == []


@pytest.mark.parametrize(
    "case",
    [
        ("InternalServerException", 500, "stopped again", [START, STOP, LIST]),
        ("ThrottlingException", 429, "Nothing was changed", [START]),
    ],
    ids=["server-error: stopped again", "throttled: nothing to stop"],
)
def test_a_start_failing_at_the_deadline_is_stopped_again_only_if_it_may_have_acted(
    stubbed, cfn, context, case
):
    """Nothing is left running after a failed Create, and nothing is stopped for nothing: a
    Start answered with a server error may have been carried out, so it is stopped again; a
    throttled one was refused before anything was done, and a Stop would only add load."""
    code, status, outcome, calls = case
    # Just enough time for one Start attempt that keeps time back for the Stop.
    context.remaining_ms = 31_000
    stubbed.expect_start_error(code, status, "failed")
    if STOP in calls:
        stubbed.expect_undo_stop()

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.create(), context, stubbed.ivs)

    message = str(caught.value)
    assert "still failing after 1 attempts" in message
    assert code in message
    assert outcome in message
    assert stubbed.calls == calls


def throttled_forever(context, calls, sleeps):
    """An `IvsRealtime` whose service throttles every Start and accepts every Stop."""
    client = boto3.client("ivs-realtime")

    def answer(model, **_):
        calls.append(model.name)
        if model.name == START:
            return AWSResponse(ENDPOINT, 429, {}, None), {
                "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                "ResponseMetadata": {"HTTPStatusCode": 429},
            }
        return AWSResponse(ENDPOINT, 200, {}, None), {"ResponseMetadata": {"HTTPStatusCode": 200}}

    def sleep(seconds):
        sleeps.append(seconds)
        context.elapsed_ms += int(seconds * 1000)

    client.meta.events.register_first("before-call.ivs-realtime", answer)
    return IvsRealtime(client=client, sleep=sleep), answer


def test_endless_throttling_gives_up_before_the_deadline_having_changed_nothing(cfn, context):
    context.remaining_ms = 60_000
    calls, sleeps = [], []
    ivs, _keep_alive = throttled_forever(context, calls, sleeps)

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.create(), context, ivs)

    assert "ThrottlingException" in str(caught.value)
    assert "Nothing was changed" in str(caught.value)
    assert calls.count(START) >= 2
    assert STOP not in calls  # every Start was refused: there is nothing to stop
    # Backoff never ate into the time kept for the Stop and for answering CloudFormation.
    assert sum(sleeps) <= 60 - 5 - 13
    assert max(sleeps) <= 5.0


def test_a_refusal_whose_state_cannot_be_read_fails_saying_nothing_was_started(
    stubbed, cfn, context
):
    """A Start refused with a status that may mean "not publishing", and the listing that
    would tell why refused too: the Create fails naming the replication it did not start,
    with both refusals, says this Start started nothing, and stops nothing."""
    stubbed.expect_start_error("ConflictException", 409, "busy")
    stubbed.stubber.add_client_error("list_participant_replicas", "AccessDeniedException", "", 403)

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.create(), context, stubbed.ivs)

    assert stubbed.calls == [START, LIST]
    assert caught.value.advice == f"Did not start {cfn.key_description}."
    reason = str(caught.value)
    assert "busy; reading the state to tell why then failed:" in reason
    assert "AccessDeniedException" in reason
    assert "; nothing was started by this Start" in reason
    assert "Nothing was changed" not in reason  # it was refused: the refusal is the news


def test_a_refusal_after_a_lost_answer_whose_state_cannot_be_read_is_stopped_again(
    stubbed, cfn, context
):
    """The first Start's answer lost, the retry refused, and the listing refused: the lost
    attempt may have started it, so it is stopped again, and the failure says so."""
    stubbed.fail_next(START, ReadTimeoutError(endpoint_url=ENDPOINT))
    stubbed.expect_start_error("ConflictException", 409, "busy")
    stubbed.stubber.add_client_error("list_participant_replicas", "AccessDeniedException", "", 403)
    stubbed.expect_undo_stop()

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.create(), context, stubbed.ivs)

    assert stubbed.calls == [START, START, LIST, STOP, LIST]
    reason = str(caught.value)
    assert "; an earlier attempt of this Start went unanswered and may have started it" in reason
    assert "It was stopped again" in reason
