"""EventBridge-shaped "IVS Stage Update" events reach in-process subscribers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ivs_realtime_emulator import IvsRealtimeEmulator, ManualClock, ServiceProfile
from ivs_realtime_emulator.models import Clock, iso_timestamp


@pytest.fixture
def client_of() -> Iterator[Callable[..., tuple[IvsRealtimeEmulator, Any]]]:
    """`client_of(profile, clock=None)`: a started emulator under `profile`, and its client."""
    servers: list[IvsRealtimeEmulator] = []

    def start(
        profile: ServiceProfile, clock: Clock | None = None
    ) -> tuple[IvsRealtimeEmulator, Any]:
        server = IvsRealtimeEmulator(profile=profile, clock=clock).start()
        servers.append(server)
        return server, server.client()

    yield start
    for server in servers:
        server.stop()


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
        "user_id": "",  # a participant without a userId
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


def _replicate(client: Any, source: str, destination: str, participant: str) -> None:
    client.start_participant_replication(
        sourceStageArn=source, destinationStageArn=destination, participantId=participant
    )


def _seen(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (e["detail"]["event_name"], e["resources"][0], e["detail"]["participant_id"])
        for e in events
    ]


def test_events_carry_the_participants_user_id(local_ivs: IvsRealtimeEmulator) -> None:
    events: list[dict[str, Any]] = []
    local_ivs.subscribe(events.append)
    stage = local_ivs.create_stage("events")

    local_ivs.publish(stage, "cam-1", user_id="alice")
    local_ivs.unpublish(stage, "cam-1")

    assert [e["detail"]["user_id"] for e in events] == ["alice", "alice"]


def test_a_replica_announces_itself_in_its_destination_stage_by_default(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    """Profile replica_events (guess: on): Published when the replica joins the destination,
    Unpublished when it leaves, with the destination's session and the source's userId; the
    events reach the subscriber before the Start or Stop is answered."""
    source, destination = stages
    local_ivs.publish(source, "host-1", user_id="alice")
    events: list[dict[str, Any]] = []
    local_ivs.subscribe(events.append)

    _replicate(client, source, destination, "host-1")
    joined = list(events)
    client.stop_participant_replication(
        sourceStageArn=source, destinationStageArn=destination, participantId="host-1"
    )

    assert _seen(joined) == [("Participant Published", destination, "host-1")]
    assert _seen(events)[1:] == [("Participant Unpublished", destination, "host-1")]
    [record] = local_ivs.replicas()
    assert {e["detail"]["session_id"] for e in events} == {record.destination_session_id}
    assert {e["detail"]["user_id"] for e in events} == {"alice"}


def test_replicas_announce_nothing_when_the_profile_says_so(client_of: Any) -> None:
    ivs, client = client_of(ServiceProfile(replica_events=False))
    source, destination = ivs.create_stage("s"), ivs.create_stage("d")
    ivs.publish(source, "host-1")
    events: list[dict[str, Any]] = []
    ivs.subscribe(events.append)

    _replicate(client, source, destination, "host-1")
    ivs.unpublish(source, "host-1")  # the replica leaves too (window 0)

    assert _seen(events) == [("Participant Unpublished", source, "host-1")]


def test_a_late_stop_announces_the_replicas_departure_when_it_lands(client_of: Any) -> None:
    """Time-driven changes are announced by the first call that observes them, or at once by
    `refresh()`; the event's time is when the change happened."""
    clock = ManualClock()
    ivs, client = client_of(ServiceProfile(stop_effect_delay_seconds=2.0), clock=clock)
    source, destination = ivs.create_stage("s"), ivs.create_stage("d")
    ivs.publish(source, "host-1")
    _replicate(client, source, destination, "host-1")
    events: list[dict[str, Any]] = []
    ivs.subscribe(events.append)
    client.stop_participant_replication(
        sourceStageArn=source, destinationStageArn=destination, participantId="host-1"
    )
    landing = clock.now() + 2.0

    clock.advance(5.0)
    assert events == []  # nothing has looked yet
    ivs.refresh()

    assert _seen(events) == [("Participant Unpublished", destination, "host-1")]
    assert events[0]["time"] == iso_timestamp(landing)


def test_a_callback_may_call_the_emulator(local_ivs: IvsRealtimeEmulator) -> None:
    """Events are delivered outside the state's lock: a reconciler reacting at once works."""
    stage = local_ivs.create_stage("events")
    sessions: list[str | None] = []

    def react(event: dict[str, Any]) -> None:
        sessions.append(local_ivs.snapshot()["stages"][0].get("activeSessionId"))

    local_ivs.subscribe(react)
    session = local_ivs.publish(stage, "p1")

    assert sessions == [session]


def test_the_24_hour_cut_off_is_announced(local_ivs: IvsRealtimeEmulator) -> None:
    stage = local_ivs.create_stage("events")
    local_ivs.publish(stage, "p1")
    events: list[dict[str, Any]] = []
    local_ivs.subscribe(events.append)

    local_ivs.clock.advance(86_400)
    local_ivs.refresh()

    assert _seen(events) == [("Participant Unpublished", stage, "p1")]
