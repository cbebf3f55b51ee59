"""A hung IVS endpoint against the Lambda deadline: the handler must fail clearly in time,
leaving time to answer CloudFormation, and must not leave a replication running."""

from __future__ import annotations

import time

import pytest

from ivs_replication.testing.cloudformation import LocalLambdaContext, custom_resource_event
from ivs_replication_handler.errors import ReplicationFailedError
from ivs_replication_handler.handler import handle_event
from tests.publishing import publish_for_a_while

START = "StartParticipantReplication"
CONTEXT_TIMEOUT_SECONDS = 12.0
# Time the provider framework still needs after the handler returns, to answer CloudFormation.
REPORTING_TIME_MS = 1000
SERVER_STOP_SECONDS = 2.0


@pytest.fixture
def replication(local_ivs):
    """Properties of a replication whose participant is publishing."""
    source = local_ivs.create_stage("source")
    destination = local_ivs.create_stage("destination")
    publish_for_a_while(local_ivs, source, "host")
    return {"SourceStageArn": source, "DestinationStageArn": destination, "ParticipantId": "host"}


@pytest.fixture
def release_hung(local_ivs):
    """Let held calls go in teardown, so the server stops at once."""
    yield
    local_ivs.faults.release_hung()


@pytest.mark.usefixtures("release_hung")
def test_a_hung_start_fails_clearly_before_the_lambda_deadline(local_ivs, make_ivs, replication):
    local_ivs.faults.hang(START, count=100)
    context = LocalLambdaContext(timeout_seconds=CONTEXT_TIMEOUT_SECONDS)
    started = time.monotonic()

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(custom_resource_event("Create", replication), context, make_ivs())

    elapsed = time.monotonic() - started
    assert context.get_remaining_time_in_millis() > REPORTING_TIME_MS, elapsed
    message = str(caught.value)
    assert START in message
    assert "'host'" in message
    assert replication["DestinationStageArn"] in message
    assert "Deploy again" in message
    assert local_ivs.faults.hung_calls >= 1
    assert local_ivs.replicas(state="ACTIVE") == []


def test_a_server_with_hung_calls_stops_promptly(local_ivs, make_ivs, replication):
    local_ivs.faults.hang(START, count=100)
    with pytest.raises(ReplicationFailedError):
        handle_event(
            custom_resource_event("Create", replication),
            LocalLambdaContext(timeout_seconds=CONTEXT_TIMEOUT_SECONDS),
            make_ivs(),
        )
    assert local_ivs.faults.hung_calls >= 1

    started = time.monotonic()
    local_ivs.stop()

    assert time.monotonic() - started < SERVER_STOP_SECONDS
    assert local_ivs.faults.hung_calls == 0


@pytest.mark.usefixtures("release_hung")
def test_a_start_that_hangs_once_is_retried_and_the_create_succeeds(
    local_ivs, make_ivs, replication
):
    # Room for the hung attempt (read timeout), a retry, its confirmation and the undo reserve.
    context = LocalLambdaContext(timeout_seconds=20)
    local_ivs.faults.hang(START, count=1)

    result = handle_event(custom_resource_event("Create", replication), context, make_ivs())

    assert result["PhysicalResourceId"] == "|".join(replication.values())
    assert local_ivs.calls[START] == 2
    (replica,) = local_ivs.replicas(state="ACTIVE")
    assert replica.participant_id == "host"
    assert context.get_remaining_time_in_millis() > 0


@pytest.mark.usefixtures("release_hung")
def test_a_start_that_hangs_once_without_time_to_retry_fails_with_nothing_active(
    local_ivs, make_ivs, replication
):
    # 12 s, minus the 5 s reporting margin, minus a 3 s attempt reserved for the undo: the
    # hung attempt's read timeout leaves too little for a second attempt.
    context = LocalLambdaContext(timeout_seconds=CONTEXT_TIMEOUT_SECONDS)
    local_ivs.faults.hang(START, count=1)

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(custom_resource_event("Create", replication), context, make_ivs())

    assert context.get_remaining_time_in_millis() > REPORTING_TIME_MS
    assert "did not complete" in str(caught.value)
    assert local_ivs.replicas(state="ACTIVE") == []
    assert local_ivs.calls[START] == 1


def test_a_start_answered_after_its_timeout_is_not_reported_as_nothing_running(
    local_ivs, make_ivs, replication
):
    local_ivs.faults.hang(START, count=1)
    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(
            custom_resource_event("Create", replication),
            LocalLambdaContext(timeout_seconds=CONTEXT_TIMEOUT_SECONDS),
            make_ivs(),
        )

    # IVS got the request all along; it now answers (to a client that gave up).
    local_ivs.faults.release_hung()
    give_up = time.monotonic() + SERVER_STOP_SECONDS
    while not local_ivs.replicas(state="ACTIVE") and time.monotonic() < give_up:
        time.sleep(0.02)

    if local_ivs.replicas(state="ACTIVE"):
        message = str(caught.value)
        assert "Nothing was left running" not in message
        assert "stop-participant-replication" in message
