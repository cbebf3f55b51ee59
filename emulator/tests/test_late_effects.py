"""Late effects of the service profiles, through a real boto3 client: a Stop that lands late,
a session that outlives its last publisher, a Start rate of the service's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ivs_realtime_emulator import (
    PROFILES,
    Faults,
    IvsRealtimeEmulator,
    ManualClock,
    ServiceProfile,
    validate_response,
)

HOST = "host-1"
START = "StartParticipantReplication"


class World:
    """A started emulator on a manual clock, with two stages and a client."""

    def __init__(self, profile: ServiceProfile) -> None:
        self.clock = ManualClock()
        self.server = IvsRealtimeEmulator(clock=self.clock, profile=profile).start()
        self.source = self.server.create_stage("source")
        self.destination = self.server.create_stage("destination")
        self.client: Any = self.server.client()

    def start(self, **extra: Any) -> None:
        self.client.start_participant_replication(
            sourceStageArn=self.source,
            destinationStageArn=self.destination,
            participantId=HOST,
            **extra,
        )

    def stop(self) -> None:
        self.client.stop_participant_replication(
            sourceStageArn=self.source, destinationStageArn=self.destination, participantId=HOST
        )

    def listed_states(self) -> list[str]:
        answer = self.client.list_participant_replicas(
            sourceStageArn=self.source, participantId=HOST
        )
        validate_response("ListParticipantReplicas", answer)
        return [r["replicationState"] for r in answer["replicas"]]

    def replica_in_destination(self) -> dict[str, Any]:
        # Its session, whether the destination's session has ended or not.
        session = self.server.replicas()[-1].destination_session_id
        answer = self.client.get_participant(
            stageArn=self.destination, sessionId=session, participantId=HOST
        )
        validate_response("GetParticipant", answer)
        return dict(answer["participant"])


@pytest.fixture
def world() -> Iterator[Callable[..., World]]:
    worlds: list[World] = []

    def make(**fields: Any) -> World:
        made = World(ServiceProfile(**fields))
        worlds.append(made)
        return made

    yield make
    for made in worlds:
        made.server.stop()


def _error(call: Callable[[], object]) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


# --- a Stop that lands late ------------------------------------------------------------------


def test_a_late_stop_keeps_the_replica_active_and_connected_until_it_lands(world):
    w = world(stop_effect_delay_seconds=2.0)
    w.server.publish(w.source, HOST)
    w.start()

    w.stop()  # answered 200
    w.clock.advance(1.9)

    assert w.listed_states() == ["ACTIVE"]
    assert w.replica_in_destination()["state"] == "CONNECTED"
    [record] = w.server.replicas()
    assert record.stop_takes_effect_at == record.started_at + 2.0

    w.clock.advance(0.1)

    assert w.listed_states() == ["STOPPED"]
    replica = w.replica_in_destination()
    assert (replica["state"], replica["replicationState"]) == ("DISCONNECTED", "STOPPED")
    [record] = w.server.replicas()
    assert record.stopped_at == record.started_at + 2.0


@pytest.mark.parametrize("duplicate_start", ["conflict", "ok"])
def test_a_start_while_a_stop_is_landing_is_a_conflict_whatever_duplicate_start_says(
    world, duplicate_start
):
    w = world(stop_effect_delay_seconds=2.0, duplicate_start=duplicate_start)
    w.server.publish(w.source, HOST)
    w.start()
    w.stop()

    assert _error(lambda: w.start(attributes={"new": "yes"})) == (409, "ConflictException")

    w.clock.advance(2.0)
    w.start(attributes={"new": "yes"})  # landed: the Start is a new replication
    assert w.listed_states() == ["ACTIVE"]
    assert w.replica_in_destination()["attributes"] == {"new": "yes"}


def test_a_second_stop_while_the_first_lands_answers_200_and_changes_nothing(world):
    w = world(stop_effect_delay_seconds=2.0)
    w.server.publish(w.source, HOST)
    w.start()
    w.stop()
    w.clock.advance(1.5)

    w.stop()  # the first Stop's time stands: no new delay
    w.clock.advance(0.5)

    assert w.listed_states() == ["STOPPED"]
    assert _error(w.stop) == (404, "ResourceNotFoundException")  # the profile's stop_stopped


def test_a_reconnect_window_running_out_first_stops_the_replica_before_a_late_stop(world):
    w = world(stop_effect_delay_seconds=10.0)
    w.server.publish(w.source, HOST)
    w.start(reconnectWindowSeconds=3)
    w.stop()
    w.server.unpublish(w.source, HOST)

    w.clock.advance(3)

    [record] = w.server.replicas()
    assert (record.state, record.stopped_at) == ("STOPPED", record.started_at + 3)


def test_without_a_delay_a_stop_takes_effect_before_its_answer(world):
    w = world()
    w.server.publish(w.source, HOST)
    w.start()

    w.stop()

    assert w.listed_states() == ["STOPPED"]
    assert w.replica_in_destination()["state"] == "DISCONNECTED"


# --- a lingering session ---------------------------------------------------------------------


def test_a_lingering_session_keeps_its_departed_publisher_listed_disconnected(world):
    w = world(session_end_delay_seconds=120.0)
    session = w.server.publish(w.source, HOST, user_id="alice")
    w.server.unpublish(w.source, HOST)
    w.clock.advance(119)

    assert w.client.get_stage(arn=w.source)["stage"]["activeSessionId"] == session
    got = w.client.get_participant(stageArn=w.source, sessionId=session, participantId=HOST)
    validate_response("GetParticipant", got)
    departed = got["participant"]
    assert (departed["state"], departed["published"], departed["userId"]) == (
        "DISCONNECTED",
        True,
        "alice",
    )
    for name, value in [("filterByState", "DISCONNECTED"), ("filterByPublished", True)]:
        listed = w.client.list_participants(stageArn=w.source, sessionId=session, **{name: value})
        validate_response("ListParticipants", listed)
        assert [p["participantId"] for p in listed["participants"]] == [HOST]

    w.clock.advance(1)

    assert "activeSessionId" not in w.client.get_stage(arn=w.source)["stage"]
    ended = w.client.get_participant(stageArn=w.source, sessionId=session, participantId=HOST)
    assert ended["participant"]["state"] == "DISCONNECTED"  # an ended session is still read


def test_a_replica_keeps_its_destination_session_alive_and_its_departure_starts_the_delay(world):
    w = world(session_end_delay_seconds=120.0)
    w.server.publish(w.source, HOST)
    w.start()
    destination_session = w.client.get_stage(arn=w.destination)["stage"]["activeSessionId"]
    w.clock.advance(500)
    w.stop()

    w.clock.advance(119)
    assert w.client.get_stage(arn=w.destination)["stage"]["activeSessionId"] == (
        destination_session
    )
    w.clock.advance(1)
    assert "activeSessionId" not in w.client.get_stage(arn=w.destination)["stage"]


# --- a Start rate of the service's own -------------------------------------------------------


def test_starts_above_the_profiles_rate_are_throttled_after_a_small_burst(world):
    w = world(start_calls_per_second=2.0, start_burst=2)
    destinations = [w.server.create_stage(f"d{i}") for i in range(4)]
    w.server.publish(w.source, HOST)

    def start(destination: str) -> str:
        try:
            w.client.start_participant_replication(
                sourceStageArn=w.source, destinationStageArn=destination, participantId=HOST
            )
        except ClientError as error:
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            return f"{status} {error.response['Error']['Code']}"
        return "ok"

    first = [start(d) for d in destinations[:3]]
    w.server.faults.clear()  # a test's faults come and go; the service's rate stays
    w.clock.advance(0.5)  # one more token, on the emulator's clock
    later = [start(d) for d in destinations[2:]]

    assert first == ["ok", "ok", "429 ThrottlingException"]
    assert later == ["ok", "429 ThrottlingException"]
    assert w.server.calls[START] == 5
    assert w.client.list_stage_sessions(stageArn=w.source)["stageSessions"]  # others unlimited


def test_the_late_stop_profile_combines_a_late_stop_with_a_lower_start_rate():
    profile = PROFILES["late-stop"]
    assert profile.stop_effect_delay_seconds > 0
    assert profile.start_calls_per_second is not None
    assert profile.duplicate_start == "conflict"  # the guess, apart from its late effects


def test_the_lingering_session_profile_keeps_sessions_two_minutes():
    profile = PROFILES["lingering-session"]
    assert profile.session_end_delay_seconds == 120.0
    assert profile.replica_events is False


def test_the_start_rate_refills_on_the_clock_of_faults_given_to_the_emulator():
    """A test that passes its own Faults says which time throttling runs on: the profile's
    Start rate follows it, not the emulator's clock."""
    handler_time = [0.0]
    clock = ManualClock()
    faults = Faults(monotonic=lambda: handler_time[0])
    profile = ServiceProfile(start_calls_per_second=1.0, start_burst=1)
    with IvsRealtimeEmulator(clock=clock, profile=profile, faults=faults) as ivs:
        source, destinations = ivs.create_stage("s"), [ivs.create_stage(f"d{i}") for i in (1, 2)]
        ivs.publish(source, HOST)
        client = ivs.client()

        def start(destination: str) -> None:
            client.start_participant_replication(
                sourceStageArn=source, destinationStageArn=destination, participantId=HOST
            )

        start(destinations[0])
        clock.advance(10)  # the emulator's clock refills nothing here
        assert _error(lambda: start(destinations[1])) == (429, "ThrottlingException")
        handler_time[0] += 1.0
        start(destinations[1])
