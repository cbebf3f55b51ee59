"""Pure logic: properties as CloudFormation delivers them, physical ids, planning, errors."""

from __future__ import annotations

import json
import random

import pytest

from ivs_replication_handler.errors import InvalidPropertyError
from ivs_replication_handler.messages import (
    MAX_MESSAGE_BYTES,
    failure_message,
    is_not_publishing,
    not_publishing_message,
    reason_bytes,
)
from ivs_replication_handler.retries import backoff_delay, is_transient
from ivs_replication_handler.spec import (
    ReplicationKey,
    UpdateKind,
    parse_physical_id,
    parse_properties,
    plan_update,
)

PREFIX = "arn:aws:ivs:us-east-1:123456789012:stage/"
SOURCE = PREFIX + "SourceStage01"
DESTINATION = PREFIX + "DestinationStage01"
OTHER = PREFIX + "DestinationStage02"
PARTICIPANT = "host-1"
PHYSICAL_ID = f"{SOURCE}|{DESTINATION}|{PARTICIPANT}"
MARKER = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"
SERVICE_TOKEN = "arn:aws:lambda:us-east-1:123456789012:function:Stack-ProviderframeworkonEvent"


def props(**overrides: object) -> dict[str, object]:
    """ResourceProperties as CloudFormation delivers them; an override of None drops the key."""
    base: dict[str, object] = {
        "ServiceToken": SERVICE_TOKEN,
        "SourceStageArn": SOURCE,
        "DestinationStageArn": DESTINATION,
        "ParticipantId": PARTICIPANT,
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def create_event(resource_properties: dict[str, object]) -> dict[str, object]:
    return {
        "RequestType": "Create",
        "ResourceType": "Custom::IvsParticipantReplication",
        "LogicalResourceId": "Replication",
        "ResourceProperties": resource_properties,
    }


def max_key() -> ReplicationKey:
    return ReplicationKey(
        PREFIX + "s" * (128 - len(PREFIX)), PREFIX + "d" * (128 - len(PREFIX)), "p" * 64
    )


# --- parsing: accepted forms ----------------------------------------------------------------


def test_minimal_properties_parse_to_api_defaults() -> None:
    spec = parse_properties(props())
    assert spec.key == ReplicationKey(SOURCE, DESTINATION, PARTICIPANT)
    assert dict(spec.attributes) == {}
    assert spec.reconnect_window_seconds == 0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30", 30), (30, 30), ("0", 0), ("300", 300), (300, 300), ("", 0), ("0030", 30)],
)
def test_reconnect_window_accepts_cloudformation_strings_and_numbers(
    value: object, seconds: int
) -> None:
    assert parse_properties(props(ReconnectWindowSeconds=value)).reconnect_window_seconds == seconds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"k": "v"}, {"k": "v"}),
        ({}, {}),
        ("{}", {}),
        ('{"k":"v"}', {"k": "v"}),
        ('{"room": "a", "role": "host"}', {"room": "a", "role": "host"}),
        ("", {}),
    ],
)
def test_attributes_accept_a_map_or_its_json_text(value: object, expected: dict[str, str]) -> None:
    assert dict(parse_properties(props(Attributes=value)).attributes) == expected


def test_json_attributes_are_measured_in_utf8_bytes_after_decoding() -> None:
    ok = json.dumps({"k": "é" * 511 + "a"})  # \u escapes in the text, 1024 bytes decoded
    too_big = json.dumps({"k": "é" * 512})
    assert dict(parse_properties(props(Attributes=ok)).attributes) == {"k": "é" * 511 + "a"}
    with pytest.raises(InvalidPropertyError, match="1025 bytes"):
        parse_properties(props(Attributes=too_big))


# --- parsing: the invalid-input table -------------------------------------------------------

ARN_FORM = "arn:aws:ivs:<region>:<account>:stage/<id>"
ID_FORM = "1-64 characters from A-Z, a-z, 0-9, '-' and '_'"
WINDOW_FORM = "a whole number of seconds from 0 to 300"
MAP_FORM = "a map of string keys to string values, at most 1024 bytes"
JSON_FORM = "a JSON object of strings"

INVALID_CASES = [
    ("source-missing", {"SourceStageArn": None}, "SourceStageArn", ARN_FORM),
    ("destination-missing", {"DestinationStageArn": None}, "DestinationStageArn", ARN_FORM),
    ("participant-missing", {"ParticipantId": None}, "ParticipantId", ID_FORM),
    ("source-empty", {"SourceStageArn": ""}, "SourceStageArn", ARN_FORM),
    (
        "source-channel-arn",
        {"SourceStageArn": PREFIX[:-6] + "channel/abc"},
        "SourceStageArn",
        ARN_FORM,
    ),
    (
        "source-129-chars",
        {"SourceStageArn": PREFIX + "a" * (129 - len(PREFIX))},
        "SourceStageArn",
        ARN_FORM,
    ),
    ("source-no-stage-id", {"SourceStageArn": PREFIX}, "SourceStageArn", ARN_FORM),
    ("destination-not-arn", {"DestinationStageArn": "not-an-arn"}, "DestinationStageArn", ARN_FORM),
    (
        "destination-newline",
        {"DestinationStageArn": DESTINATION + "\n"},
        "DestinationStageArn",
        ARN_FORM,
    ),
    (
        "destination-upper-region",
        {"DestinationStageArn": DESTINATION.replace("us-east-1", "US-EAST-1")},
        "DestinationStageArn",
        ARN_FORM,
    ),
    (
        "destination-equals-source",
        {"DestinationStageArn": SOURCE},
        "DestinationStageArn",
        "a stage other than the source stage",
    ),
    ("participant-empty", {"ParticipantId": ""}, "ParticipantId", ID_FORM),
    ("participant-65-chars", {"ParticipantId": "p" * 65}, "ParticipantId", ID_FORM),
    ("participant-space", {"ParticipantId": "host 1"}, "ParticipantId", ID_FORM),
    ("participant-dot", {"ParticipantId": "host.1"}, "ParticipantId", ID_FORM),
    ("participant-non-ascii", {"ParticipantId": "hôst"}, "ParticipantId", ID_FORM),
    ("window-fraction", {"ReconnectWindowSeconds": "30.5"}, "ReconnectWindowSeconds", WINDOW_FORM),
    ("window-negative", {"ReconnectWindowSeconds": "-1"}, "ReconnectWindowSeconds", WINDOW_FORM),
    ("window-too-large", {"ReconnectWindowSeconds": "301"}, "ReconnectWindowSeconds", WINDOW_FORM),
    (
        "window-leading-space",
        {"ReconnectWindowSeconds": " 30"},
        "ReconnectWindowSeconds",
        WINDOW_FORM,
    ),
    (
        "window-trailing-space",
        {"ReconnectWindowSeconds": "30 "},
        "ReconnectWindowSeconds",
        WINDOW_FORM,
    ),
    ("window-word", {"ReconnectWindowSeconds": "abc"}, "ReconnectWindowSeconds", WINDOW_FORM),
    ("window-plus-sign", {"ReconnectWindowSeconds": "+30"}, "ReconnectWindowSeconds", WINDOW_FORM),
    ("window-underscore", {"ReconnectWindowSeconds": "3_0"}, "ReconnectWindowSeconds", WINDOW_FORM),
    (
        "window-fullwidth-digits",
        {"ReconnectWindowSeconds": "\uff13\uff10"},
        "ReconnectWindowSeconds",
        WINDOW_FORM,
    ),
    (
        "window-true-string",
        {"ReconnectWindowSeconds": "true"},
        "ReconnectWindowSeconds",
        WINDOW_FORM,
    ),
    ("window-bool", {"ReconnectWindowSeconds": True}, "ReconnectWindowSeconds", WINDOW_FORM),
    ("window-float", {"ReconnectWindowSeconds": 30.0}, "ReconnectWindowSeconds", WINDOW_FORM),
    ("attributes-not-json", {"Attributes": "role=host"}, "Attributes", JSON_FORM),
    ("attributes-json-array", {"Attributes": '["role", "host"]'}, "Attributes", MAP_FORM),
    ("attributes-json-number-value", {"Attributes": '{"role": 1}'}, "Attributes", MAP_FORM),
    ("attributes-json-null-value", {"Attributes": '{"role": null}'}, "Attributes", MAP_FORM),
    ("attributes-json-nested", {"Attributes": '{"role": {"a": "b"}}'}, "Attributes", MAP_FORM),
    ("attributes-map-nested", {"Attributes": {"role": {"a": "b"}}}, "Attributes", MAP_FORM),
    ("attributes-list", {"Attributes": ["role"]}, "Attributes", MAP_FORM),
    ("attributes-1025-bytes", {"Attributes": {"k": "é" * 512}}, "Attributes", MAP_FORM),
    (
        "attributes-json-1025-bytes",
        {"Attributes": json.dumps({"k": "v" * 1024})},
        "Attributes",
        MAP_FORM,
    ),
]


@pytest.mark.parametrize(
    ("overrides", "prop", "form"),
    [case[1:] for case in INVALID_CASES],
    ids=[case[0] for case in INVALID_CASES],
)
def test_invalid_properties_are_rejected_naming_the_property(
    overrides: dict[str, object], prop: str, form: str
) -> None:
    event = create_event(props(**overrides))
    with pytest.raises(InvalidPropertyError) as caught:
        parse_properties(event["ResourceProperties"])  # type: ignore[arg-type]
    error = caught.value
    assert error.prop == prop
    message = str(error)
    assert message.startswith(f"Invalid {prop}: {error.problem}. Expected ")
    assert error.problem
    assert form in message


def test_the_invalid_input_table_is_large_and_distinct() -> None:
    assert len(INVALID_CASES) >= 25
    assert len({case[0] for case in INVALID_CASES}) == len(INVALID_CASES)


def test_missing_stage_arn_message_shows_the_allowed_form() -> None:
    with pytest.raises(InvalidPropertyError) as caught:
        parse_properties(props(SourceStageArn=None))
    assert ARN_FORM in str(caught.value)


def test_absurdly_long_digit_string_window_is_rejected_naming_the_property() -> None:
    with pytest.raises(InvalidPropertyError) as caught:
        parse_properties(props(ReconnectWindowSeconds="9" * 5000))
    assert caught.value.prop == "ReconnectWindowSeconds"


def test_deeply_nested_json_attributes_are_rejected_naming_the_property() -> None:
    with pytest.raises(InvalidPropertyError) as caught:
        parse_properties(props(Attributes="[" * 100_000))
    assert caught.value.prop == "Attributes"


def test_no_properties_at_all_names_the_first_missing_one() -> None:
    with pytest.raises(InvalidPropertyError, match=r"^Invalid SourceStageArn: .*missing"):
        parse_properties({"ServiceToken": SERVICE_TOKEN})


def test_attribute_values_never_appear_in_an_error() -> None:
    with pytest.raises(InvalidPropertyError) as caught:
        parse_properties(props(Attributes={"token": "s3cr3t", "bad": 5}))
    assert "s3cr3t" not in str(caught.value)


# --- physical id ----------------------------------------------------------------------------


def test_physical_id_names_source_destination_and_participant() -> None:
    key = ReplicationKey(SOURCE, DESTINATION, PARTICIPANT)
    assert key.physical_id() == PHYSICAL_ID


@pytest.mark.parametrize(
    "key",
    [ReplicationKey(SOURCE, DESTINATION, PARTICIPANT), ReplicationKey(OTHER, SOURCE, "a_b-C9")],
)
def test_physical_id_round_trips(key: ReplicationKey) -> None:
    assert parse_physical_id(key.physical_id()) == key


def test_longest_physical_id_round_trips() -> None:
    assert parse_physical_id(max_key().physical_id()) == max_key()


@pytest.mark.parametrize(
    "physical_id",
    [
        MARKER,
        "",
        None,
        42,
        "Stack-Replication-1A2B3C4D5E6F",  # a log-stream-style id from a hand-rolled resource
        "2024/01/01/[$LATEST]0123456789abcdef",
        f"{SOURCE}|{DESTINATION}",  # two parts
        f"{SOURCE}|{DESTINATION}|{PARTICIPANT}|extra",  # four parts
        f"{SOURCE}|{DESTINATION}|",  # empty participant
        f"{SOURCE}|{DESTINATION}|host 1",  # bad participant
        f"not-an-arn|{DESTINATION}|{PARTICIPANT}",  # bad source
        f"{SOURCE}|{PREFIX}|{PARTICIPANT}",  # bad destination
        f"{SOURCE}|{DESTINATION}|{'p' * 65}",
    ],
)
def test_ids_that_are_not_ours_parse_to_none(physical_id: object) -> None:
    assert parse_physical_id(physical_id) is None


# --- planning updates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"SourceStageArn": OTHER},
        {"DestinationStageArn": OTHER},
        {"ParticipantId": "host-2"},
    ],
    ids=["source", "destination", "participant"],
)
def test_changing_any_identity_part_replaces(change: dict[str, object]) -> None:
    new = parse_properties(props(**change))
    assert plan_update(new, PHYSICAL_ID, props()) is UpdateKind.REPLACE


def test_identity_change_replaces_even_with_new_settings() -> None:
    new = parse_properties(props(ParticipantId="host-2", Attributes={"a": "b"}))
    assert plan_update(new, PHYSICAL_ID, props()) is UpdateKind.REPLACE


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({}, {"Attributes": {"role": "host"}}),
        ({"Attributes": {"role": "host"}}, {"Attributes": {"role": "guest"}}),
        ({"Attributes": {"role": "host"}}, {}),
        ({}, {"ReconnectWindowSeconds": "30"}),
        ({"ReconnectWindowSeconds": "30"}, {"ReconnectWindowSeconds": "31"}),
    ],
    ids=["attributes-added", "attribute-value", "attributes-removed", "window-set", "window"],
)
def test_changing_only_settings_restarts_in_place(
    old: dict[str, object], new: dict[str, object]
) -> None:
    spec = parse_properties(props(**new))
    assert plan_update(spec, PHYSICAL_ID, props(**old)) is UpdateKind.IN_PLACE


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({}, {}),
        ({"ReconnectWindowSeconds": "30"}, {"ReconnectWindowSeconds": 30}),
        ({"ReconnectWindowSeconds": 30}, {"ReconnectWindowSeconds": "30"}),
        ({}, {"ReconnectWindowSeconds": "0"}),
        ({"Attributes": '{"k":"v"}'}, {"Attributes": {"k": "v"}}),
        ({"Attributes": "{}"}, {}),
        ({"ServiceToken": SERVICE_TOKEN + "-old"}, {}),
    ],
    ids=[
        "same",
        "string-vs-int",
        "int-vs-string",
        "default-window",
        "json-vs-map",
        "empty-attributes",
        "service-token-only",
    ],
)
def test_equivalent_properties_plan_no_change(
    old: dict[str, object], new: dict[str, object]
) -> None:
    spec = parse_properties(props(**new))
    assert plan_update(spec, PHYSICAL_ID, props(**old)) is UpdateKind.NO_CHANGE


def test_unparseable_old_properties_touch_nothing_that_runs() -> None:
    """Old properties that do not parse are those of an Update that failed validation: its
    rollback must not stop or restart what runs."""
    spec = parse_properties(props())
    old = props(ReconnectWindowSeconds="not-a-number")
    assert plan_update(spec, PHYSICAL_ID, old) is UpdateKind.ENSURE_RUNNING


def test_rollback_of_a_failed_replacement_only_ensures_the_deployed_one_runs() -> None:
    # Rollback: properties and physical id are the old ones, OldResourceProperties the failed.
    spec = parse_properties(props())
    failed = props(ParticipantId="guest-9", Attributes={"role": "other"})
    assert plan_update(spec, PHYSICAL_ID, failed) is UpdateKind.ENSURE_RUNNING


def test_update_of_a_resource_with_a_foreign_id_starts_a_new_replication() -> None:
    spec = parse_properties(props())
    assert plan_update(spec, MARKER, props()) is UpdateKind.REPLACE


# --- error classification -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 429),
        ("ThrottlingException", 400),
        ("TooManyRequestsException", 429),
        ("SomethingNew", 429),
        ("InternalServerException", 500),
        ("ServiceUnavailable", 503),
        ("ConnectionError", 0),
    ],
)
def test_throttling_server_errors_and_connection_problems_are_transient(
    code: str, status: int
) -> None:
    assert is_transient(code, status)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ValidationException", 400),
        ("AccessDeniedException", 403),
        ("PendingVerification", 403),
        ("ServiceQuotaExceededException", 402),
        ("ResourceNotFoundException", 404),
        ("ConflictException", 409),
    ],
)
def test_client_errors_are_permanent(code: str, status: int) -> None:
    assert not is_transient(code, status)


@pytest.mark.parametrize(
    "text", ["host-1 is not publishing", "Participant host-1 is not publishing."]
)
def test_not_publishing_is_recognised_by_its_text(text: str) -> None:
    assert is_not_publishing(text)


def test_other_texts_are_not_not_publishing() -> None:
    assert not is_not_publishing("Stage not found")


# --- backoff --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_backoff_stays_within_base_doubling_and_cap(seed: int) -> None:
    rng = random.Random(seed)
    for attempt in range(12):
        delay = backoff_delay(attempt, base=0.2, cap=5.0, rng=rng)
        assert 0.0 <= delay <= min(5.0, 0.2 * 2**attempt)


class _HighestDraw:
    """An RNG that always draws the top of the range, exposing the ceiling."""

    def uniform(self, low: float, high: float) -> float:
        return high


def test_backoff_ceiling_doubles_until_the_cap() -> None:
    ceilings = [
        backoff_delay(attempt, base=0.2, cap=5.0, rng=_HighestDraw())  # type: ignore[arg-type]
        for attempt in range(7)
    ]
    assert ceilings == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0])


def test_backoff_of_a_long_retry_loop_stays_at_the_cap() -> None:
    """A loop that retries for long (a wait polling for minutes) never overflows."""
    for attempt in (1_100, 10**6):
        assert backoff_delay(attempt, base=0.2, cap=5.0, rng=_HighestDraw()) == 5.0  # type: ignore[arg-type]


def test_backoff_is_jittered() -> None:
    rng = random.Random(7)
    assert len({backoff_delay(3, rng=rng) for _ in range(20)}) > 1


# --- messages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("AccessDeniedException", "check the role's policy"),
        ("PendingVerification", "complete verification"),
        ("ServiceQuotaExceededException", "Service Quotas"),
        ("ValidationException", "check the stage ARNs"),
        ("SomeFutureException", "See the handler's log"),
    ],
)
def test_failure_message_names_the_replication_the_service_text_and_a_hint(
    code: str, hint: str
) -> None:
    key = ReplicationKey(SOURCE, DESTINATION, PARTICIPANT)
    message = failure_message("StartParticipantReplication", key, code, "Service said no.")
    assert "StartParticipantReplication" in message
    assert PARTICIPANT in message
    assert SOURCE in message
    assert DESTINATION in message
    assert code in message
    assert "Service said no." in message
    assert hint in message
    assert reason_bytes(message) <= MAX_MESSAGE_BYTES


def test_failure_message_for_the_longest_ids_fits_the_reason_field() -> None:
    key = max_key()
    message = failure_message("StartParticipantReplication", key, "AccessDeniedException", "x")
    assert len(message) <= 1000
    assert key.participant_id in message
    assert key.source_stage_arn in message
    assert "check the role's policy" in message


def test_a_huge_service_text_is_clipped_to_the_message_budget() -> None:
    message = failure_message(
        "StartParticipantReplication", max_key(), "ValidationException", "x" * 5000
    )
    assert reason_bytes(message) <= MAX_MESSAGE_BYTES
    assert "x" * 100 + "..." in message
    assert message.endswith("check the stage ARNs and participant id.")


def test_a_long_service_text_keeps_the_hint() -> None:
    service_text = (
        "User: arn:aws:sts::123456789012:assumed-role/" + "r" * 200 + "/session is not "
        "authorized to perform: ivs:StartParticipantReplication on resource: "
        + max_key().source_stage_arn
        + " with an explicit deny in a service control policy"
    )
    message = failure_message(
        "StartParticipantReplication", max_key(), "AccessDeniedException", service_text * 4
    )
    assert reason_bytes(message) <= MAX_MESSAGE_BYTES
    assert "check the role's policy" in message


def test_not_publishing_message_names_participant_stage_and_fix() -> None:
    key = ReplicationKey(SOURCE, DESTINATION, PARTICIPANT)
    message = not_publishing_message(key)
    assert f"'{PARTICIPANT}' is not publishing" in message
    assert SOURCE in message
    assert DESTINATION in message
    assert "start publishing" in message
    assert "deploy again" in message
    # The message names the other modes, so the user learns what else deploy can do.
    assert "WhenNotPublishing.follow()" in message
    assert "WhenNotPublishing.wait_up_to(" in message


def test_not_publishing_message_for_the_longest_ids_fits_whole() -> None:
    key = max_key()
    message = not_publishing_message(key)
    assert len(message) <= 1000
    assert key.participant_id in message
    assert key.source_stage_arn in message
    assert message.endswith("waits for it.")  # nothing clipped
