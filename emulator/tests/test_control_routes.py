"""The /_local/ control API lets a non-Python process drive the endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator


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
