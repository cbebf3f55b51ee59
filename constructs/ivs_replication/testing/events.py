"""``LocalEventBus``: EventBridge rules in-process, for the events of a local IVS endpoint.

Rules hold an event pattern or a schedule and call Python targets. Only the part of
EventBridge's pattern language this library uses is understood, and anything else is refused
when the rule is put, never silently ignored:

- a pattern is an object; each field's value is a non-empty list of exact values, or an object
  matched against the event's nested object (``"detail": {"participant_id": [...]}``);
- a field matches when the event's value is one of the listed values or, for an array in the
  event (``resources``), when any of its elements is;
- content filters (``prefix``, ``anything-but``, ``numeric``, ``exists``, ...) raise
  ``EventPatternError`` naming them.

EventBridge delivers at least once, in no guaranteed order, and may fail to deliver; the bus
can do the same on demand: ``drop_next(n)``, ``duplicate_next(n)``, and ``hold()`` followed
by ``release("reverse")``. Schedules fire only when ``run_schedules()`` is called. Every
delivery (and every drop) is logged in ``deliveries``.

An event is matched to rules when it arrives (a guess about EventBridge): a held event
released later still reaches the targets of a rule deleted in between.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from ivs_realtime_emulator import assumptions
from ivs_realtime_emulator.models import iso_timestamp

if TYPE_CHECKING:
    from ivs_realtime_emulator.server import IvsRealtimeEmulator

logger = logging.getLogger(__name__)

EventTarget = Callable[[Any], object]
"""A rule's target: called with the event, or with the target's constant input."""
TargetSpec = EventTarget | tuple[EventTarget, Any]
"""What ``put_rule`` takes: a target, or (target, constant input)."""
DeliveryStatus = Literal["delivered", "failed", "dropped"]
ReleaseOrder = Literal["fifo", "reverse"]

_SCALARS: Final = (str, int, float, bool, type(None))
_SCHEDULE: Final = re.compile(
    # EventBridge: the unit is singular for 1 and plural above.
    r"rate\(1 (minute|hour|day)\)|rate\(([2-9]|[1-9][0-9]+) (minutes|hours|days)\)|cron\(.+\)"
)
_NO_INPUT: Final = object()


class EventPatternError(ValueError):
    """An event pattern this bus cannot evaluate (or EventBridge would reject)."""


class RuleError(ValueError):
    """A rule that cannot be put: no pattern and no schedule, or a malformed schedule."""


# --- patterns --------------------------------------------------------------------------------


def validate_pattern(pattern: object) -> None:
    """Raise ``EventPatternError`` unless ``pattern`` is one this bus evaluates exactly."""
    _validate_object(pattern, "(pattern)")


def _validate_object(pattern: object, path: str) -> None:
    if not isinstance(pattern, Mapping) or not pattern:
        raise EventPatternError(f"event pattern {path} must be a non-empty object")
    for key, value in pattern.items():
        where = key if path == "(pattern)" else f"{path}.{key}"
        if isinstance(value, Mapping):
            _validate_object(value, where)
        elif isinstance(value, list):
            _validate_values(value, where)
        else:
            raise EventPatternError(
                f"event pattern field {where}: {json.dumps(value)} must be a list of values "
                "or an object"
            )


def _validate_values(values: list[Any], path: str) -> None:
    if not values:
        raise EventPatternError(f"event pattern field {path}: the list of values is empty")
    for value in values:
        if isinstance(value, Mapping):
            operators = ", ".join(sorted(map(str, value))) or "{}"
            raise EventPatternError(
                f"event pattern field {path}: content filter {operators} is not supported "
                "locally; only lists of exact values are"
            )
        if not isinstance(value, _SCALARS):
            raise EventPatternError(
                f"event pattern field {path}: {json.dumps(value)} is not a string, number, "
                "boolean or null"
            )


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` matches a pattern that ``validate_pattern`` accepts."""
    for key, wanted in pattern.items():
        if key not in event:
            return False
        actual = event[key]
        if isinstance(wanted, Mapping):
            if not (isinstance(actual, Mapping) and matches(wanted, actual)):
                return False
        elif not _matches_values(wanted, actual):
            return False
    return True


def _matches_values(allowed: list[Any], actual: object) -> bool:
    candidates = actual if isinstance(actual, list) else [actual]
    return any(_same(value, candidate) for value in allowed for candidate in candidates)


def _same(a: object, b: object) -> bool:
    # JSON's types, not Python's: true is not 1 and "1" is not 1, while 1 is 1.0.
    return _json_kind(a) == _json_kind(b) and a == b


def _json_kind(value: object) -> object:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return "number" if is_number else type(value)


def validate_schedule(expression: str) -> None:
    """Raise ``RuleError`` unless ``expression`` is ``rate(...)`` or ``cron(...)``."""
    if not _SCHEDULE.fullmatch(expression):
        raise RuleError(
            f"schedule {expression!r} is not 'rate(1 minute)', 'rate(<n> minutes|hours|days)' "
            "or 'cron(...)'"
        )


# --- rules and deliveries --------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A rule's target: a callable, with a constant input or (the default) the event."""

    function: EventTarget
    constant_input: Any = _NO_INPUT

    @property
    def has_constant_input(self) -> bool:
        return self.constant_input is not _NO_INPUT

    def payload(self, event: Mapping[str, Any]) -> object:
        """What the target receives for ``event``."""
        return self.constant_input if self.has_constant_input else event


@dataclass(frozen=True)
class Rule:
    """A rule as put: a pattern and/or a schedule, its targets, and whether it is enabled."""

    name: str
    arn: str
    pattern: Mapping[str, Any] | None
    schedule: str | None
    targets: tuple[Target, ...]
    enabled: bool = True


@dataclass(frozen=True)
class Delivery:
    """One event for one target of one rule, and how it ended."""

    rule: str
    event: Mapping[str, Any]
    payload: object
    status: DeliveryStatus
    result: object = None
    error: str | None = None
    duplicate: bool = False


@dataclass(frozen=True)
class _Routed:
    """An event matched to its rules when it arrived, as EventBridge matches on ingestion."""

    event: Mapping[str, Any]
    rules: tuple[Rule, ...]
    duplicate: bool = False


@dataclass
class _Policy:
    drop: int = 0
    duplicate: int = 0
    holding: bool = False
    held: list[_Routed] = field(default_factory=list)


class LocalEventBus:
    """EventBridge's default bus, in-process.

    ``region`` default us-east-1 and ``account`` default 123456789012 (for rule ARNs and
    scheduled events). Targets run in the thread that put the event; an exception from a
    target is logged as a ``failed`` delivery and never reaches the publisher, as with
    EventBridge's asynchronous Lambda invocations.
    """

    def __init__(
        self,
        *,
        region: str = assumptions.DEFAULT_REGION,
        account: str = assumptions.DEFAULT_ACCOUNT,
    ) -> None:
        self._region = region
        self._account = account
        self._rules: dict[str, Rule] = {}
        self._policy = _Policy()
        self._deliveries: list[Delivery] = []
        self._attached: dict[int, Callable[[], None]] = {}
        self._lock = threading.RLock()

    # --- rules -------------------------------------------------------------------------------

    def put_rule(
        self,
        name: str,
        *,
        pattern: Mapping[str, Any] | None = None,
        schedule: str | None = None,
        targets: Iterable[TargetSpec] = (),
        enabled: bool = True,
    ) -> Rule:
        """Create or replace a rule; returns it.

        ``pattern`` and ``schedule`` default None, and at least one is required; ``targets``
        default none; ``enabled`` default True. Raises ``EventPatternError`` or ``RuleError``.
        """
        if pattern is None and schedule is None:
            raise RuleError(f"rule {name!r} needs an event pattern or a schedule")
        if pattern is not None:
            validate_pattern(pattern)
        if schedule is not None:
            validate_schedule(schedule)
        rule = Rule(
            name=name,
            arn=f"arn:aws:events:{self._region}:{self._account}:rule/{name}",
            pattern=pattern,
            schedule=schedule,
            targets=tuple(_target(spec) for spec in targets),
            enabled=enabled,
        )
        with self._lock:
            self._rules[name] = rule
        return rule

    def delete_rule(self, name: str) -> bool:
        """Delete a rule; False if there was none. Events already routed to it still arrive."""
        with self._lock:
            return self._rules.pop(name, None) is not None

    def rules(self) -> dict[str, Rule]:
        """The rules by name, oldest first."""
        with self._lock:
            return dict(self._rules)

    # --- events ------------------------------------------------------------------------------

    def attach(self, ivs: IvsRealtimeEmulator) -> None:
        """Receive every event of a local IVS endpoint. Attaching twice is a no-op."""
        with self._lock:
            if id(ivs) not in self._attached:
                self._attached[id(ivs)] = ivs.subscribe(self._receive)

    def detach(self, ivs: IvsRealtimeEmulator) -> None:
        """Stop receiving the endpoint's events."""
        with self._lock:
            unsubscribe = self._attached.pop(id(ivs), None)
        if unsubscribe is not None:
            unsubscribe()

    def put_event(self, event: Mapping[str, Any]) -> list[Delivery]:
        """Route one event to the enabled rules whose pattern it matches, under the current
        delivery policy; returns the deliveries made now (none when held)."""
        with self._lock:
            rules = tuple(
                r
                for r in self._rules.values()
                if r.enabled and r.pattern and matches(r.pattern, event)
            )
            if not rules:
                return []
            routed = _Routed(event, rules)
            if self._policy.drop > 0:
                self._policy.drop -= 1
                return self._log(_dropped(routed))
            copies = [routed]
            if self._policy.duplicate > 0:
                self._policy.duplicate -= 1
                copies.append(_Routed(event, rules, duplicate=True))
            if self._policy.holding:
                self._policy.held.extend(copies)
                return []
        return [delivery for copy in copies for delivery in self._deliver(copy)]

    def run_schedules(self) -> list[Delivery]:
        """Fire every enabled schedule rule once (no timers run otherwise); returns the
        deliveries. Delivery policies do not apply: scheduled invocations are the recovery
        path tests rely on."""
        with self._lock:
            scheduled = [r for r in self._rules.values() if r.enabled and r.schedule]
        deliveries: list[Delivery] = []
        for rule in scheduled:
            deliveries += self._deliver(_Routed(self._scheduled_event(rule), (rule,)))
        return deliveries

    # --- delivery policies -------------------------------------------------------------------

    def drop_next(self, count: int = 1) -> None:
        """Lose the next ``count`` (default 1) events that match a rule (logged as dropped)."""
        with self._lock:
            self._policy.drop += _positive(count)

    def duplicate_next(self, count: int = 1) -> None:
        """Deliver each of the next ``count`` (default 1) matching events twice."""
        with self._lock:
            self._policy.duplicate += _positive(count)

    def hold(self) -> None:
        """Keep matching events back until ``release()``."""
        with self._lock:
            self._policy.holding = True

    def release(self, order: ReleaseOrder = "fifo") -> list[Delivery]:
        """Deliver the held events, oldest first ("fifo", the default) or newest first
        ("reverse"), and go back to delivering at once; returns the deliveries."""
        if order not in ("fifo", "reverse"):
            raise ValueError(f"release order must be 'fifo' or 'reverse', got {order!r}")
        with self._lock:
            held, self._policy.held = self._policy.held, []
            self._policy.holding = False
        if order == "reverse":
            held.reverse()
        return [delivery for routed in held for delivery in self._deliver(routed)]

    def deliver_immediately(self) -> None:
        """Forget pending drops and duplicates and stop holding (held events stay held)."""
        with self._lock:
            self._policy.drop = self._policy.duplicate = 0
            self._policy.holding = False

    @property
    def held(self) -> int:
        """How many events are held back."""
        with self._lock:
            return len(self._policy.held)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery and drop so far, oldest first."""
        with self._lock:
            return list(self._deliveries)

    # --- internals ---------------------------------------------------------------------------

    def _receive(self, event: dict[str, Any]) -> None:
        self.put_event(event)

    def _deliver(self, routed: _Routed) -> list[Delivery]:
        # Outside the lock: a target may publish, and so put events of its own.
        deliveries = []
        for rule in routed.rules:
            for target in rule.targets:
                deliveries.append(_call(rule, target, routed))
        return self._log(deliveries)

    def _log(self, deliveries: list[Delivery]) -> list[Delivery]:
        with self._lock:
            self._deliveries.extend(deliveries)
        return deliveries

    def _scheduled_event(self, rule: Rule) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self._account,
            "time": iso_timestamp(time.time()),
            "region": self._region,
            "resources": [rule.arn],
            "detail": {},
        }


def _target(spec: TargetSpec) -> Target:
    if isinstance(spec, tuple):
        function, constant_input = spec
        return Target(function, constant_input)
    return Target(spec)


def _call(rule: Rule, target: Target, routed: _Routed) -> Delivery:
    payload = target.payload(routed.event)
    try:
        result = target.function(payload)
    except Exception as error:  # a failed invocation is reported, as EventBridge would
        logger.warning("target of rule %s failed: %s", rule.name, error, exc_info=True)
        reason = f"{type(error).__name__}: {error}"
        return Delivery(
            rule.name, routed.event, payload, "failed", error=reason, duplicate=routed.duplicate
        )
    return Delivery(
        rule.name, routed.event, payload, "delivered", result, duplicate=routed.duplicate
    )


def _dropped(routed: _Routed) -> list[Delivery]:
    return [
        Delivery(rule.name, routed.event, target.payload(routed.event), "dropped")
        for rule in routed.rules
        for target in rule.targets
    ]


def _positive(count: int) -> int:
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    return count
