"""EventBridge-shaped "IVS Stage Update" events reach in-process subscribers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator


def test_publish_and_unpublish_are_announced(local_ivs: IvsRealtimeEmulator) -> None:
    events: list[dict[str, Any]] = []
    local_ivs.subscribe(events.append)
    stage = local_ivs.create_stage("events")

    session_id = local_ivs.publish(stage, "p1")
    local_ivs.publish(stage, "p1")  # already publishing: nothing new to announce
    local_ivs.unpublish(stage, "p1")
    local_ivs.unpublish(stage, "p1")  # no longer publishing: nothing to announce

    assert [e["detail"]["event_name"] for e in events] == [
        "Participant Published",
        "Participant Unpublished",
    ]
    published = events[0]
    assert published["source"] == "aws.ivs"
    assert published["detail-type"] == "IVS Stage Update"
    assert published["resources"] == [stage]
    assert published["region"] == "us-east-1"
    assert published["account"] == "123456789012"
    assert published["detail"] == {
        "event_name": "Participant Published",
        "participant_id": "p1",
        "session_id": session_id,
    }


def test_control_route_publishes_events_too(local_ivs: IvsRealtimeEmulator, http: Any) -> None:
    events: list[dict[str, Any]] = []
    local_ivs.subscribe(events.append)
    stage = local_ivs.create_stage("events")

    http("/_local/publish", {"stageArn": stage, "participantId": "encoder"})
    status, _, body = http("/_local/unpublish", {"stageArn": stage, "participantId": "encoder"})

    assert status == 200
    assert body == {"unpublished": True}
    assert [e["detail"]["participant_id"] for e in events] == ["encoder", "encoder"]


def test_unsubscribed_callback_gets_nothing(local_ivs: IvsRealtimeEmulator) -> None:
    events: list[dict[str, Any]] = []
    unsubscribe = local_ivs.subscribe(events.append)
    unsubscribe()

    local_ivs.publish(local_ivs.create_stage("quiet"), "p")

    assert events == []
