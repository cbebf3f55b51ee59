"""Replicas outlive a publisher's absence for reconnectWindowSeconds (ManualClock-driven)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ivs_realtime_emulator import IvsRealtimeEmulator, ManualClock

if TYPE_CHECKING:
    from collections.abc import Iterator

WINDOW = 30


@pytest.fixture
def ivs() -> Iterator[IvsRealtimeEmulator]:
    with IvsRealtimeEmulator(clock=ManualClock()) as server:
        yield server


def _replicate(ivs: IvsRealtimeEmulator, window: int = WINDOW) -> tuple[str, str]:
    source, destination = ivs.create_stage("src"), ivs.create_stage("dst")
    ivs.publish(source, "p")
    ivs.state.start_replication(
        source_stage_arn=source,
        destination_stage_arn=destination,
        participant_id="p",
        reconnect_window_seconds=window,
    )
    return source, destination


def _states(ivs: IvsRealtimeEmulator) -> list[str]:
    return [replica.state for replica in ivs.replicas()]


def test_replica_stays_active_inside_the_window_and_survives_a_republish(
    ivs: IvsRealtimeEmulator,
) -> None:
    source, _ = _replicate(ivs)

    ivs.unpublish(source, "p")
    ivs.clock.advance(WINDOW - 1)
    assert _states(ivs) == ["ACTIVE"]
    ivs.publish(source, "p")
    ivs.clock.advance(WINDOW * 10)

    assert _states(ivs) == ["ACTIVE"]


def test_replica_stops_when_the_window_passes(ivs: IvsRealtimeEmulator) -> None:
    source, destination = _replicate(ivs)

    ivs.unpublish(source, "p")
    ivs.clock.advance(WINDOW + 1)

    [replica] = ivs.replicas()
    assert replica.state == "STOPPED"
    assert replica.stopped_at == replica.started_at + WINDOW
    assert ivs.state.get_stage(destination).get("activeSessionId") is None


def test_republish_after_the_window_does_not_revive_the_replica(ivs: IvsRealtimeEmulator) -> None:
    source, _ = _replicate(ivs)

    ivs.unpublish(source, "p")
    ivs.clock.advance(WINDOW + 1)
    ivs.publish(source, "p")

    assert _states(ivs) == ["STOPPED"]


def test_zero_window_stops_at_once(ivs: IvsRealtimeEmulator) -> None:
    source, _ = _replicate(ivs, window=0)

    ivs.unpublish(source, "p")

    assert _states(ivs) == ["STOPPED"]


def test_clock_advances_over_the_control_route(ivs: IvsRealtimeEmulator) -> None:
    import json
    import urllib.request

    source, _ = _replicate(ivs)
    ivs.unpublish(source, "p")
    request = urllib.request.Request(
        f"{ivs.endpoint_url}/_local/clock/advance",
        data=json.dumps({"seconds": WINDOW + 1}).encode(),
        method="POST",
    )

    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200

    assert _states(ivs) == ["STOPPED"]
