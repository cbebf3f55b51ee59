"""P2: one create+delete cycle through the handler vs bare boto3 making the same calls.

The baseline replays exactly the IVS calls the handler made (counted by the endpoint, per
request type), so the ratio is the handler's own cost: parsing, planning, logging, retries'
bookkeeping. Both sides use one warm client for every cycle (as a warm Lambda would) against
the local endpoint, with the participant publishing. Cycles alternate between the sides one
by one, so drift and bursts of the machine's noise (CPU frequency, neighbours, the endpoint's
growing state) hit every side alike. Bare Start + Stop is reported beside it, for the cost of
the confirming List; the handler's own work between its calls, with and without its INFO
lines, is timed apart after the rounds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import boto3

from bench.common import Row, at_most, median
from bench.local_ivs import QUIET_METRICS, lambda_context, local_endpoint
from ivs_replication.testing.cloudformation import custom_resource_event
from ivs_replication_handler import handler
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.ivs import IvsRealtime

if TYPE_CHECKING:
    from mypy_boto3_ivs_realtime import IvsrealtimeClient

    from ivs_realtime_emulator import IvsRealtimeEmulator

ROUNDS = 400
WARMUP_CYCLES = 20
# Cycles timed apart, with the client's calls timed inside them (not part of the ratio).
BETWEEN_CALLS_CYCLES = 200
PARTICIPANT = "host-1"


def measure() -> tuple[list[Row], dict[str, Any]]:
    with local_endpoint() as local:
        source = local.create_stage("source")
        handler_destination = local.create_stage("handler-destination")
        boto3_destination = local.create_stage("boto3-destination")
        local.publish(source, PARTICIPANT)
        handler_side = _HandlerCycle(source, handler_destination)
        per_request = handler_side.calls_per_request(local)
        handler_calls = _sum(per_request.values())
        # The target's baseline: bare boto3 making the very calls the handler made.
        same_calls_side = _Boto3Cycle(source, local.create_stage("same-calls"), handler_calls)
        # For comparison: bare Start + Stop, without the confirming List.
        boto3_side = _Boto3Cycle(
            source,
            boto3_destination,
            {"StartParticipantReplication": 1, "StopParticipantReplication": 1},
        )
        sides: list[_Cycle] = [handler_side, boto3_side, same_calls_side]
        calls = [_calls_per_cycle(local, side.run) for side in sides]
        for _ in range(WARMUP_CYCLES):
            for side in sides:
                side.run()
        times: list[list[float]] = [[] for _ in sides]
        for round_number in range(ROUNDS):
            # One cycle of each side per round, the first side rotating: a burst of the
            # machine's noise lands on all sides alike instead of on one side's block.
            for offset in range(len(sides)):
                index = (round_number + offset) % len(sides)
                times[index].append(sides[index].timed())
        between_calls = handler_side.seconds_between_calls(BETWEEN_CALLS_CYCLES)
        with _info_lines_off():
            between_calls_quiet = handler_side.seconds_between_calls(BETWEEN_CALLS_CYCLES)
    handler_median, boto3_median, same_calls_median = (median(t) for t in times)
    handler_calls, boto3_calls, same_calls = calls
    ratio = handler_median / same_calls_median
    per_call = boto3_median / sum(boto3_calls.values())
    raw = {
        "cycles_per_side": len(times[0]),
        "warmup_cycles_per_side": WARMUP_CYCLES,
        "handler_cycle_seconds_median": handler_median,
        "boto3_cycle_seconds_median": boto3_median,
        "handler_calls_per_cycle": handler_calls,
        "boto3_calls_per_cycle": boto3_calls,
        "handler_seconds_beyond_its_extra_calls_estimate": handler_median
        - per_call * sum(handler_calls.values()),
        "handler_seconds_between_its_calls_median": between_calls,
        "handler_seconds_between_its_calls_without_info_lines_median": between_calls_quiet,
        "boto3_same_calls_cycle_seconds_median": same_calls_median,
        "boto3_same_calls_per_cycle": same_calls,
        "ratio_vs_boto3_same_calls": ratio,
        "ratio_vs_bare_start_stop": handler_median / boto3_median,
        "handler_calls_per_request_type": per_request,
    }
    detail = (
        f"{handler_median * 1000:.2f} ms vs {same_calls_median * 1000:.2f} ms per cycle, the "
        f"same calls ({'; '.join(f'{kind}: {_describe(c)}' for kind, c in per_request.items())});"
        f" vs bare Start+Stop: {handler_median / boto3_median:.2f}x; the handler's own work "
        f"between its calls: {between_calls * 1000:.2f} ms per cycle "
        f"({between_calls_quiet * 1000:.2f} ms without its INFO lines)"
    )
    if same_calls != handler_calls:
        detail += f" (baseline made {_describe(same_calls)})"
    return [
        at_most("P2.handler_cycle", "P2 handler vs same calls", ratio, limit=1.1, detail=detail)
    ], raw


def _sum(counts: Any) -> dict[str, int]:  # noqa: ANN401 - an iterable of call counts
    total: dict[str, int] = {}
    for count in counts:
        for operation, number in count.items():
            total[operation] = total.get(operation, 0) + number
    return total


def _describe(calls: dict[str, int]) -> str:
    short = {
        "StartParticipantReplication": "Start",
        "StopParticipantReplication": "Stop",
        "ListParticipantReplicas": "List",
    }
    return "+".join(f"{count} {short.get(op, op)}" for op, count in sorted(calls.items()))


def _calls_per_cycle(local: IvsRealtimeEmulator, cycle: Any) -> dict[str, int]:  # noqa: ANN401
    """The AWS calls of one cycle, as the endpoint counted them (this also warms the side)."""
    local.reset_calls()
    cycle()
    calls = local.calls
    local.reset_calls()
    return calls


class _Cycle(Protocol):
    def run(self) -> None: ...

    def timed(self) -> float: ...


class _HandlerCycle:
    """Create then Delete through `handle_event`, with one `IvsRealtime` reused throughout."""

    def __init__(self, source: str, destination: str) -> None:
        self._ivs = IvsRealtime()  # the client is created on first use, as in Lambda
        properties = {
            "SourceStageArn": source,
            "DestinationStageArn": destination,
            "ParticipantId": PARTICIPANT,
        }
        self._create = custom_resource_event("Create", properties)
        self._delete = custom_resource_event(
            "Delete", properties, physical_id=f"{source}|{destination}|{PARTICIPANT}"
        )

    def run(self) -> None:
        handle_event(self._create, lambda_context(), self._ivs, metrics=QUIET_METRICS)
        handle_event(self._delete, lambda_context(), self._ivs, metrics=QUIET_METRICS)

    def calls_per_request(self, local: IvsRealtimeEmulator) -> dict[str, dict[str, int]]:
        """The IVS calls of one Create and of one Delete, as the endpoint counted them."""
        counted = {}
        for kind, event in (("Create", self._create), ("Delete", self._delete)):
            local.reset_calls()
            handle_event(event, lambda_context(), self._ivs, metrics=QUIET_METRICS)
            counted[kind] = local.calls
        local.reset_calls()
        return counted

    def timed(self) -> float:
        started = time.perf_counter()
        self.run()
        return time.perf_counter() - started

    def seconds_between_calls(self, cycles: int) -> float:
        """The median time per cycle spent outside the IVS client's calls: the handler's own
        work as it runs between real requests (caches and the endpoint's thread as they are
        then), which is what the ratio sees, rather than in a loop with IVS stubbed out."""
        client = self._ivs.client
        inside = [0.0]

        def timing(method: Callable[..., Any]) -> Callable[..., Any]:
            def timed_call(**request: Any) -> Any:  # noqa: ANN401 - any operation's answer
                started = time.perf_counter()
                try:
                    return method(**request)
                finally:
                    inside[0] += time.perf_counter() - started

            return timed_call

        for name in _CLIENT_METHODS:
            setattr(client, name, timing(getattr(client, name)))
        try:
            outside = []
            for _ in range(cycles):
                inside[0] = 0.0
                outside.append(self.timed() - inside[0])
        finally:
            for name in _CLIENT_METHODS:
                delattr(client, name)  # the class's method again
        return median(outside)


@contextmanager
def _info_lines_off() -> Iterator[None]:
    """The handler's logger at WARNING: what its one INFO line per request costs in place."""
    level = handler.logger.log_level
    handler.logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        handler.logger.setLevel(level)


_CLIENT_METHODS = (
    "start_participant_replication",
    "list_participant_replicas",
    "stop_participant_replication",
)


class _Boto3Cycle:
    """One default client making `calls` (operation -> count): Starts, then Lists, then Stops."""

    def __init__(self, source: str, destination: str, calls: dict[str, int]) -> None:
        self._client: IvsrealtimeClient = boto3.client("ivs-realtime")
        self._calls = calls
        self._identity = {
            "sourceStageArn": source,
            "destinationStageArn": destination,
            "participantId": PARTICIPANT,
        }

    def run(self) -> None:
        for _ in range(self._calls.get("StartParticipantReplication", 0)):
            self._client.start_participant_replication(
                sourceStageArn=self._identity["sourceStageArn"],
                destinationStageArn=self._identity["destinationStageArn"],
                participantId=PARTICIPANT,
            )
        for _ in range(self._calls.get("ListParticipantReplicas", 0)):
            self._client.list_participant_replicas(
                sourceStageArn=self._identity["sourceStageArn"], participantId=PARTICIPANT
            )
        for _ in range(self._calls.get("StopParticipantReplication", 0)):
            self._client.stop_participant_replication(**self._identity)

    def timed(self) -> float:
        started = time.perf_counter()
        self.run()
        return time.perf_counter() - started
