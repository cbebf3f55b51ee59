"""A Start whose first answer is lost after IVS carried it out, and whose retry is refused.

The refusal then says nothing about what the first attempt did: it may have started the
replication. A failed Create is followed by CloudFormation's Delete of the provider's marker
id, which never reaches IVS, so whatever the failed Create left running would run on with no
resource declaring it. The hook (`tests.edge_hooks.FirstStartAnswerLost`) loses the first
answer after the service acted and sets the retry's refusal at exactly that moment: no sleeps.
"""

from __future__ import annotations

from typing import Any

import pytest

from ivs_realtime_emulator import IvsRealtimeEmulator
from ivs_replication.testing.cloudformation import LocalLambdaContext, custom_resource_event
from ivs_replication_handler import contract as c
from ivs_replication_handler.errors import ReplicationFailedError
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.replicas import STOP_ATTEMPTS
from tests.edge_hooks import FirstStartAnswerLost
from tests.publishing import publish_for_a_while
from tests.service_profiles import local_ivs, service_profile

__all__ = ["local_ivs", "service_profile"]  # fixtures: every test here runs under each profile

START = "StartParticipantReplication"
STOP = "StopParticipantReplication"
LIST = "ListParticipantReplicas"
PARTICIPANT = "encoder-1"
WINDOW_SECONDS = 30


@pytest.fixture
def fail_mode(local_ivs: IvsRealtimeEmulator) -> dict[str, object]:
    """Fail-mode properties of a replication whose participant publishes."""
    source = local_ivs.create_stage("main")
    publish_for_a_while(local_ivs, source, PARTICIPANT)
    return {
        c.PROP_SOURCE_STAGE_ARN: source,
        c.PROP_DESTINATION_STAGE_ARN: local_ivs.create_stage("side"),
        c.PROP_PARTICIPANT_ID: PARTICIPANT,
        c.PROP_RECONNECT_WINDOW_SECONDS: WINDOW_SECONDS,
        c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FAIL,
    }


def create(properties: dict[str, object], ivs: FirstStartAnswerLost) -> dict[str, object]:
    event = custom_resource_event("Create", properties)
    return handle_event(event, LocalLambdaContext(timeout_seconds=60), ivs)


def active(local_ivs: IvsRealtimeEmulator) -> list[Any]:
    """The replicas that run and go on running: ACTIVE, and no Stop of theirs answered."""
    return [r for r in local_ivs.replicas(state="ACTIVE") if not r.stopping]


def test_a_refusal_whose_reason_cannot_be_read_after_a_lost_answer_leaves_nothing_running(
    local_ivs: IvsRealtimeEmulator, fail_mode: dict[str, object]
) -> None:
    """Invariant: a failed Create leaves nothing running, and its Reason does not claim that
    nothing was started when an attempt whose answer was lost may have started it."""
    ivs = FirstStartAnswerLost()

    def refuse_the_retry_and_the_reads() -> None:
        local_ivs.faults.script_errors(START, [409])
        local_ivs.faults.script_errors(LIST, ["AccessDeniedException"])

    ivs.after = refuse_the_retry_and_the_reads

    with pytest.raises(ReplicationFailedError) as caught:
        create(fail_mode, ivs)

    assert active(local_ivs) == [], "the failed Create left a replication no resource declares"
    message = str(caught.value)
    assert "nothing was started" not in message.lower()
    assert "may have started it" in message
    assert "stopped again" in message


def test_a_final_refusal_after_a_lost_answer_stops_what_the_lost_attempt_started(
    local_ivs: IvsRealtimeEmulator, fail_mode: dict[str, object]
) -> None:
    """Invariant: a failed Create leaves nothing running, even when the refusal is final (a
    quota the first, unanswered attempt may itself have used up) and no state is read."""
    ivs = FirstStartAnswerLost()
    ivs.after = lambda: local_ivs.faults.script_errors(START, ["ServiceQuotaExceededException"])

    with pytest.raises(ReplicationFailedError) as caught:
        create(fail_mode, ivs)

    assert active(local_ivs) == [], "the failed Create left a replication no resource declares"
    message = str(caught.value)
    assert message.startswith(f"{START} failed for ")
    assert ": ServiceQuotaExceededException: " in message
    assert "An earlier attempt went unanswered and may have started it. It was stopped again" in (
        message
    )


def test_a_final_refusal_after_a_lost_answer_whose_undo_is_refused_says_how_to_stop_it(
    local_ivs: IvsRealtimeEmulator, fail_mode: dict[str, object]
) -> None:
    """Invariant: when the Stop that would undo a lost attempt's effect is refused too, the
    Reason says so and gives the command that stops this replication by hand (its stages and
    participant), never that it was stopped or that nothing runs."""
    ivs = FirstStartAnswerLost()

    def refuse_the_retry_and_the_undo() -> None:
        local_ivs.faults.script_errors(START, ["ServiceQuotaExceededException"])
        # Every Stop the undo makes (it stops again while the replica is listed ACTIVE).
        local_ivs.faults.script_errors(STOP, ["AccessDeniedException"] * STOP_ATTEMPTS)

    ivs.after = refuse_the_retry_and_the_undo

    with pytest.raises(ReplicationFailedError) as caught:
        create(fail_mode, ivs)

    assert len(active(local_ivs)) == 1, "what the Reason tells to stop by hand runs"
    message = str(caught.value)
    assert ": ServiceQuotaExceededException: " in message
    assert (
        "An earlier attempt went unanswered and may have started it. It may be running"
    ) in message
    assert (
        "`aws ivs-realtime stop-participant-replication "
        f"--source-stage-arn {fail_mode[c.PROP_SOURCE_STAGE_ARN]} "
        f"--destination-stage-arn {fail_mode[c.PROP_DESTINATION_STAGE_ARN]} "
        f"--participant-id {PARTICIPANT}`"
    ) in message
    assert "stopped again" not in message
    assert "Nothing was left running" not in message


def test_not_publishing_said_after_a_lost_answer_is_checked_against_the_replica(
    local_ivs: IvsRealtimeEmulator, fail_mode: dict[str, object]
) -> None:
    """Invariant: a Create fails only with nothing left running. The first attempt starts the
    replication and its answer is lost; the publisher's connection drops (within the reconnect
    window, so IVS keeps the replica) and the retry is told "not publishing": those words do
    not say what the first attempt did. The replica it started is the Create's own, so the
    Create succeeds and owns it (failing would orphan it until the window ends)."""
    ivs = FirstStartAnswerLost()
    source = str(fail_mode[c.PROP_SOURCE_STAGE_ARN])
    ivs.after = lambda: local_ivs.unpublish(source, PARTICIPANT)

    result = create(fail_mode, ivs)

    [replica] = active(local_ivs)
    assert result["PhysicalResourceId"] == "|".join(
        (source, replica.destination_stage_arn, PARTICIPANT)
    )
