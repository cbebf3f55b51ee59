"""Stage sessions and their participants through real boto3 clients: state, published,
userId, replicationType SOURCE / REPLICA / NONE, and ListParticipants' filters and pages, every
answer checked against botocore's model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from ivs_realtime_emulator import validate_response
from ivs_realtime_emulator.exceptions import ConflictError, ValidationError

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator


def _listed(client: Any, stage: str, session: str, **filters: Any) -> list[str]:
    answer = client.list_participants(stageArn=stage, sessionId=session, **filters)
    validate_response("ListParticipants", answer)
    return [p["participantId"] for p in answer["participants"]]


def _participant(client: Any, stage: str, session: str, participant_id: str) -> dict[str, Any]:
    answer = client.get_participant(stageArn=stage, sessionId=session, participantId=participant_id)
    validate_response("GetParticipant", answer)
    return dict(answer["participant"])


def test_a_publisher_carries_its_user_id_state_and_published(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, _ = stages
    session = local_ivs.publish(source, "host-1", user_id="alice")

    host = _participant(client, source, session, "host-1")

    assert host["userId"] == "alice"
    assert (host["state"], host["published"], host["replicationType"]) == (
        "CONNECTED",
        True,
        "NONE",
    )
    assert "sourceStageArn" not in host
    assert host["recordingState"] == "DISABLED"  # recording is not modelled


def test_a_replica_is_a_publishing_participant_of_its_destination(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    """REPLICA in the destination (with its source's stage, session and userId); SOURCE in
    the source stage."""
    source, destination = stages
    source_session = local_ivs.publish(source, "host-1", user_id="alice")
    client.start_participant_replication(
        sourceStageArn=source, destinationStageArn=destination, participantId="host-1"
    )
    destination_session = client.get_stage(arn=destination)["stage"]["activeSessionId"]

    replica = _participant(client, destination, destination_session, "host-1")
    publisher = _participant(client, source, source_session, "host-1")

    assert {k: replica[k] for k in ("replicationType", "state", "published", "userId")} == {
        "replicationType": "REPLICA",
        "state": "CONNECTED",
        "published": True,
        "userId": "alice",
    }
    assert (replica["sourceStageArn"], replica["sourceSessionId"]) == (source, source_session)
    assert (publisher["replicationType"], publisher["replicationState"]) == ("SOURCE", "ACTIVE")
    assert "sourceStageArn" not in publisher
    published = _listed(client, destination, destination_session, filterByPublished=True)
    assert published == ["host-1"]


def test_a_viewer_is_connected_but_never_published(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, _ = stages
    session = local_ivs.join(source, "viewer-1", user_id="bob")
    local_ivs.publish(source, "host-1")

    viewer = _participant(client, source, session, "viewer-1")

    assert (viewer["state"], viewer["published"]) == ("CONNECTED", False)
    assert _listed(client, source, session, filterByPublished=False) == ["viewer-1"]
    local_ivs.publish(source, "viewer-1")  # a viewer who starts publishing
    assert _participant(client, source, session, "viewer-1")["published"] is True


def test_published_means_ever_published_in_the_session(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, _ = stages
    session = local_ivs.publish(source, "host-1")
    local_ivs.join(source, "keeper")  # keeps the session going
    local_ivs.unpublish(source, "host-1")

    gone = _participant(client, source, session, "host-1")

    assert (gone["state"], gone["published"]) == ("DISCONNECTED", True)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["alice-cam", "bob-cam", "viewer", "gone"]),
        ({"filterByUserId": "alice"}, ["alice-cam"]),
        ({"filterByPublished": True}, ["alice-cam", "bob-cam", "gone"]),
        ({"filterByPublished": False}, ["viewer"]),
        ({"filterByState": "CONNECTED"}, ["alice-cam", "bob-cam", "viewer"]),
        ({"filterByState": "DISCONNECTED"}, ["gone"]),
        ({"filterByRecordingState": "ACTIVE"}, []),
    ],
)
def test_list_participants_filters_as_the_model_defines_them(
    local_ivs: IvsRealtimeEmulator,
    client: Any,
    stages: tuple[str, str],
    filters: dict[str, Any],
    expected: list[str],
) -> None:
    source, _ = stages
    session = local_ivs.publish(source, "alice-cam", user_id="alice")
    local_ivs.publish(source, "bob-cam", user_id="bob")
    local_ivs.join(source, "viewer", user_id="carol")
    local_ivs.publish(source, "gone", user_id="dave")
    local_ivs.unpublish(source, "gone")

    assert _listed(client, source, session, **filters) == expected


def test_more_than_one_filter_is_a_validation_error_naming_them(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, _ = stages
    session = local_ivs.publish(source, "host-1", user_id="alice")

    with pytest.raises(ClientError) as caught:
        client.list_participants(
            stageArn=source, sessionId=session, filterByUserId="alice", filterByPublished=True
        )

    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "ValidationException"
    text = response["exceptionMessage"]
    assert "Only one of" in text
    assert "filterByUserId, filterByPublished" in text


def test_list_participants_pages_by_max_results_and_next_token(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    """maxResults pages (the model's default 50 without it), nextToken reads on, the filter
    applies before paging, and the last page has no token."""
    source, _ = stages
    session = local_ivs.publish(source, "host-00")
    for index in range(1, 60):
        local_ivs.join(source, f"viewer-{index:02d}")

    default = client.list_participants(stageArn=source, sessionId=session)
    pages, token = [], None
    while True:
        kwargs: dict[str, Any] = {"stageArn": source, "sessionId": session, "maxResults": 25}
        if token:
            kwargs["nextToken"] = token
        page = client.list_participants(**kwargs, filterByPublished=False)
        validate_response("ListParticipants", page)
        pages.append([p["participantId"] for p in page["participants"]])
        token = page.get("nextToken")
        if not token:
            break

    assert len(default["participants"]) == 50
    assert "nextToken" in default
    assert [len(page) for page in pages] == [25, 25, 9]
    assert [name for page in pages for name in page] == [f"viewer-{i:02d}" for i in range(1, 60)]


@pytest.mark.parametrize("max_results", [0, 101])
def test_max_results_outside_the_models_bounds_is_refused(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], http: Any, max_results: int
) -> None:
    source, _ = stages
    session = local_ivs.publish(source, "host-1")

    status, headers, body = http(
        "/ListParticipants", {"stageArn": source, "sessionId": session, "maxResults": max_results}
    )

    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert "maxResults" in body["exceptionMessage"]


def test_a_participant_cannot_change_its_user_id(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str]
) -> None:
    """A userId comes from the participant's token: publishing again as another is refused."""
    source, _ = stages
    local_ivs.publish(source, "host-1", user_id="alice")

    with pytest.raises(ValidationError, match="userId"):
        local_ivs.publish(source, "host-1", user_id="mallory")
    local_ivs.publish(source, "host-1")  # no userId given: the one it joined with


def test_a_publisher_cannot_take_the_id_of_a_connected_replica(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, destination = stages
    local_ivs.publish(source, "host-1")
    client.start_participant_replication(
        sourceStageArn=source, destinationStageArn=destination, participantId="host-1"
    )

    with pytest.raises(ConflictError, match="as a replica"):
        local_ivs.publish(destination, "host-1")


def test_two_sources_cannot_replicate_the_same_participant_id_into_one_stage(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, destination = stages
    other_source = local_ivs.create_stage("other-source")
    for stage in (source, other_source):
        local_ivs.publish(stage, "host-1")
    client.start_participant_replication(
        sourceStageArn=source, destinationStageArn=destination, participantId="host-1"
    )

    with pytest.raises(ClientError) as caught:
        client.start_participant_replication(
            sourceStageArn=other_source, destinationStageArn=destination, participantId="host-1"
        )

    assert caught.value.response["Error"]["Code"] == "ConflictException"
