"""The happy path through a real boto3 client, every response checked against the model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ivs_realtime_emulator import validate_response

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator


def test_client_found_the_endpoint_through_the_environment(
    local_ivs: IvsRealtimeEmulator, client: Any
) -> None:
    response = client.create_stage(name="made-by-boto3", tags={"team": "video"})

    validate_response("CreateStage", response)
    stage = response["stage"]
    assert stage["arn"].startswith("arn:aws:ivs:us-east-1:123456789012:stage/")
    assert stage["tags"] == {"team": "video"}
    assert local_ivs.calls == {"CreateStage": 1}


def test_stage_arn_region_comes_from_the_signature(make_client: Any) -> None:
    client = make_client(region_name="eu-west-1")

    arn = client.create_stage(name="ireland")["stage"]["arn"]

    assert arn.startswith("arn:aws:ivs:eu-west-1:123456789012:stage/")


def test_replication_starts_lists_and_stops(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, destination = stages
    session_id = local_ivs.publish(source, "presenter")
    ids = {"sourceStageArn": source, "participantId": "presenter"}

    started = client.start_participant_replication(**ids, destinationStageArn=destination)
    active = client.list_participant_replicas(**ids)
    stopped = client.stop_participant_replication(**ids, destinationStageArn=destination)
    after_stop = client.list_participant_replicas(**ids)

    for operation, response in [
        ("StartParticipantReplication", started),
        ("ListParticipantReplicas", active),
        ("StopParticipantReplication", stopped),
        ("ListParticipantReplicas", after_stop),
    ]:
        validate_response(operation, response)
    [replica] = active["replicas"]
    assert replica["replicationState"] == "ACTIVE"
    assert replica["sourceSessionId"] == session_id
    assert replica["destinationStageArn"] == destination
    assert [r["replicationState"] for r in after_stop["replicas"]] == ["STOPPED"]


def test_participant_published_over_the_control_route_can_be_replicated(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str], http: Any
) -> None:
    source, destination = stages
    status, _, body = http("/_local/publish", {"stageArn": source, "participantId": "encoder-1"})
    assert status == 200

    client.start_participant_replication(
        sourceStageArn=source, destinationStageArn=destination, participantId="encoder-1"
    )

    [replica] = local_ivs.replicas(participant_id="encoder-1")
    assert replica.state == "ACTIVE"
    assert replica.source_session_id == body["sessionId"]


def test_replica_shows_up_as_participant_of_the_destination(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, destination = stages
    source_session = local_ivs.publish(source, "guest")
    client.start_participant_replication(
        sourceStageArn=source,
        destinationStageArn=destination,
        participantId="guest",
        attributes={"role": "replica"},
    )

    stage = client.get_stage(arn=destination)
    session_id = stage["stage"]["activeSessionId"]
    got = client.get_participant(stageArn=destination, sessionId=session_id, participantId="guest")
    listed = client.list_participants(stageArn=source, sessionId=source_session)
    sessions = client.list_stage_sessions(stageArn=destination)

    validate_response("GetStage", stage)
    validate_response("GetParticipant", got)
    validate_response("ListParticipants", listed)
    validate_response("ListStageSessions", sessions)
    participant = got["participant"]
    assert participant["replicationType"] == "REPLICA"
    assert participant["replicationState"] == "ACTIVE"
    assert participant["sourceStageArn"] == source
    assert participant["sourceSessionId"] == source_session
    assert participant["attributes"] == {"role": "replica"}
    assert listed["participants"][0]["replicationType"] == "SOURCE"
    assert [s["sessionId"] for s in sessions["stageSessions"]] == [session_id]


def test_replicas_are_paginated(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, _ = stages
    destinations = [local_ivs.create_stage(f"d{i}") for i in range(3)]
    local_ivs.publish(source, "host")
    for destination in destinations:
        client.start_participant_replication(
            sourceStageArn=source, destinationStageArn=destination, participantId="host"
        )

    first = client.list_participant_replicas(
        sourceStageArn=source, participantId="host", maxResults=2
    )
    second = client.list_participant_replicas(
        sourceStageArn=source, participantId="host", maxResults=2, nextToken=first["nextToken"]
    )
    pages = client.get_paginator("list_participant_replicas").paginate(
        sourceStageArn=source, participantId="host", PaginationConfig={"PageSize": 1}
    )

    validate_response("ListParticipantReplicas", first)
    validate_response("ListParticipantReplicas", second)
    assert len(first["replicas"]) == 2
    assert "nextToken" not in second
    seen = [r["destinationStageArn"] for r in first["replicas"] + second["replicas"]]
    assert seen == destinations
    assert [r["destinationStageArn"] for page in pages for r in page["replicas"]] == destinations


def test_delete_stage_stops_its_replicas(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, destination = stages
    local_ivs.publish(source, "p")
    client.start_participant_replication(
        sourceStageArn=source, destinationStageArn=destination, participantId="p"
    )

    validate_response("DeleteStage", client.delete_stage(arn=destination))

    assert [r.state for r in local_ivs.replicas()] == ["STOPPED"]
    error = _client_error(lambda: client.get_stage(arn=destination))
    assert error["Error"]["Code"] == "ResourceNotFoundException"


def _client_error(call: Any) -> dict[str, Any]:
    try:
        call()
    except ClientError as error:
        return dict(error.response)
    raise AssertionError("expected a ClientError")
