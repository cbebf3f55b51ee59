"""The behaviour table (the guide's "What deploy does"), row by row, through `handle_event` and a
stubbed client."""

from __future__ import annotations

import logging

import pytest

from ivs_replication_handler import contract as c
from ivs_replication_handler import lifecycle, messages
from ivs_replication_handler.errors import InvalidPropertyError, ReplicationFailedError
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.lifecycle import IN_PLACE_START_ATTEMPTS, Lifecycle
from ivs_replication_handler.replicas import STOP_ATTEMPTS, STOP_EFFECT_DELAYS
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.spec import parse_properties

START = "StartParticipantReplication"
STOP = "StopParticipantReplication"
LIST = "ListParticipantReplicas"
GET_STAGE = "GetStage"
GET_PARTICIPANT = "GetParticipant"

# --- Create ---------------------------------------------------------------------------------


def test_create_starts_confirms_active_and_returns_a_parseable_id(stubbed, cfn, context):
    stubbed.expect_start(attributes={"role": "host"}, window=30)
    stubbed.expect_list({cfn.other_destination: "STOPPED", cfn.destination: "ACTIVE"})
    event = cfn.create(cfn.props(Attributes={"role": "host"}, ReconnectWindowSeconds="30"))

    result = handle_event(event, context, stubbed.ivs)

    assert result == {
        "PhysicalResourceId": f"{cfn.source}|{cfn.destination}|{cfn.participant}",
        "Data": {
            "SourceStageArn": cfn.source,
            "DestinationStageArn": cfn.destination,
            "ParticipantId": cfn.participant,
        },
    }
    assert stubbed.calls == [START, LIST]


def test_create_sends_attributes_given_as_json_text_as_a_map(stubbed, cfn, context):
    stubbed.expect_start(attributes={"role": "host"})
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    handle_event(cfn.create(cfn.props(Attributes='{"role":"host"}')), context, stubbed.ivs)
    assert stubbed.calls == [START, LIST]


def test_create_finds_its_replica_on_a_later_page(stubbed, cfn, context):
    stubbed.expect_start()
    stubbed.expect_list({cfn.other_destination: "ACTIVE"}, token_out="page-2")
    stubbed.expect_list({cfn.destination: "ACTIVE"}, token_in="page-2")
    result = handle_event(cfn.create(), context, stubbed.ivs)
    assert result["PhysicalResourceId"] == cfn.physical_id


def test_create_adopts_a_replication_that_is_already_active(stubbed, cfn, context, read_logs):
    """Adopted once it stays listed ACTIVE for as long as a Stop may take to show: a
    replication whose Stop is landing is listed ACTIVE (and refuses a Start) for a moment."""
    stubbed.expect_start_error("ConflictException", 409, "Participant is already replicated")
    stubbed.expect_listed_active_while_a_stop_is_watched(cfn.destination)

    result = handle_event(cfn.create(), context, stubbed.ivs)

    assert result["PhysicalResourceId"] == cfn.physical_id
    assert stubbed.calls == [START, *[LIST] * (1 + len(STOP_EFFECT_DELAYS))]
    warnings = [line for line in read_logs() if line["level"] == "WARNING"]
    assert len(warnings) == 1
    assert "adopting" in warnings[0]["message"]
    assert warnings[0]["participant_id"] == cfn.participant


def test_create_meeting_a_replication_whose_stop_is_landing_starts_it_again(stubbed, cfn, context):
    """A Start refused while a Stop (a Delete of the same replication a moment ago) is still
    landing is not an adoption: once the replica shows STOPPED, it is started, and runs."""
    stubbed.expect_start_error("ConflictException", 409, "Participant is already replicated")
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    stubbed.expect_list({cfn.destination: "STOPPED"})
    stubbed.expect_start()
    stubbed.expect_list({cfn.destination: "ACTIVE"})

    result = handle_event(cfn.create(), context, stubbed.ivs)

    assert result["PhysicalResourceId"] == cfn.physical_id
    assert stubbed.calls == [START, LIST, LIST, START, LIST]


@pytest.mark.parametrize("listed", [None, "STOPPED"], ids=["not-listed", "stopped"])
def test_create_conflict_without_an_active_replica_fails_explaining_it(
    stubbed, cfn, context, listed
):
    stubbed.expect_start_error("ConflictException", 409, "Conflicting participant in stage")
    stubbed.expect_list({cfn.destination: listed} if listed else {})
    stubbed.expect_get_stage("st-source-session")
    stubbed.expect_get_participant("st-source-session")

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.create(), context, stubbed.ivs)

    message = str(caught.value)
    assert "ConflictException" in message
    assert "Conflicting participant in stage" in message
    assert "conflicting replication or participant" in message
    assert cfn.participant in message
    # Publishing, no ACTIVE replica: a real refusal, decided from observed state, not retried.
    assert stubbed.calls == [START, LIST, GET_STAGE, GET_PARTICIPANT]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ValidationException", 400),
        ("ResourceNotFoundException", 404),
        ("ConflictException", 409),
    ],
)
def test_create_while_not_publishing_fails_naming_participant_stage_and_fix(
    stubbed, cfn, context, code, status
):
    stubbed.expect_start_error(code, status, "host-1 is not publishing")
    stubbed.expect_not_publishing_observed()

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.create(), context, stubbed.ivs)

    message = str(caught.value)
    assert "'host-1' is not publishing" in message
    assert cfn.source in message
    assert "start publishing" in message
    # The known text: no adoption attempt; one look confirms nobody publishes, no retry.
    assert stubbed.calls == [START, GET_STAGE]


def test_not_publishing_is_recognised_in_the_exception_message_member(stubbed, cfn, context):
    stubbed.expect_start_error(
        "ValidationException", 400, "", exception_message="host-1 is not publishing"
    )
    stubbed.expect_not_publishing_observed()
    with pytest.raises(ReplicationFailedError, match="'host-1' is not publishing"):
        handle_event(cfn.create(), context, stubbed.ivs)


def confirming_lifecycle(stubbed, context, **options):
    """The handler's Lifecycle with an injected sleep: `handle_event` waits with time.sleep."""
    waits = []
    lifecycle = Lifecycle(
        stubbed.ivs,
        Deadline(context.get_remaining_time_in_millis),
        owner="Replication",
        sleep=waits.append,
        **options,
    )
    return lifecycle, waits


def test_create_keeps_checking_until_the_replica_is_active(stubbed, cfn, context):
    lifecycle, waits = confirming_lifecycle(stubbed, context, confirm_timeout_seconds=1000)
    stubbed.expect_start()
    stubbed.expect_list({})
    stubbed.expect_list({cfn.destination: "STOPPED"})
    stubbed.expect_list({cfn.destination: "ACTIVE"})

    outcome = lifecycle.create(parse_properties(cfn.props()))

    assert outcome.physical_id == cfn.physical_id
    assert len(waits) == 2
    assert stubbed.calls == [START, LIST, LIST, LIST]


def test_create_never_confirmed_active_is_stopped_again_and_fails_saying_so(stubbed, cfn, context):
    lifecycle, _ = confirming_lifecycle(stubbed, context, confirm_timeout_seconds=0)
    stubbed.expect_start()
    stubbed.expect_list({cfn.destination: "STOPPED"})
    stubbed.expect_undo_stop()

    with pytest.raises(ReplicationFailedError) as caught:
        lifecycle.create(parse_properties(cfn.props()))

    message = str(caught.value)
    assert "did not list it as ACTIVE" in message
    assert "last state: STOPPED" in message
    assert "stopped again" in message
    assert stubbed.calls == [START, LIST, STOP, LIST]


def test_unconfirmed_create_whose_stop_is_refused_while_listed_says_how_to_stop_it_by_hand(
    stubbed, cfn, context
):
    """A refused Stop is not taken at its word: the replica listed ACTIVE after it means the
    replication may run on, so the message says how to stop it by hand."""
    lifecycle, _ = confirming_lifecycle(stubbed, context, confirm_timeout_seconds=0)
    stubbed.expect_start()
    stubbed.expect_list({})
    for _ in range(STOP_ATTEMPTS):
        stubbed.expect_stop_error("AccessDeniedException", 403, "not authorized")
        stubbed.expect_listed_active_while_a_stop_is_watched(cfn.destination)

    with pytest.raises(ReplicationFailedError) as caught:
        lifecycle.create(parse_properties(cfn.props()))

    message = str(caught.value)
    assert "last state: not listed" in message
    assert "aws ivs-realtime stop-participant-replication" in message
    assert f"--participant-id {cfn.participant}" in message
    assert len(message) <= 1000


@pytest.mark.parametrize(
    ("answer_after_refusal", "says"),
    [
        ("not listed", "Nothing was left running."),
        ("STOPPED", "Nothing was left running."),
        ("unreadable", "aws ivs-realtime stop-participant-replication"),
    ],
)
def test_unconfirmed_create_whose_stop_is_refused_reports_what_the_listing_shows(
    stubbed, cfn, context, answer_after_refusal, says
):
    """Whatever the code of a refused Stop, "nothing runs" is claimed only from the listing
    read after it; a listing that cannot be read leaves the manual stop command."""
    lifecycle, _ = confirming_lifecycle(stubbed, context, confirm_timeout_seconds=0)
    stubbed.expect_start()
    stubbed.expect_list({})
    stubbed.expect_stop_error("AccessDeniedException", 403, "not authorized")
    if answer_after_refusal == "unreadable":
        stubbed.stubber.add_client_error(
            "list_participant_replicas", "AccessDeniedException", "not authorized", 403
        )
    elif answer_after_refusal == "STOPPED":
        stubbed.expect_list({cfn.destination: "STOPPED"})
    else:
        stubbed.expect_list({})

    with pytest.raises(ReplicationFailedError) as caught:
        lifecycle.create(parse_properties(cfn.props()))

    assert says in str(caught.value)


# --- invalid properties ---------------------------------------------------------------------

INVALID = [
    ({"SourceStageArn": None}, "SourceStageArn"),
    ({"DestinationStageArn": "arn:aws:ivs:us-east-1:1:channel/x"}, "DestinationStageArn"),
    ({"ParticipantId": "host 1"}, "ParticipantId"),
    ({"ReconnectWindowSeconds": "-1"}, "ReconnectWindowSeconds"),
    ({"ReconnectWindowSeconds": "301"}, "ReconnectWindowSeconds"),
    ({"Attributes": "not json"}, "Attributes"),
    ({"Attributes": {"k": "é" * 512}}, "Attributes"),
]


@pytest.mark.parametrize(("overrides", "prop"), INVALID)
def test_invalid_create_fails_before_any_api_call(stubbed, cfn, context, overrides, prop):
    with pytest.raises(InvalidPropertyError) as caught:
        handle_event(cfn.create(cfn.props(**overrides)), context, stubbed.ivs)
    assert caught.value.prop == prop
    assert stubbed.calls == []
    stubbed.stubber.assert_no_pending_responses()


@pytest.mark.parametrize(("overrides", "prop"), INVALID)
def test_invalid_update_fails_before_any_api_call(stubbed, cfn, context, overrides, prop):
    event = cfn.update(cfn.props(**overrides), old_props=cfn.props())
    with pytest.raises(InvalidPropertyError) as caught:
        handle_event(event, context, stubbed.ivs)
    assert caught.value.prop == prop
    assert stubbed.calls == []


def test_create_without_resource_properties_names_the_first_missing_one(stubbed, cfn, context):
    event = cfn.create()
    del event["ResourceProperties"]
    with pytest.raises(InvalidPropertyError, match="SourceStageArn"):
        handle_event(event, context, stubbed.ivs)
    assert stubbed.calls == []


def test_unknown_request_type_is_refused_without_a_call(stubbed, cfn, context):
    event = cfn.create()
    event["RequestType"] = "Replace"
    with pytest.raises(InvalidPropertyError, match="Create, Update or Delete"):
        handle_event(event, context, stubbed.ivs)
    assert stubbed.calls == []


# --- Update ---------------------------------------------------------------------------------


def test_update_to_a_new_destination_starts_it_and_returns_the_new_id(stubbed, cfn, context):
    stubbed.expect_start(destination=cfn.other_destination)
    stubbed.expect_list({cfn.destination: "ACTIVE", cfn.other_destination: "ACTIVE"})
    event = cfn.update(cfn.props(DestinationStageArn=cfn.other_destination), cfn.props())

    result = handle_event(event, context, stubbed.ivs)

    assert result["PhysicalResourceId"] == f"{cfn.source}|{cfn.other_destination}|host-1"
    assert result["Data"]["DestinationStageArn"] == cfn.other_destination
    assert stubbed.calls == [START, LIST]  # the old one is CloudFormation's Delete to stop


def test_update_of_attributes_only_stops_then_starts_keeping_the_id(stubbed, cfn, context):
    """The Start waits for the Stop to show in the listing: before then, IVS may still list
    the replica ACTIVE (and answer the Start with a Conflict)."""
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    stubbed.expect_stop()
    stubbed.expect_list({cfn.destination: "STOPPED"})
    stubbed.expect_start(attributes={"role": "guest"}, window=30)
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    event = cfn.update(
        cfn.props(Attributes={"role": "guest"}, ReconnectWindowSeconds="30"),
        cfn.props(Attributes={"role": "host"}, ReconnectWindowSeconds="30"),
    )

    result = handle_event(event, context, stubbed.ivs)

    # Data: what `Fn::GetAtt` reads from the resource after the Update.
    assert result == {"PhysicalResourceId": cfn.physical_id, "Data": cfn.data}
    assert stubbed.calls == [LIST, STOP, LIST, START, LIST]


def test_update_of_the_window_only_restarts_in_place(stubbed, cfn, context):
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    stubbed.expect_stop()
    stubbed.expect_list({cfn.destination: "STOPPED"})
    stubbed.expect_start(window=60)
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    event = cfn.update(cfn.props(ReconnectWindowSeconds="60"), cfn.props())
    assert handle_event(event, context, stubbed.ivs)["PhysicalResourceId"] == cfn.physical_id


@pytest.mark.parametrize("listed", ["STOPPED", None], ids=["stopped", "not-listed"])
def test_in_place_update_of_an_ended_replication_starts_it_without_a_stop(
    stubbed, cfn, context, listed
):
    stubbed.expect_list({cfn.destination: listed} if listed else {})
    stubbed.expect_start(window=60)
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    event = cfn.update(cfn.props(ReconnectWindowSeconds="60"), cfn.props())
    handle_event(event, context, stubbed.ivs)
    assert stubbed.calls == [LIST, START, LIST]


def test_in_place_update_of_an_ended_replication_succeeds_with_its_publisher_away(
    stubbed, cfn, context, read_logs
):
    """Rollback safety: nothing ran, so an absent publisher fails nothing (the log says
    so); the rollback Update and continue-update-rollback take this path too."""
    stubbed.expect_list({cfn.destination: "STOPPED"})
    stubbed.expect_start_error("ValidationException", 400, "host-1 is not publishing", window=60)
    stubbed.expect_not_publishing_observed()
    event = cfn.update(cfn.props(ReconnectWindowSeconds="60"), cfn.props())
    result = handle_event(event, context, stubbed.ivs)
    assert result["PhysicalResourceId"] == cfn.physical_id
    assert stubbed.calls == [LIST, START, GET_STAGE]
    assert [line["message"] for line in read_logs() if line["level"] == "WARNING"] == [
        "Participant not publishing, and the replication was not running when this request "
        "began: the request succeeds with it not running"
    ]


@pytest.mark.parametrize(
    ("refusal", "advice"),
    [
        (
            ("AccessDeniedException", 403, "not authorized"),
            "ListParticipantReplicas failed for {key}: AccessDeniedException: not authorized "
            + messages.hint("AccessDeniedException"),
        ),
        (None, "Could not read the state of {key}. Retry."),
    ],
    ids=["refused", "out-of-time"],
)
def test_an_update_that_cannot_read_the_state_fails_before_it_stops_anything(
    stubbed, cfn, context, refusal, advice
):
    """Whether it runs decides between restarting and starting: unread, nothing is touched."""
    if refusal is None:
        context.remaining_ms = 10_000
    else:
        code, status, text = refusal
        stubbed.stubber.add_client_error("list_participant_replicas", code, text, status)
    event = cfn.update(cfn.props(ReconnectWindowSeconds="60"), cfn.props())

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(event, context, stubbed.ivs)

    assert caught.value.advice == advice.format(key=cfn.key_description)
    # Out of time: the cause says which call had no time left (the log and Reason carry it).
    expected_cause = (
        "ListParticipantReplicas: no time left for an attempt after 0 failed ones"
        if refusal is None
        else ""
    )
    assert caught.value.cause == expected_cause
    assert STOP not in stubbed.calls


def test_in_place_update_of_an_ended_replication_refused_fails_and_restores_nothing(
    stubbed, cfn, context
):
    """Nothing ran before the Update, so nothing is put back: the Reason is the refusal."""
    stubbed.expect_list({cfn.destination: "STOPPED"})
    stubbed.expect_start_error("ServiceQuotaExceededException", 402, "quota", window=60)
    event = cfn.update(cfn.props(ReconnectWindowSeconds="60"), cfn.props())

    with pytest.raises(ReplicationFailedError, match="ServiceQuotaExceededException") as caught:
        handle_event(event, context, stubbed.ivs)

    assert "previous settings" not in str(caught.value)
    assert stubbed.calls == [LIST, START]


def test_an_update_whose_restart_keeps_being_overtaken_stops_and_says_so(
    stubbed, cfn, context, read_logs
):
    """Another caller starts the replication (with settings this Update cannot tell) after
    each of its Stops: after IN_PLACE_START_ATTEMPTS rounds the Update fails saying so, and
    then what its restore of the previous settings left (here: stopped)."""
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    stubbed.expect_stop()
    stubbed.expect_list({cfn.destination: "STOPPED"})
    for _ in range(IN_PLACE_START_ATTEMPTS):
        stubbed.expect_start_error(
            "ConflictException", 409, "already replicated", attributes={"role": "guest"}
        )
        stubbed.expect_listed_active_while_a_stop_is_watched(cfn.destination)
        stubbed.expect_stop()
        stubbed.expect_list({cfn.destination: "STOPPED"})
    stubbed.expect_start_error(
        "ServiceQuotaExceededException", 402, "quota", attributes={"role": "host"}
    )
    stubbed.expect_list({cfn.destination: "STOPPED"})
    event = cfn.update(
        cfn.props(Attributes={"role": "guest"}), cfn.props(Attributes={"role": "host"})
    )

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(event, context, stubbed.ivs)

    assert caught.value.advice == (
        f"participant '{cfn.participant}' from {cfn.source} to {cfn.destination} kept being "
        "started by another caller with unknown settings while this Update restarted it; it "
        "is stopped. Retry the deployment. Restoring the previous settings failed too: the "
        "replication is stopped."
    )
    logs = read_logs()
    overtaken = "Replication started by someone else during the restart; again"
    assert [line["message"] for line in logs if line["level"] == "WARNING"] == [
        *[
            "Replication already ACTIVE; adopting it (its attributes and reconnect window are "
            "left as they are)",
            overtaken,
        ]
        * IN_PLACE_START_ATTEMPTS
    ]
    [restore] = [
        line for line in logs if line["message"] == "Restoring the previous settings failed"
    ]
    assert "ServiceQuotaExceededException" in restore["reason"]
    [failed] = [line for line in logs if line["message"] == "Request failed"]
    assert failed["steps"] == [
        "Update planned (update_kind=in-place)",
        *["Replication stopped (reason=Update)"] * (1 + IN_PLACE_START_ATTEMPTS),
    ]


def test_in_place_update_not_publishing_restores_the_previous_settings(stubbed, cfn, context):
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    stubbed.expect_stop()
    stubbed.expect_list({cfn.destination: "STOPPED"})
    stubbed.expect_start_error(
        "ValidationException",
        400,
        "host-1 is not publishing",
        attributes={"role": "guest"},
        window=10,
    )
    stubbed.expect_not_publishing_observed()
    stubbed.expect_start(attributes={"role": "host"}, window=10)
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    event = cfn.update(
        cfn.props(Attributes={"role": "guest"}, ReconnectWindowSeconds="10"),
        cfn.props(Attributes={"role": "host"}, ReconnectWindowSeconds="10"),
    )

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(event, context, stubbed.ivs)

    message = str(caught.value)
    assert "'host-1' is not publishing" in message
    assert caught.value.advice.endswith(" The replication runs again with its previous settings.")
    assert stubbed.calls == [LIST, STOP, LIST, START, GET_STAGE, START, LIST]


def test_a_restore_whose_publisher_is_gone_says_the_replication_is_not_running(
    stubbed, cfn, context
):
    """A restore reports what is true afterwards, never a hope: the publisher left during the
    Update, so neither the new nor the previous settings run."""
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    stubbed.expect_stop()
    stubbed.expect_list({cfn.destination: "STOPPED"})
    stubbed.expect_start_error(
        "ValidationException", 400, "host-1 is not publishing", attributes={"role": "guest"}
    )
    stubbed.expect_not_publishing_observed()
    stubbed.expect_start_error(
        "ValidationException", 400, "host-1 is not publishing", attributes={"role": "host"}
    )
    stubbed.expect_not_publishing_observed()
    event = cfn.update(
        cfn.props(Attributes={"role": "guest"}), cfn.props(Attributes={"role": "host"})
    )

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(event, context, stubbed.ivs)

    assert caught.value.advice.endswith(
        " The previous settings were not started again: the participant is not publishing, "
        "so the replication is not running."
    )
    assert "runs again" not in str(caught.value)
    assert stubbed.calls == [LIST, STOP, LIST, START, GET_STAGE, START, GET_STAGE]


@pytest.mark.parametrize(
    ("listed", "says"),
    [
        ("STOPPED", "Restoring the previous settings failed too: the replication is stopped."),
        (
            "ACTIVE",
            "Restoring the previous settings failed too; IVS lists the replication ACTIVE, "
            "with settings this request cannot tell.",
        ),
        (
            "unreadable",
            "Restoring the previous settings failed too, and IVS's listing could not be read: "
            "list-participant-replicas says whether it runs.",
        ),
    ],
)
def test_a_failed_restore_says_what_ivs_lists_afterwards(stubbed, cfn, context, listed, says):
    """A restore reports what is true afterwards: the listing read after the failure (and
    where to read it, when it cannot be read)."""
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    stubbed.expect_stop()
    stubbed.expect_list({cfn.destination: "STOPPED"})
    stubbed.expect_start_error(
        "ServiceQuotaExceededException", 402, "quota", attributes={"role": "guest"}
    )
    stubbed.expect_start_error(
        "ServiceQuotaExceededException", 402, "quota", attributes={"role": "host"}
    )
    if listed == "unreadable":
        stubbed.stubber.add_client_error(
            "list_participant_replicas", "AccessDeniedException", "not authorized", 403
        )
    else:
        stubbed.expect_list({cfn.destination: listed})
    event = cfn.update(
        cfn.props(Attributes={"role": "guest"}), cfn.props(Attributes={"role": "host"})
    )

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(event, context, stubbed.ivs)

    assert caught.value.advice.endswith(f" {says}")
    assert stubbed.calls == [LIST, STOP, LIST, START, START, LIST]


@pytest.mark.parametrize(
    ("new", "old"),
    [
        ({"ReconnectWindowSeconds": 30}, {"ReconnectWindowSeconds": "30"}),
        ({"ReconnectWindowSeconds": "30"}, {"ReconnectWindowSeconds": 30}),
        ({"Attributes": {"k": "v"}}, {"Attributes": '{"k": "v"}'}),
        ({}, {}),
    ],
    ids=["int-vs-string", "string-vs-int", "map-vs-json", "identical"],
)
def test_update_without_a_relevant_change_calls_nothing(stubbed, cfn, context, new, old):
    event = cfn.update(cfn.props(**new), cfn.props(**old))
    result = handle_event(event, context, stubbed.ivs)
    assert result == {"PhysicalResourceId": cfn.physical_id, "Data": cfn.data}
    assert stubbed.calls == []


# --- Delete ---------------------------------------------------------------------------------


def test_delete_stops_the_replication_named_by_the_physical_id(stubbed, cfn, context):
    physical_id = f"{cfn.other_destination}|{cfn.source}|guest_7"
    stubbed.expect_stop(cfn.other_destination, cfn.source, "guest_7")
    # The Delete returns once IVS shows the replication stopped.
    stubbed.expect_list(
        {cfn.source: "STOPPED"}, source=cfn.other_destination, participant="guest_7"
    )

    # ResourceProperties describe another replication: the id alone decides what to stop.
    result = handle_event(cfn.delete(physical_id), context, stubbed.ivs)

    assert result["PhysicalResourceId"] == physical_id
    assert result["Data"]["ParticipantId"] == "guest_7"
    assert stubbed.calls == [STOP, LIST]


REFUSED_STOPS = [
    ("ResourceNotFoundException", 404, "Replication not found"),
    ("ValidationException", 400, "Replication is not active"),
    ("ConflictException", 409, "Replication is stopped"),
]
REFUSAL_IDS = ["not-found", "validation", "conflict"]


@pytest.mark.parametrize("refusal", REFUSED_STOPS, ids=REFUSAL_IDS)
@pytest.mark.parametrize("listed", ["STOPPED", None], ids=["stopped", "not-listed"])
def test_delete_refused_succeeds_when_the_listing_shows_nothing_active(
    stubbed, cfn, context, refusal, listed
):
    """What IVS answers when stopping what does not run is undocumented: whatever the code,
    the listing read after the refusal decides."""
    stubbed.expect_stop_error(*refusal)
    stubbed.expect_list({cfn.destination: listed} if listed else {})
    result = handle_event(cfn.delete(), context, stubbed.ivs)
    assert result["PhysicalResourceId"] == cfn.physical_id
    assert stubbed.calls == [STOP, LIST]


def test_delete_refused_succeeds_when_the_source_stage_is_gone(stubbed, cfn, context):
    stubbed.expect_stop_error("ResourceNotFoundException", 404, "Stage not found")
    stubbed.stubber.add_client_error(
        "list_participant_replicas", "ResourceNotFoundException", "Stage not found", 404
    )
    result = handle_event(cfn.delete(), context, stubbed.ivs)
    assert result["PhysicalResourceId"] == cfn.physical_id
    assert stubbed.calls == [STOP, LIST]


@pytest.mark.parametrize("refusal", REFUSED_STOPS, ids=REFUSAL_IDS)
def test_delete_refused_while_still_active_fails_with_the_service_text(
    stubbed, cfn, context, refusal
):
    """A refusal with the replica still listed ACTIVE is no success, even a 404: a Delete
    that claimed it would orphan a running replication (after STOP_ATTEMPTS Stops)."""
    for _ in range(STOP_ATTEMPTS):
        stubbed.expect_stop_error(*refusal)
        stubbed.expect_listed_active_while_a_stop_is_watched(cfn.destination)
    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.delete(), context, stubbed.ivs)
    assert str(caught.value).startswith(
        f"StopParticipantReplication failed for {cfn.key_description}: {refusal[0]}: {refusal[2]} "
    )


def test_delete_refused_with_an_unreadable_state_fails_and_says_it_may_run(stubbed, cfn, context):
    stubbed.expect_stop_error("ResourceNotFoundException", 404, "Replication not found")
    stubbed.stubber.add_client_error(
        "list_participant_replicas", "AccessDeniedException", "not authorized", 403
    )
    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(cfn.delete(), context, stubbed.ivs)
    assert caught.value.advice == (
        f"Stopping {cfn.key_description} was refused, and its state could not be read: it may "
        "still run. Retry the operation."
    )
    assert "Replication not found" in caught.value.cause
    assert "not authorized" in caught.value.cause


@pytest.mark.parametrize(
    "physical_id",
    [
        "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED",
        "Stack-HostReplication-1A2B3C4D5E6F",
        "arn:aws:ivs:us-east-1:123456789012:stage/a|not-an-arn|host-1",
    ],
    ids=["failed-create-marker", "foreign-id", "bad-part"],
)
def test_delete_of_an_id_that_is_not_ours_succeeds_without_a_call(
    stubbed, cfn, context, physical_id
):
    result = handle_event(cfn.delete(physical_id), context, stubbed.ivs)
    assert result == {"PhysicalResourceId": physical_id, "Data": {}}
    assert stubbed.calls == []


def test_a_delete_whose_stop_never_shows_says_so_in_its_steps(stubbed, cfn, context, read_logs):
    """IVS accepted the Stop but lists the replica ACTIVE for as long as a Stop may take to
    show: the Delete succeeds (the Stop is IVS's to carry out) and its log line says what it
    saw, for whoever finds the replica still running."""
    stubbed.expect_stop()
    stubbed.expect_listed_active_while_a_stop_is_watched()

    result = handle_event(cfn.delete(), context, stubbed.ivs)

    assert result == {"PhysicalResourceId": cfn.physical_id, "Data": cfn.data}
    [done] = [line for line in read_logs() if line["message"] == "Request succeeded"]
    assert done["steps"] == [
        "Replication stopped (reason=Delete)",
        "IVS still lists the replication ACTIVE after the Stop",
    ]


def test_each_step_is_also_logged_at_debug_as_it_happens(stubbed, cfn, context, read_logs):
    """With the log level at DEBUG, each step has its own line (with its details as keys) when
    it happens, not only in the request's line at its end."""
    stubbed.expect_stop()
    stubbed.expect_list({cfn.destination: "STOPPED"})
    # What POWERTOOLS_LOG_LEVEL=DEBUG gives the lifecycle's logger at a cold start.
    level = lifecycle.logger.log_level
    lifecycle.logger.setLevel(logging.DEBUG)
    try:
        handle_event(cfn.delete(), context, stubbed.ivs)
    finally:
        lifecycle.logger.setLevel(level)

    [step] = [line for line in read_logs() if line["level"] == "DEBUG"]
    assert step["message"] == "Replication stopped"
    assert step["reason"] == "Delete"


def test_a_follow_mode_create_in_a_stack_without_a_registry_fails_before_any_call(
    stubbed, cfn, context
):
    """Follow mode needs the registry (the reconciler reads its declarations there): in a
    stack synthesized before it existed, the Create fails saying so, and starts nothing."""
    event = cfn.create(cfn.props(WhenNotPublishing=c.MODE_FOLLOW))

    with pytest.raises(ReplicationFailedError) as caught:
        handle_event(event, context, stubbed.ivs)

    assert caught.value.advice == (
        f"Could not declare {cfn.key_description} for follow mode; nothing was started."
    )
    assert c.ENV_REGISTRY_TABLE in caught.value.cause
    assert stubbed.calls == []
