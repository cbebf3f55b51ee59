"""Service profiles: each undocumented behaviour is a switchable option with a stated source,
answered over HTTP to an unmodified boto3 client."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from ivs_realtime_emulator import (
    PROFILES,
    IvsRealtimeEmulator,
    ManualClock,
    ProfileError,
    ServiceProfile,
    load_profile,
)
from ivs_realtime_emulator.profiles import SOURCES

HOST = "host-1"


@pytest.fixture
def emulator_with():
    servers: list[IvsRealtimeEmulator] = []

    def start(**fields: object) -> tuple[IvsRealtimeEmulator, str, str, object]:
        clock = ManualClock()
        server = IvsRealtimeEmulator(clock=clock, profile=ServiceProfile(**fields)).start()
        servers.append(server)
        source, destination = server.create_stage("source"), server.create_stage("destination")
        return server, source, destination, server.client()

    yield start
    for server in servers:
        server.stop()


def _start(client, source: str, destination: str) -> None:
    client.start_participant_replication(
        sourceStageArn=source, destinationStageArn=destination, participantId=HOST
    )


def _stop(client, source: str, destination: str) -> None:
    client.stop_participant_replication(
        sourceStageArn=source, destinationStageArn=destination, participantId=HOST
    )


def _error(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    text = response.get("exceptionMessage") or response["Error"]["Message"]
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], text


def test_every_field_of_a_profile_states_its_source():
    names = {f for f in ServiceProfile.__dataclass_fields__ if f not in {"name", "sources"}}
    assert names - {"observations"} == set(SOURCES)
    assert all(SOURCES[name] for name in SOURCES)


def test_the_built_in_profiles_cover_every_answer_of_every_option():
    profiles = PROFILES.values()
    assert {p.not_publishing_status for p in profiles} >= {400, 404, 409}
    assert {p.duplicate_start for p in profiles} == {"conflict", "ok"}
    assert {p.stop_stopped for p in profiles} == {"not-found", "conflict", "ok"}
    assert {p.history for p in profiles} == {"replace", "keep-oldest-first", "keep-newest-first"}
    assert any(p.replicas_page_size == 1 for p in profiles)
    assert any(p.publish_propagation_seconds > 0 for p in profiles)
    assert any(p.session_end_delay_seconds > 0 for p in profiles)
    assert any(p.stop_effect_delay_seconds > 0 for p in profiles)
    assert any(p.start_calls_per_second is not None for p in profiles)
    assert {p.replica_events for p in profiles} == {True, False}


def test_new_fields_default_to_the_guess_so_earlier_profiles_are_unchanged():
    """A field added for a newly modelled behaviour leaves every earlier profile as it was."""
    earlier = ("guess", "not-publishing-404", "not-publishing-409", "slow-propagation")
    for name in earlier:
        profile = PROFILES[name]
        assert profile.stop_effect_delay_seconds == 0.0
        assert profile.start_calls_per_second is None
        assert profile.replica_events is True
        assert profile.max_publishers_per_stage == 12


@pytest.mark.parametrize("name", list(PROFILES))
def test_not_publishing_is_answered_with_the_profiles_code_status_and_text(emulator_with, name):
    profile = PROFILES[name]
    fields = {k: getattr(profile, k) for k in ("not_publishing_code", "not_publishing_status")}
    _, source, destination, client = emulator_with(
        **fields, not_publishing_text=profile.not_publishing_text
    )
    status, code, text = _error(lambda: _start(client, source, destination))
    assert (status, code) == (profile.not_publishing_status, profile.not_publishing_code)
    assert text == profile.not_publishing_message(HOST)


@pytest.mark.parametrize(
    ("answer", "expected"), [("conflict", (409, "ConflictException")), ("ok", None)]
)
def test_a_duplicate_start_answers_as_the_profile_says_and_changes_nothing(
    emulator_with, answer, expected
):
    server, source, destination, client = emulator_with(duplicate_start=answer)
    server.publish(source, HOST)
    _start(client, source, destination)
    if expected is None:
        _start(client, source, destination)
    else:
        assert _error(lambda: _start(client, source, destination))[:2] == expected
    assert [r.state for r in server.replicas()] == ["ACTIVE"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [("not-found", (404, "ResourceNotFoundException")), ("conflict", (409, "ConflictException"))],
)
def test_stop_of_a_stopped_replica_is_refused_as_the_profile_says(emulator_with, answer, expected):
    server, source, destination, client = emulator_with(stop_stopped=answer)
    server.publish(source, HOST)
    _start(client, source, destination)
    _stop(client, source, destination)
    assert _error(lambda: _stop(client, source, destination))[:2] == expected


def test_stop_of_a_stopped_replica_may_succeed_and_an_unknown_one_is_still_not_found(
    emulator_with,
):
    server, source, destination, client = emulator_with(stop_stopped="ok")
    server.publish(source, HOST)
    _start(client, source, destination)
    _stop(client, source, destination)
    _stop(client, source, destination)
    other = server.create_stage("other")
    assert _error(lambda: _stop(client, source, other))[:2] == (404, "ResourceNotFoundException")


def _restart_twice(server, client, source, destination) -> list[dict]:
    server.publish(source, HOST)
    for _ in range(2):
        _start(client, source, destination)
        _stop(client, source, destination)
        server.clock.advance(1)
    _start(client, source, destination)
    return _all_pages(client, source)


def _all_pages(client, source: str) -> list[dict]:
    records, token = [], None
    pages = 0
    while True:
        kwargs = {"sourceStageArn": source, "participantId": HOST}
        if token:
            kwargs["nextToken"] = token
        page = client.list_participant_replicas(**kwargs)
        pages += 1
        records += page["replicas"]
        token = page.get("nextToken")
        if not token:
            return [*records, {"pages": pages}]


@pytest.mark.parametrize(
    ("history", "states"),
    [
        ("replace", ["ACTIVE"]),
        ("keep-oldest-first", ["STOPPED", "STOPPED", "ACTIVE"]),
        ("keep-newest-first", ["ACTIVE", "STOPPED", "STOPPED"]),
    ],
)
def test_history_records_are_kept_in_the_profiles_order(emulator_with, history, states):
    server, source, destination, client = emulator_with(history=history)
    *records, _ = _restart_twice(server, client, source, destination)
    assert [r["replicationState"] for r in records] == states
    assert {r["destinationStageArn"] for r in records} == {destination}


def test_history_records_come_one_per_page_with_a_page_size_of_one(emulator_with):
    server, source, destination, client = emulator_with(
        history="keep-oldest-first", replicas_page_size=1
    )
    *records, pages = _restart_twice(server, client, source, destination)
    assert pages == {"pages": 3}
    assert records[-1]["replicationState"] == "ACTIVE"


def test_start_is_refused_until_the_propagation_delay_has_passed(emulator_with):
    server, source, destination, client = emulator_with(publish_propagation_seconds=3)
    server.publish(source, HOST)
    assert "is not publishing" in _error(lambda: _start(client, source, destination))[2]
    server.clock.advance(3)
    _start(client, source, destination)
    assert [r.state for r in server.replicas()] == ["ACTIVE"]


def test_a_session_outlives_its_last_participant_by_the_end_delay(emulator_with):
    server, source, _, client = emulator_with(session_end_delay_seconds=60)
    session = server.publish(source, HOST)
    server.unpublish(source, HOST)
    server.clock.advance(59)
    assert client.get_stage(arn=source)["stage"]["activeSessionId"] == session
    assert server.publish(source, HOST) == session  # back within the delay: same session
    server.unpublish(source, HOST)
    server.clock.advance(60)
    assert "activeSessionId" not in client.get_stage(arn=source)["stage"]


def test_a_publisher_is_cut_off_after_24_hours_and_its_replica_stops(emulator_with):
    server, source, destination, client = emulator_with()
    session = server.publish(source, HOST)
    _start(client, source, destination)
    server.clock.advance(86_399)
    assert [r.state for r in server.replicas()] == ["ACTIVE"]
    server.clock.advance(1)
    participant = client.get_participant(stageArn=source, sessionId=session, participantId=HOST)
    assert participant["participant"]["state"] == "DISCONNECTED"
    assert [r.state for r in server.replicas()] == ["STOPPED"]


@pytest.mark.parametrize("name", list(PROFILES))
def test_a_profile_round_trips_through_its_json_file(tmp_path, name):
    profile = PROFILES[name]
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile.to_json()))
    assert load_profile(path) == profile
    with IvsRealtimeEmulator(profile=path) as server:
        assert server.profile == profile


def test_an_emulator_takes_a_built_in_profile_by_name():
    with IvsRealtimeEmulator(profile="slow-propagation") as server:
        assert server.profile.publish_propagation_seconds == 3.0


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"no_such_field": 1}, "unknown profile fields: no_such_field"),
        ({"stop_stopped": "maybe"}, "stop_stopped must be one of"),
        ({"not_publishing_status": 500}, "4xx"),
        ({"replicas_page_size": 0}, "at least 1"),
        ({"stop_effect_delay_seconds": -1}, "stop_effect_delay_seconds must not be negative"),
        ({"start_calls_per_second": 0}, "start_calls_per_second must be positive"),
        ({"start_burst": 0}, "start_burst must be at least 1"),
        ({"max_publishers_per_stage": 0}, "max_publishers_per_stage must be at least 1"),
        ({"replica_events": "false"}, "replica_events must be true or false"),
    ],
)
def test_a_bad_profile_is_refused_naming_the_field(data, problem):
    with pytest.raises(ProfileError, match=problem):
        ServiceProfile.from_json(data)


def test_an_unknown_profile_name_lists_the_built_in_ones():
    with pytest.raises(ProfileError, match="built in: guess"):
        IvsRealtimeEmulator(profile="nonsense")
