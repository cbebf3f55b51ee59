"""The 12-publisher cap per stage (a fixed IVS quota; a replica takes a slot): a Start into a
full stage answers 402 ServiceQuotaExceededException, and a 13th publisher is refused."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from ivs_realtime_emulator import IvsRealtimeEmulator, ManualClock, ServiceProfile
from ivs_realtime_emulator.exceptions import ServiceQuotaExceededError

if TYPE_CHECKING:
    from collections.abc import Callable

CAP = 12


def _fill(ivs: IvsRealtimeEmulator, stage: str, count: int, prefix: str = "local") -> None:
    for index in range(count):
        ivs.publish(stage, f"{prefix}-{index:02d}")


def _start(client: Any, source: str, destination: str, participant: str) -> None:
    client.start_participant_replication(
        sourceStageArn=source, destinationStageArn=destination, participantId=participant
    )


def _refusal(call: Callable[[], object]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["exceptionMessage"],
    )


def test_a_start_into_a_stage_with_twelve_publishers_is_a_quota_error(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, destination = stages
    _fill(local_ivs, destination, CAP)
    local_ivs.publish(source, "host-1")

    status, code, text = _refusal(lambda: _start(client, source, destination, "host-1"))

    assert (status, code) == (402, "ServiceQuotaExceededException")
    assert destination in text
    assert "12" in text
    assert local_ivs.replicas() == []


def test_replicas_take_publisher_slots(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    """Eleven publishers and one replica fill a stage: the next replica is refused."""
    source, destination = stages
    _fill(local_ivs, destination, CAP - 1)
    for participant in ("host-1", "host-2"):
        local_ivs.publish(source, participant)
    _start(client, source, destination, "host-1")

    status, code, _ = _refusal(lambda: _start(client, source, destination, "host-2"))

    assert (status, code) == (402, "ServiceQuotaExceededException")


def test_a_slot_freed_by_a_departing_publisher_can_be_taken(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, destination = stages
    _fill(local_ivs, destination, CAP)
    local_ivs.publish(source, "host-1")
    local_ivs.unpublish(destination, "local-00")

    _start(client, source, destination, "host-1")

    assert [r.state for r in local_ivs.replicas()] == ["ACTIVE"]


def test_viewers_take_no_publisher_slot(
    local_ivs: IvsRealtimeEmulator, client: Any, stages: tuple[str, str]
) -> None:
    source, destination = stages
    _fill(local_ivs, destination, CAP - 1)
    for index in range(20):
        local_ivs.join(destination, f"viewer-{index}")
    local_ivs.publish(source, "host-1")

    _start(client, source, destination, "host-1")

    assert [r.state for r in local_ivs.replicas()] == ["ACTIVE"]


def test_a_thirteenth_publisher_is_refused_by_publish(local_ivs: IvsRealtimeEmulator) -> None:
    """`publish()` raises the quota error (402) and the stage keeps its twelve."""
    stage = local_ivs.create_stage("full")
    _fill(local_ivs, stage, CAP)

    with pytest.raises(ServiceQuotaExceededError) as caught:
        local_ivs.publish(stage, "one-too-many")

    assert (caught.value.status, caught.value.error_code) == (402, "ServiceQuotaExceededException")
    local_ivs.publish(stage, "local-00")  # already publishing: no change, no refusal
    participants = local_ivs.snapshot()["stages"][0]["sessions"][0]["participants"]
    assert len(participants) == CAP


def test_a_thirteenth_publisher_over_the_control_route_answers_402(
    local_ivs: IvsRealtimeEmulator, http: Any
) -> None:
    stage = local_ivs.create_stage("full")
    _fill(local_ivs, stage, CAP)

    status, headers, body = http(
        "/_local/publish", {"stageArn": stage, "participantId": "one-too-many"}
    )

    assert (status, headers["x-amzn-ErrorType"]) == (402, "ServiceQuotaExceededException")
    assert "12" in body["exceptionMessage"]


def test_a_replica_whose_stop_has_yet_to_land_still_holds_its_slot() -> None:
    profile = ServiceProfile(stop_effect_delay_seconds=2.0)
    clock = ManualClock()
    with IvsRealtimeEmulator(clock=clock, profile=profile) as ivs:
        source, destination = ivs.create_stage("source"), ivs.create_stage("destination")
        ivs.publish(source, "host-1")
        client = ivs.client()
        _start(client, source, destination, "host-1")
        _fill(ivs, destination, CAP - 1)
        client.stop_participant_replication(
            sourceStageArn=source, destinationStageArn=destination, participantId="host-1"
        )

        with pytest.raises(ServiceQuotaExceededError):
            ivs.publish(destination, "waiting")
        clock.advance(2.0)
        ivs.publish(destination, "waiting")


def test_the_cap_is_a_profile_field() -> None:
    with IvsRealtimeEmulator(profile=ServiceProfile(max_publishers_per_stage=2)) as ivs:
        stage = ivs.create_stage("small")
        _fill(ivs, stage, 2)
        with pytest.raises(ServiceQuotaExceededError, match="maximum is 2"):
            ivs.publish(stage, "third")
