"""The /_local/ control API lets a non-Python process drive the endpoint."""

from __future__ import annotations

from typing import Any

from ivs_realtime_emulator import IvsRealtimeEmulator, ServiceProfile


def test_state_route_shows_stages_sessions_replicas_and_calls(
    local_ivs: IvsRealtimeEmulator, client: Any, http: Any
) -> None:
    _, _, created = http("/_local/stages", {"name": "src", "region": "eu-central-1"})
    destination = local_ivs.create_stage("dst")
    http("/_local/publish", {"stageArn": created["arn"], "participantId": "p"})
    client.start_participant_replication(
        sourceStageArn=created["arn"], destinationStageArn=destination, participantId="p"
    )

    status, _, state = http("/_local/state", method="GET")

    assert status == 200
    assert created["arn"].startswith("arn:aws:ivs:eu-central-1:123456789012:stage/")
    assert {stage["name"] for stage in state["stages"]} == {"src", "dst"}
    assert [r["replicationState"] for r in state["replicas"]] == ["ACTIVE"]
    assert state["calls"] == {"StartParticipantReplication": 1}


def test_calls_can_be_read_and_reset(
    local_ivs: IvsRealtimeEmulator, client: Any, http: Any
) -> None:
    client.list_stage_sessions(stageArn=local_ivs.create_stage("s"))

    assert http("/_local/calls", method="GET")[2] == {"calls": {"ListStageSessions": 1}}
    http("/_local/calls", method="DELETE")
    assert local_ivs.calls == {}


def test_unknown_control_route_is_404_and_no_aws_call(
    local_ivs: IvsRealtimeEmulator, http: Any
) -> None:
    status, headers, body = http("/_local/nothing", {})

    assert status == 404
    assert headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert "/_local/nothing" in body["exceptionMessage"]
    assert local_ivs.calls == {}


def test_publish_into_unknown_stage_is_not_found(http: Any) -> None:
    status, headers, _ = http(
        "/_local/publish",
        {"stageArn": "arn:aws:ivs:us-east-1:123456789012:stage/none", "participantId": "p"},
    )

    assert status == 404
    assert headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


def test_publish_needs_a_participant_id(local_ivs: IvsRealtimeEmulator, http: Any) -> None:
    status, _, body = http("/_local/publish", {"stageArn": local_ivs.create_stage("s")})

    assert status == 400
    assert "participantId" in body["exceptionMessage"]


def test_join_publish_with_a_user_id_and_leave_over_control_routes(
    local_ivs: IvsRealtimeEmulator, http: Any
) -> None:
    """Another process can bring viewers and publishers (with their userId) and send them off;
    the state route shows each participant's summary."""
    stage = local_ivs.create_stage("s")

    _, _, joined = http("/_local/join", {"stageArn": stage, "participantId": "viewer"})
    _, _, published = http(
        "/_local/publish", {"stageArn": stage, "participantId": "cam", "userId": "alice"}
    )
    status, _, left = http("/_local/leave", {"stageArn": stage, "participantId": "viewer"})
    _, _, state = http("/_local/state", method="GET")

    assert status == 200
    assert left == {"left": True}
    assert joined["sessionId"] == published["sessionId"]
    [session] = state["stages"][0]["sessions"]
    summaries = {p["participantId"]: p for p in session["participants"]}
    assert (summaries["viewer"]["state"], summaries["viewer"]["published"]) == (
        "DISCONNECTED",
        False,
    )
    assert (summaries["cam"]["userId"], summaries["cam"]["published"]) == ("alice", True)


def test_a_user_id_that_is_no_string_is_refused(local_ivs: IvsRealtimeEmulator, http: Any) -> None:
    stage = local_ivs.create_stage("s")

    status, _, body = http(
        "/_local/publish", {"stageArn": stage, "participantId": "cam", "userId": 7}
    )

    assert status == 400
    assert "userId" in body["exceptionMessage"]


def test_the_state_shows_when_a_late_stop_lands() -> None:
    """What `GET /_local/state` answers: a replica whose Stop has yet to land is ACTIVE and
    says when the Stop lands."""
    with IvsRealtimeEmulator(profile=ServiceProfile(stop_effect_delay_seconds=30.0)) as ivs:
        source, destination = ivs.create_stage("s"), ivs.create_stage("d")
        ivs.publish(source, "p")
        client = ivs.client()
        ids = {"sourceStageArn": source, "destinationStageArn": destination, "participantId": "p"}
        client.start_participant_replication(**ids)
        client.stop_participant_replication(**ids)

        [replica] = ivs.snapshot()["replicas"]

    assert replica["replicationState"] == "ACTIVE"
    assert replica["stopTakesEffectAt"].endswith("Z")


def test_advancing_the_clock_over_the_route_announces_what_it_made_happen(
    local_ivs: IvsRealtimeEmulator, client: Any, http: Any
) -> None:
    source, destination = local_ivs.create_stage("s"), local_ivs.create_stage("d")
    local_ivs.publish(source, "p")
    client.start_participant_replication(
        sourceStageArn=source,
        destinationStageArn=destination,
        participantId="p",
        reconnectWindowSeconds=10,
    )
    local_ivs.unpublish(source, "p")
    events: list[dict[str, Any]] = []
    local_ivs.subscribe(events.append)

    http("/_local/clock/advance", {"seconds": 10})

    assert [(e["detail"]["event_name"], e["resources"][0]) for e in events] == [
        ("Participant Unpublished", destination)
    ]
