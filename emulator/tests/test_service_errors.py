"""The documented and assumed error answers of Start and Stop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator


def _error(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return dict(caught.value.response)


def test_start_for_a_participant_not_publishing(client: Any, stages: tuple[str, str]) -> None:
    source, destination = stages

    response = _error(
        client.start_participant_replication,
        sourceStageArn=source,
        destinationStageArn=destination,
        participantId="absent",
    )

    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["exceptionMessage"] == "absent is not publishing"


def test_start_twice_to_the_same_destination_conflicts(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, destination = stages
    local_ivs.publish(source, "p")
    ids = {"sourceStageArn": source, "destinationStageArn": destination, "participantId": "p"}
    client.start_participant_replication(**ids)

    response = _error(client.start_participant_replication, **ids)

    assert response["Error"]["Code"] == "ConflictException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert len(local_ivs.replicas()) == 1


def test_start_after_stop_replicates_again(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, destination = stages
    local_ivs.publish(source, "p")
    ids = {"sourceStageArn": source, "destinationStageArn": destination, "participantId": "p"}
    client.start_participant_replication(**ids)
    client.stop_participant_replication(**ids)

    client.start_participant_replication(**ids)

    assert [r.state for r in local_ivs.replicas()] == ["ACTIVE"]


def test_start_into_the_same_stage_is_invalid(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, _ = stages
    local_ivs.publish(source, "p")

    response = _error(
        client.start_participant_replication,
        sourceStageArn=source,
        destinationStageArn=source,
        participantId="p",
    )

    assert response["Error"]["Code"] == "ValidationException"


def test_start_into_an_unknown_stage_is_not_found(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, _ = stages
    local_ivs.publish(source, "p")

    response = _error(
        client.start_participant_replication,
        sourceStageArn=source,
        destinationStageArn="arn:aws:ivs:us-east-1:123456789012:stage/missing",
        participantId="p",
    )

    assert response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize("already_stopped", [False, True])
def test_stop_of_unknown_or_stopped_replica_is_not_found(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str], already_stopped: bool
) -> None:
    source, destination = stages
    ids = {"sourceStageArn": source, "destinationStageArn": destination, "participantId": "p"}
    if already_stopped:
        local_ivs.publish(source, "p")
        client.start_participant_replication(**ids)
        client.stop_participant_replication(**ids)

    response = _error(client.stop_participant_replication, **ids)

    assert response["Error"]["Code"] == "ResourceNotFoundException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert response["exceptionMessage"]
