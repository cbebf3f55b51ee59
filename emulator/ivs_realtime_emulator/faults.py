"""Faults the local endpoint injects, configured per operation; thread-safe.

Kinds: a token-bucket rate limit (429 ThrottlingException), scripted errors for the next calls,
random 500s from a seeded generator, added latency, dropped connections (the socket closes
with no response) and hung responses (held until released or the server stops).
``ALL_OPERATIONS`` ("*") applies a plan to every operation, after the operation's own plan.
A service's own rate limits (``limit``, set from a service profile) are token buckets too,
checked after the injected faults and kept by ``clear`` and ``configure``.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from ivs_realtime_emulator import assumptions
from ivs_realtime_emulator.exceptions import IvsRealtimeError
from ivs_realtime_emulator.validation import error_code_for_status, error_status

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

ALL_OPERATIONS: Final = "*"
_PLAN_FIELDS: Final = frozenset(
    {
        "rate_per_second",
        "burst",
        "scripted_errors",
        "error_probability",
        "seed",
        "latency_seconds",
        "drop_connections",
        "hang",
    }
)


class FaultPlanError(ValueError):
    """A fault plan is malformed (unknown field, wrong type, out of range)."""


@dataclass(frozen=True)
class FaultPlan:
    """The faults of one operation. Every field defaults to "no fault".

    - ``rate_per_second`` / ``burst``: token bucket; a call without a token gets 429
      ThrottlingException. Default: no limit; burst 1.
    - ``scripted_errors``: answered by the next calls, in order; an HTTP status (500) or an
      error code ("ConflictException").
    - ``error_probability`` / ``seed``: each call fails with 500 InternalServerException with
      this probability, drawn from ``random.Random(seed)``.
    - ``latency_seconds``: added before answering.
    - ``drop_connections``: the next N calls get their connection closed with no response.
    - ``hang``: the next N calls get no response until ``Faults.release_hung()`` or stop.
    """

    rate_per_second: float | None = None
    burst: int = 1
    scripted_errors: tuple[int | str, ...] = ()
    error_probability: float = 0.0
    seed: int | None = None
    latency_seconds: float = 0.0
    drop_connections: int = 0
    hang: int = 0

    def __post_init__(self) -> None:
        if self.rate_per_second is not None and self.rate_per_second <= 0:
            raise FaultPlanError("rate_per_second must be positive")
        if self.burst < 1:
            raise FaultPlanError("burst must be at least 1")
        if not 0.0 <= self.error_probability <= 1.0:
            raise FaultPlanError("error_probability must be between 0 and 1")
        if self.latency_seconds < 0 or self.drop_connections < 0 or self.hang < 0:
            raise FaultPlanError("latency_seconds, drop_connections and hang must be >= 0")

    @classmethod
    def from_json(cls, body: Mapping[str, object]) -> FaultPlan:
        """A plan from the JSON of ``POST /_local/faults`` (field names as above)."""
        unknown = set(body) - _PLAN_FIELDS
        if unknown:
            raise FaultPlanError(f"unknown fault fields: {sorted(unknown)}")
        try:
            return cls(
                rate_per_second=_optional_float(body.get("rate_per_second")),
                burst=int(_number(body.get("burst", 1))),
                scripted_errors=_scripted(body.get("scripted_errors", ())),
                error_probability=float(_number(body.get("error_probability", 0.0))),
                seed=None if body.get("seed") is None else int(_number(body.get("seed"))),
                latency_seconds=float(_number(body.get("latency_seconds", 0.0))),
                drop_connections=int(_number(body.get("drop_connections", 0))),
                hang=int(_number(body.get("hang", 0))),
            )
        except (TypeError, ValueError) as error:
            raise FaultPlanError(str(error)) from error


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FaultPlanError(f"expected a number, got {value!r}")
    return value


def _optional_float(value: object) -> float | None:
    return None if value is None else float(_number(value))


def _scripted(value: object) -> tuple[int | str, ...]:
    if not isinstance(value, (list, tuple)):
        raise FaultPlanError("scripted_errors must be a list of statuses or error codes")
    entries: list[int | str] = []
    for entry in value:
        if isinstance(entry, bool) or not isinstance(entry, (int, str)):
            raise FaultPlanError(f"scripted error {entry!r} is neither a status nor a code")
        entries.append(entry)
    return tuple(entries)


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one call: wait, then drop, hang, fail or answer normally."""

    latency_seconds: float = 0.0
    drop: bool = False
    hang: bool = False
    error: IvsRealtimeError | None = None


def scripted_error(entry: int | str) -> IvsRealtimeError:
    """The error a scripted entry stands for (a status or an error code)."""
    if isinstance(entry, int):
        code = error_code_for_status(entry)
        status = entry
    else:
        code = entry
        status = error_status(entry)
    return IvsRealtimeError(f"Injected fault: {code}", error_code=code, status=status)


def throttling_error() -> IvsRealtimeError:
    """What a call over the rate limit gets."""
    return IvsRealtimeError(
        "Rate exceeded",
        error_code=assumptions.THROTTLING_ERROR_CODE,
        status=assumptions.THROTTLING_STATUS,
    )


def internal_error() -> IvsRealtimeError:
    """What a randomly failed call gets."""
    return IvsRealtimeError(
        "Injected fault: random internal error", error_code="InternalServerException", status=500
    )


@dataclass
class _OperationFaults:
    """The live state of one operation's plan (tokens left, scripted errors left, ...)."""

    plan: FaultPlan
    monotonic: Callable[[], float]
    tokens: float = 0.0
    refilled_at: float = 0.0
    scripted: deque[int | str] = field(default_factory=deque)
    drops_left: int = 0
    hangs_left: int = 0
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def from_plan(cls, plan: FaultPlan, monotonic: Callable[[], float]) -> _OperationFaults:
        return cls(
            plan=plan,
            monotonic=monotonic,
            tokens=float(plan.burst),
            refilled_at=monotonic(),
            scripted=deque(plan.scripted_errors),
            drops_left=plan.drop_connections,
            hangs_left=plan.hang,
            # Fault injection, not security: a seeded, reproducible generator is the point.
            rng=random.Random(plan.seed),  # noqa: S311
        )

    def decide(self) -> FaultDecision:
        latency = self.plan.latency_seconds
        if self.drops_left > 0:
            self.drops_left -= 1
            return FaultDecision(latency, drop=True)
        if self.hangs_left > 0:
            self.hangs_left -= 1
            return FaultDecision(latency, hang=True)
        return FaultDecision(latency, error=self._error())

    def _error(self) -> IvsRealtimeError | None:
        if not self._take_token():
            return throttling_error()
        if self.scripted:
            return scripted_error(self.scripted.popleft())
        probability = self.plan.error_probability
        if probability > 0 and self.rng.random() < probability:
            return internal_error()
        return None

    def _take_token(self) -> bool:
        rate = self.plan.rate_per_second
        if rate is None:
            return True
        now = self.monotonic()
        self.tokens = min(float(self.plan.burst), self.tokens + (now - self.refilled_at) * rate)
        self.refilled_at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


# How long `close` waits for held calls to leave; they leave at once once woken.
_CLOSE_TIMEOUT_SECONDS = 2.0


class Faults:
    """Per-operation fault configuration of one server; every method is thread-safe."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._by_operation: dict[str, _OperationFaults] = {}
        # The service's own rate limits: injected faults come and go, these stay.
        self._limits: dict[str, _OperationFaults] = {}
        self._release = threading.Condition(self._lock)
        self._release_generation = 0
        self._hung_now = 0
        self._closed = threading.Event()

    # --- configuration -------------------------------------------------------------------

    def configure(self, operation: str, plan: FaultPlan) -> None:
        """Replace the plan of ``operation`` (or ``ALL_OPERATIONS``) with ``plan``."""
        with self._lock:
            self._by_operation[operation] = _OperationFaults.from_plan(plan, self._monotonic)

    def throttle(self, operation: str, *, rate_per_second: float, burst: int = 1) -> None:
        """Rate-limit ``operation`` with a token bucket (429 ThrottlingException)."""
        self._update(operation, rate_per_second=rate_per_second, burst=burst)

    def limit(
        self,
        operation: str,
        *,
        rate_per_second: float,
        burst: int = 1,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """The service's own rate limit of ``operation`` (429 ThrottlingException past it).

        Unlike ``throttle``, ``clear`` and ``configure`` keep it; a call passes only when both
        the injected faults and this limit let it. ``burst`` default 1; ``clock`` (seconds)
        default this object's ``monotonic``: the emulator passes its own clock, on which the
        service's other delays run too.
        """
        plan = FaultPlan(rate_per_second=rate_per_second, burst=burst)
        with self._lock:
            self._limits[operation] = _OperationFaults.from_plan(plan, clock or self._monotonic)

    def script_errors(self, operation: str, errors: Iterable[int | str]) -> None:
        """Answer the next calls with these statuses or error codes, in order."""
        self._update(operation, scripted_errors=tuple(errors))

    def random_errors(self, operation: str, *, probability: float, seed: int | None = None) -> None:
        """Fail calls with 500 InternalServerException with ``probability`` (seeded)."""
        self._update(operation, error_probability=probability, seed=seed)

    def add_latency(self, operation: str, seconds: float) -> None:
        """Delay every answer of ``operation`` by ``seconds``."""
        self._update(operation, latency_seconds=seconds)

    def drop_connections(self, operation: str, count: int = 1) -> None:
        """Close the connection of the next ``count`` calls without any response."""
        self._update(operation, drop_connections=count)

    def hang(self, operation: str, count: int = 1) -> None:
        """Hold the next ``count`` calls until ``release_hung()`` or the server stops."""
        self._update(operation, hang=count)

    def clear(self, operation: str | None = None) -> None:
        """Remove the faults of one operation, or all of them; hung calls are released."""
        with self._lock:
            if operation is None:
                self._by_operation.clear()
            else:
                self._by_operation.pop(operation, None)
        self.release_hung()

    def _update(self, operation: str, **changes: object) -> None:
        # Keep what is already configured for the operation; replace only the named fields.
        with self._lock:
            current = self._by_operation.get(operation)
            base = FaultPlan() if current is None else current.plan
            fields = {name: getattr(base, name) for name in _PLAN_FIELDS} | changes
            plan = FaultPlan(**fields)
            self._by_operation[operation] = _OperationFaults.from_plan(plan, self._monotonic)

    # --- use by the server ---------------------------------------------------------------

    def decide(self, operation: str) -> FaultDecision:
        """Consume this call's share of the faults: the operation's plan, then "*", then the
        service's own limit of the operation."""
        with self._lock:
            latency = 0.0
            for faults in (
                self._by_operation.get(operation),
                self._by_operation.get(ALL_OPERATIONS),
                self._limits.get(operation),
            ):
                if faults is None:
                    continue
                decision = faults.decide()
                latency += decision.latency_seconds
                if decision.drop or decision.hang or decision.error is not None:
                    return FaultDecision(latency, decision.drop, decision.hang, decision.error)
            return FaultDecision(latency)

    def sleep(self, seconds: float) -> None:
        """Added latency that ends early when the server stops."""
        if seconds > 0:
            self._closed.wait(seconds)

    def wait_while_hung(self) -> bool:
        """Block a hung call; True when released, False when the server is stopping."""
        with self._lock:
            generation = self._release_generation
            self._hung_now += 1
            try:
                self._release.wait_for(
                    lambda: self._closed.is_set() or self._release_generation != generation
                )
            finally:
                self._hung_now -= 1
                self._release.notify_all()  # `close` waits for the last one to leave
            return not self._closed.is_set()

    @property
    def hung_calls(self) -> int:
        """How many calls are being held right now."""
        with self._lock:
            return self._hung_now

    def release_hung(self) -> None:
        """Let every currently hung call go on and answer normally."""
        with self._lock:
            self._release_generation += 1
            self._release.notify_all()

    def close(self) -> None:
        """The server is stopping: end every wait now and for good, and return once the held
        calls have left their wait (bounded, in case one never does)."""
        with self._lock:
            self._closed.set()
            self._release.notify_all()
            self._release.wait_for(lambda: self._hung_now == 0, timeout=_CLOSE_TIMEOUT_SECONDS)

    def reopen(self) -> None:
        """The server is starting (again): waits block normally."""
        self._closed.clear()
