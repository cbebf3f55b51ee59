"""Bad input gets the service's ValidationException, naming the field, before any state change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator

STAGE = "arn:aws:ivs:us-east-1:123456789012:stage/abcdEFGH1234"
OTHER_STAGE = "arn:aws:ivs:us-east-1:123456789012:stage/ijklMNOP5678"


@pytest.fixture
def unvalidated_client(make_client: Any) -> Any:
    """A client that sends whatever it is given (boto3 validates client-side otherwise)."""
    return make_client(parameter_validation=False, retries={"total_max_attempts": 1})


def _error(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return dict(caught.value.response)


def test_missing_required_member_over_raw_http(http: Any) -> None:
    status, headers, body = http(
        "/StartParticipantReplication", {"sourceStageArn": STAGE, "participantId": "p"}
    )

    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert "'destinationStageArn'" in body["exceptionMessage"]
    assert "must not be null" in body["exceptionMessage"]


def test_missing_required_member_through_boto3(unvalidated_client: Any) -> None:
    response = _error(unvalidated_client.get_stage)

    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "'arn'" in response["exceptionMessage"]


@pytest.mark.parametrize(
    ("params", "field", "constraint"),
    [
        ({"participantId": "has space"}, "participantId", "regular expression pattern"),
        ({"participantId": "p" * 65}, "participantId", "length less than or equal to 64"),
        ({"sourceStageArn": "arn:aws:s3:::bucket"}, "sourceStageArn", "pattern"),
        ({"reconnectWindowSeconds": 301}, "reconnectWindowSeconds", "less than or equal to 300"),
        ({"reconnectWindowSeconds": -1}, "reconnectWindowSeconds", "greater than or equal to 0"),
        ({"reconnectWindowSeconds": "30"}, "reconnectWindowSeconds", "must be an integer"),
    ],
)
def test_constraint_violation_names_the_field(
    unvalidated_client: Any, params: dict[str, Any], field: str, constraint: str
) -> None:
    request = {
        "sourceStageArn": STAGE,
        "destinationStageArn": OTHER_STAGE,
        "participantId": "p",
        **params,
    }

    response = _error(unvalidated_client.start_participant_replication, **request)

    assert response["Error"]["Code"] == "ValidationException"
    assert f"'{field}'" in response["exceptionMessage"]
    assert constraint in response["exceptionMessage"]


def test_wrong_json_types_are_rejected(http: Any) -> None:
    status, _, body = http(
        "/StartParticipantReplication",
        {
            "sourceStageArn": STAGE,
            "destinationStageArn": OTHER_STAGE,
            "participantId": 7,
            "attributes": ["not", "a", "map"],
        },
    )

    message = body["exceptionMessage"]
    assert status == 400
    assert message.startswith("2 validation errors detected")
    assert "'participantId' failed to satisfy constraint: Member must be a string" in message
    assert "'attributes' failed to satisfy constraint: Member must be a map" in message


def test_enum_values_are_checked(http: Any) -> None:
    status, _, body = http(
        "/ListParticipants",
        {"stageArn": STAGE, "sessionId": "st-abcdefghij123", "filterByState": "ASLEEP"},
    )

    assert status == 400
    assert "'filterByState'" in body["exceptionMessage"]
    assert "enum value set: [CONNECTED, DISCONNECTED]" in body["exceptionMessage"]


def test_page_size_range_is_checked(unvalidated_client: Any) -> None:
    response = _error(
        unvalidated_client.list_participant_replicas,
        sourceStageArn=STAGE,
        participantId="p",
        maxResults=51,
    )

    assert "'maxResults'" in response["exceptionMessage"]


def test_unknown_members_are_ignored(http: Any, local_ivs: IvsRealtimeEmulator) -> None:
    arn = local_ivs.create_stage("s")

    status, _, body = http("/GetStage", {"arn": arn, "somethingNew": True})

    assert status == 200
    assert body["stage"]["arn"] == arn


def test_malformed_json_is_rejected(http: Any) -> None:
    status, headers, body = http("/GetStage", body=b"{not json")

    assert status == 400
    assert headers["x-amzn-ErrorType"] == "SerializationException"
    assert body["exceptionMessage"]


def test_unknown_operation_answers_404(http: Any) -> None:
    status, headers, body = http("/NoSuchOperation", {})

    assert status == 404
    assert headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert "NoSuchOperation" in body["exceptionMessage"]


def test_real_but_unimplemented_operation_says_so(http: Any) -> None:
    status, headers, _ = http("/CreateParticipantToken", {"stageArn": STAGE})

    assert status == 501
    assert headers["x-amzn-ErrorType"] == "NotImplementedException"


def test_oversized_attributes_are_rejected(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, destination = stages
    local_ivs.publish(source, "p")

    response = _error(
        client.start_participant_replication,
        sourceStageArn=source,
        destinationStageArn=destination,
        participantId="p",
        attributes={"k": "v" * 1024},
    )

    assert response["Error"]["Code"] == "ValidationException"
    assert "attributes" in response["exceptionMessage"]
    assert local_ivs.replicas() == []
