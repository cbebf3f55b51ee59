"""Each fault kind, as a real boto3 client (retries off) sees it."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from ivs_realtime_emulator import ALL_OPERATIONS, FaultPlan, FaultPlanError, Faults

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator


@pytest.fixture
def stage(local_ivs: IvsRealtimeEmulator) -> str:
    return local_ivs.create_stage("faulty")


def _outcome(client: Any, stage: str) -> str:
    try:
        client.get_stage(arn=stage)
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


def test_rate_limit_answers_429_throttling(
    local_ivs: IvsRealtimeEmulator, client: Any, stage: str
) -> None:
    local_ivs.faults.throttle("GetStage", rate_per_second=0.01, burst=2)

    outcomes = [_outcome(client, stage) for _ in range(3)]

    assert outcomes == ["ok", "ok", "ThrottlingException"]
    with pytest.raises(ClientError) as caught:
        client.get_stage(arn=stage)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert _outcome(client, stage) == "ThrottlingException"
    assert local_ivs.calls["GetStage"] == 5


def test_rate_limit_refills_with_time() -> None:
    now = [100.0]
    faults = Faults(monotonic=lambda: now[0])
    faults.throttle("GetStage", rate_per_second=2, burst=1)

    def throttled() -> bool:
        error = faults.decide("GetStage").error
        return error is not None and error.error_code == "ThrottlingException"

    first, second = throttled(), throttled()
    now[0] += 0.5

    assert (first, second, throttled()) == (False, True, False)


def test_a_service_limit_throttles_and_outlives_clear_and_configure() -> None:
    """A profile's own rate limit is a token bucket like `throttle`, but clearing or replacing
    a test's injected faults does not lift it."""
    now = [100.0]
    faults = Faults(monotonic=lambda: now[0])
    faults.limit("StartParticipantReplication", rate_per_second=2, burst=2)

    def outcomes(count: int) -> list[str]:
        decisions = [faults.decide("StartParticipantReplication") for _ in range(count)]
        return ["ok" if d.error is None else d.error.error_code for d in decisions]

    assert outcomes(3) == ["ok", "ok", "ThrottlingException"]
    faults.clear()
    faults.configure("StartParticipantReplication", FaultPlan())
    assert outcomes(1) == ["ThrottlingException"]
    now[0] += 0.5
    assert outcomes(2) == ["ok", "ThrottlingException"]
    assert faults.decide("GetStage").error is None  # only its operation


def test_a_service_limit_may_refill_on_a_clock_of_its_own() -> None:
    """The emulator's limits run on its clock, whatever time the injected faults use."""
    service_time = [0.0]
    faults = Faults(monotonic=lambda: 1_000.0)
    faults.limit("StartParticipantReplication", rate_per_second=1, clock=lambda: service_time[0])

    first = faults.decide("StartParticipantReplication").error
    throttled = faults.decide("StartParticipantReplication").error
    service_time[0] += 1.0
    refilled = faults.decide("StartParticipantReplication").error

    assert first is None
    assert throttled is not None
    assert refilled is None


def test_injected_faults_come_before_the_service_limit() -> None:
    """A scripted error is answered first and spends no token of the service's limit."""
    faults = Faults(monotonic=lambda: 0.0)
    faults.limit("StartParticipantReplication", rate_per_second=1, burst=1)
    faults.script_errors("StartParticipantReplication", [500])

    first = faults.decide("StartParticipantReplication").error
    second = faults.decide("StartParticipantReplication").error

    assert first is not None
    assert first.error_code == "InternalServerException"
    assert second is None


def test_scripted_errors_come_in_order_then_stop(
    local_ivs: IvsRealtimeEmulator, client: Any, stage: str
) -> None:
    local_ivs.faults.script_errors("GetStage", [500, 500, "ConflictException"])

    outcomes = [_outcome(client, stage) for _ in range(4)]

    assert outcomes == [
        "InternalServerException",
        "InternalServerException",
        "ConflictException",
        "ok",
    ]


def test_faults_only_hit_their_operation(
    local_ivs: IvsRealtimeEmulator, client: Any, stage: str
) -> None:
    local_ivs.faults.script_errors("ListStageSessions", [500])

    assert _outcome(client, stage) == "ok"


def test_all_operations_plan_applies_everywhere(
    local_ivs: IvsRealtimeEmulator, client: Any, stage: str
) -> None:
    local_ivs.faults.script_errors(ALL_OPERATIONS, [503])

    with pytest.raises(ClientError) as caught:
        client.list_stage_sessions(stageArn=stage)

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_random_errors_are_reproducible_with_a_seed(
    local_ivs: IvsRealtimeEmulator, client: Any, stage: str
) -> None:
    local_ivs.faults.random_errors("GetStage", probability=0.5, seed=42)
    first_run = [_outcome(client, stage) for _ in range(12)]
    local_ivs.faults.random_errors("GetStage", probability=0.5, seed=42)
    second_run = [_outcome(client, stage) for _ in range(12)]

    assert first_run == second_run
    assert set(first_run) == {"ok", "InternalServerException"}


def test_latency_is_added(local_ivs: IvsRealtimeEmulator, client: Any, stage: str) -> None:
    local_ivs.faults.add_latency("GetStage", 0.3)

    started = time.monotonic()
    client.get_stage(arn=stage)

    assert time.monotonic() - started >= 0.3


def test_dropped_connection_is_a_connection_error(
    local_ivs: IvsRealtimeEmulator, client: Any, stage: str
) -> None:
    local_ivs.faults.drop_connections("GetStage", count=1)

    with pytest.raises(ConnectionClosedError):
        client.get_stage(arn=stage)
    assert _outcome(client, stage) == "ok"


def test_hung_response_times_out_and_does_not_block_stop(
    local_ivs: IvsRealtimeEmulator, make_client: Any, stage: str
) -> None:
    impatient = make_client(read_timeout=0.5, retries={"total_max_attempts": 1})
    local_ivs.faults.hang("GetStage", count=1)

    with pytest.raises(ReadTimeoutError):
        impatient.get_stage(arn=stage)
    assert local_ivs.faults.hung_calls == 1
    started = time.monotonic()
    local_ivs.stop()

    assert time.monotonic() - started < 2
    assert local_ivs.faults.hung_calls == 0


def test_released_hung_call_answers_normally(
    local_ivs: IvsRealtimeEmulator, client: Any, stage: str
) -> None:
    local_ivs.faults.hang("GetStage")
    outcomes: list[str] = []
    caller = threading.Thread(target=lambda: outcomes.append(_outcome(client, stage)))
    caller.start()
    _wait_until(lambda: local_ivs.faults.hung_calls == 1)

    local_ivs.faults.release_hung()
    caller.join(5)

    assert outcomes == ["ok"]


def test_faults_over_the_control_routes(
    local_ivs: IvsRealtimeEmulator, client: Any, stage: str, http: Any
) -> None:
    status, _, _ = http(
        "/_local/faults",
        {"operation": "GetStage", "scripted_errors": ["ThrottlingException", 500]},
    )
    assert status == 200
    assert _outcome(client, stage) == "ThrottlingException"

    status, _, _ = http("/_local/faults", method="DELETE")

    assert status == 200
    assert _outcome(client, stage) == "ok"


def test_malformed_fault_plan_is_rejected(http: Any) -> None:
    status, headers, body = http("/_local/faults", {"operation": "GetStage", "hang": "soon"})

    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert "hang" in body["exceptionMessage"] or "number" in body["exceptionMessage"]
    with pytest.raises(FaultPlanError):
        FaultPlan(error_probability=2.0)


def _wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
