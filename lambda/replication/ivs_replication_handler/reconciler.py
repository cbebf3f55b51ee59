"""Lambda entry point of follow mode: start declared replications whose publisher is live.

Two triggers, one job:
- an EventBridge "IVS Stage Update" event, "Participant Published": reconcile that
  publisher's declarations (the stack's one rule matches the declared publishers while their
  stages and ids fit its pattern, else only their stages, else any stage of the account; every
  event is checked against the registry);
- the sweep's constant input ``{"IvsReplicationSweep": true}``: reconcile every declaration,
  because EventBridge delivery is best effort.

Reconciling is idempotent: a replication IVS lists as ACTIVE is left alone, one that is
STOPPED or missing is started, a publisher that is not publishing is skipped (its next
"Participant Published" event, or a later sweep, starts it). After every Start that may have
started something (answered or not) the registry is read again, consistently: a withdrawn
declaration is stopped again, a changed one restarted with the declared settings, and an
unreadable one stopped and reported as a failure so Lambda retries the run. The protocol, and
why it keeps the follow-mode invariants, is in `registry`'s docstring.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from . import contract as c
from .ivs import IvsRealtime, IvsSettings, paced
from .logic import ACTIVE, ReplicationKey, ReplicationSpec
from .metrics import ReplicationMetrics, from_environment
from .registry import Registry, publisher_key
from .retries import Deadline, DeadlineExceededError, ServiceError
from .starting import (
    SETTLE_SECONDS,
    RefusalUnresolvedError,
    Settle,
    StartResult,
    may_have_started,
    start_replication,
)
from .stopping import StopUnresolvedError, stop_replication

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service=c.LOGGER_SERVICE)

# The deployed reconciler paces its IVS calls at the stack's rate, read from the environment
# here, once: one pacer for the warm environment's life. `handle_event` callers bring their
# own IvsRealtime, paced or not (`ivs.paced`).
_ivs = paced(IvsRealtime(settings=IvsSettings.from_environment()))
_registry = Registry()

# Right after "Participant Published", IVS may not replicate the publisher yet (undocumented):
# the event says it is live, so its "not publishing" is retried for a while.
_EVENT_SETTLE = Settle(SETTLE_SECONDS, publisher_live=True)
_SWEEP_SETTLE = Settle(SETTLE_SECONDS)


# A declaration whose settings keep changing while we start it is left to the next run.
START_ATTEMPTS = 3
MAX_CONCURRENT_STARTS = 10


class UnverifiedStartError(Exception):
    """A Start may have started a replication, and the registry could not tell whether it is
    still declared: it was stopped, and the run fails so Lambda retries it."""


class DeclarationChangingError(Exception):
    """The declaration's settings changed on every attempt to start it."""


# What one declaration's reconciling may raise; each fails that declaration (the run fails,
# so Lambda retries it), never the others.
_RECONCILE_ERRORS = (
    ServiceError,
    DeadlineExceededError,
    RefusalUnresolvedError,
    StopUnresolvedError,
    UnverifiedStartError,
    DeclarationChangingError,
)


class ReconcileError(Exception):
    """Some declarations could not be reconciled; raised after all were tried, so Lambda's
    asynchronous retry (or the next sweep) tries again."""


@dataclass
class Report:
    """What one run did, by physical id; returned and logged."""

    trigger: str
    declarations: int = 0
    started: list[str] = field(default_factory=list)
    already_active: list[str] = field(default_factory=list)
    not_publishing: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    ignored: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "trigger": self.trigger,
            "declarations": self.declarations,
            "started": self.started,
            "already_active": self.already_active,
            "not_publishing": self.not_publishing,
            "withdrawn": self.withdrawn,
            "failed": self.failed,
            "ignored": self.ignored,
        }


@logger.inject_lambda_context(clear_state=True, log_event=False)
def on_event(event: Mapping[str, Any], context: LambdaContext) -> dict[str, object]:
    return handle_event(event, context, _ivs, _registry)


def handle_event(
    event: Mapping[str, Any],
    context: LambdaContext,
    ivs: IvsRealtime,
    registry: Registry,
    *,
    metrics: ReplicationMetrics | None = None,
) -> dict[str, object]:
    """Reconcile what `event` asks for; raise ReconcileError if anything failed.

    ``metrics`` Default: EMF on stdout (see ``metrics``), one document per run with a report.
    """
    deadline = Deadline(context.get_remaining_time_in_millis)
    # This run's keys only (a process running many, like a local deployment, shares them).
    logger.remove_keys(list(c.LOG_KEYS))
    report = _reconcile_event(event, ivs, registry, deadline)
    logger.info("Reconciled", extra={"report": report.as_dict()})
    (metrics or from_environment()).record_reconcile(report)
    if report.failed:
        raise ReconcileError(
            f"{len(report.failed)} of {report.declarations} declarations failed: "
            + "; ".join(f"{pid}: {why}" for pid, why in sorted(report.failed.items()))[:2000]
        )
    return report.as_dict()


def _reconcile_event(
    event: Mapping[str, Any], ivs: IvsRealtime, registry: Registry, deadline: Deadline
) -> Report:
    if event.get(c.SWEEP_INPUT_KEY) is True:
        report = Report(trigger="sweep")
        # A sweep has no event saying the publisher is live: it settles only when it sees it.
        _reconcile(
            registry.all_declarations(deadline),
            ivs,
            registry,
            deadline,
            report,
            settle=_SWEEP_SETTLE,
        )
        return report
    publisher = published_publisher(event)
    if publisher is None:
        return Report(trigger="event", ignored="not a Participant Published event of IVS")
    source_stage_arn, participant_id = publisher
    logger.append_keys(source_stage_arn=source_stage_arn, participant_id=participant_id)
    report = Report(trigger="event")
    declarations = registry.declarations_of(source_stage_arn, participant_id, deadline)
    if not declarations:
        report.ignored = "no replication of this participant is declared"
    _reconcile(
        declarations,
        ivs,
        registry,
        deadline,
        report,
        settle=_EVENT_SETTLE,
        live_session_id=_session_id_of(event),
    )
    return report


def published_publisher(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """(source stage ARN, participant id) of a "Participant Published" event; None otherwise."""
    detail = event.get("detail")
    resources = event.get("resources")
    if (
        event.get("source") != c.EVENT_SOURCE
        or event.get("detail-type") != c.EVENT_DETAIL_TYPE
        or not isinstance(detail, Mapping)
        or detail.get("event_name") != c.EVENT_PARTICIPANT_PUBLISHED
        or not isinstance(resources, list)
        or not resources
    ):
        return None
    participant_id = detail.get("participant_id")
    stage_arn = resources[0]
    if not isinstance(participant_id, str) or not isinstance(stage_arn, str):
        return None
    return stage_arn, participant_id


def _session_id_of(event: Mapping[str, Any]) -> str | None:
    """The publisher's session id an event names (None when absent)."""
    detail = event.get("detail")
    session_id = detail.get("session_id") if isinstance(detail, Mapping) else None
    return session_id if isinstance(session_id, str) and session_id else None


def _reconcile(
    declarations: Iterable[ReplicationSpec],
    ivs: IvsRealtime,
    registry: Registry,
    deadline: Deadline,
    report: Report,
    *,
    settle: Settle,
    live_session_id: str | None = None,
) -> None:
    """One List per publisher, then a Start for each declared destination not ACTIVE."""
    by_publisher: dict[str, list[ReplicationSpec]] = {}
    for spec in declarations:
        key = spec.key
        by_publisher.setdefault(publisher_key(key.source_stage_arn, key.participant_id), []).append(
            spec
        )
        report.declarations += 1
    for specs in by_publisher.values():
        try:
            _reconcile_publisher(
                specs,
                ivs,
                registry,
                deadline,
                report,
                settle=settle,
                live_session_id=live_session_id,
            )
        except _RECONCILE_ERRORS as error:  # the List: nothing was started for this publisher
            for spec in specs:
                report.failed.setdefault(spec.key.physical_id(), str(error))


def _reconcile_publisher(
    specs: list[ReplicationSpec],
    ivs: IvsRealtime,
    registry: Registry,
    deadline: Deadline,
    report: Report,
    *,
    settle: Settle,
    live_session_id: str | None,
) -> None:
    """One List, then the declarations not ACTIVE, started concurrently (the pacer keeps the
    Starts at the configured rate): a fan-out into 100 stages takes 100 Starts' worth of the
    rate, not 100 round trips one after the other."""
    first = specs[0].key
    # A replica of the event's session is what counts; older sessions' records are history.
    states = ivs.replica_states(
        first.source_stage_arn, first.participant_id, deadline, live_session_id=live_session_id
    )
    pending = []
    for spec in specs:
        if states.get(spec.key.destination_stage_arn) == ACTIVE:
            report.already_active.append(spec.key.physical_id())
        else:
            pending.append(spec)
    away = threading.Event()  # set once a Start finds the publisher away

    def reconcile(spec: ReplicationSpec) -> _Outcome | Exception:
        if away.is_set():
            return _Outcome.NOT_PUBLISHING
        try:
            outcome = _reconcile_declaration(spec, ivs, registry, deadline, settle)
        except _RECONCILE_ERRORS as error:
            return error
        if outcome is _Outcome.NOT_PUBLISHING:
            # Away for its other destinations too; its next "Participant Published" event
            # (or a sweep) comes back here.
            away.set()
        return outcome

    workers = min(len(pending), _concurrent_starts(ivs))
    if workers <= 1:
        results = [reconcile(spec) for spec in pending]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(reconcile, pending))
    for spec, result in zip(pending, results, strict=True):
        _record(report, spec, result)


def _record(report: Report, spec: ReplicationSpec, result: _Outcome | Exception) -> None:
    physical_id = spec.key.physical_id()
    if isinstance(result, Exception):
        report.failed.setdefault(physical_id, str(result))
        return
    {
        _Outcome.STARTED: report.started,
        _Outcome.ALREADY_ACTIVE: report.already_active,
        _Outcome.WITHDRAWN: report.withdrawn,
        _Outcome.NOT_PUBLISHING: report.not_publishing,
    }[result].append(physical_id)


def _concurrent_starts(ivs: IvsRealtime) -> int:
    """Enough Starts in flight to keep the pace at up to a second of latency each, at the
    rate of `ivs`'s settings (its pacer's, when it has one)."""
    pacer = ivs.pacer
    rate = pacer.calls_per_second if pacer is not None else ivs.settings.calls_per_second
    return max(1, min(MAX_CONCURRENT_STARTS, round(rate)))


class _Outcome(Enum):
    STARTED = "started"
    ALREADY_ACTIVE = "already-active"
    NOT_PUBLISHING = "not-publishing"
    WITHDRAWN = "withdrawn"


def _reconcile_declaration(
    spec: ReplicationSpec,
    ivs: IvsRealtime,
    registry: Registry,
    deadline: Deadline,
    settle: Settle,
) -> _Outcome:
    """Start `spec`, then make sure what runs is what the registry declares now.

    Raises UnverifiedStartError, DeclarationChangingError, or what Start raises (nothing was
    started then, or, for a Start an attempt of which went unanswered, what it may have
    started was checked against the registry first and stopped unless declared).
    """
    # Kept back from the Start: the registry read and the Stop that may have to follow it.
    undo_time = ivs.attempt_budget_seconds + registry.attempt_budget_seconds
    current = spec
    for _ in range(START_ATTEMPTS):
        try:
            result = _start(current, ivs, deadline.reserve(undo_time), settle)
        except DeadlineExceededError as error:
            if error.may_have_acted:  # an attempt may have been carried out and started it
                _undo_unless_declared(current, ivs, registry, deadline)
            raise
        except (ServiceError, RefusalUnresolvedError) as error:
            if may_have_started(error):  # refused after an attempt whose answer was lost
                _undo_unless_declared(current, ivs, registry, deadline)
            raise
        if result is StartResult.NOT_PUBLISHING:
            return _Outcome.NOT_PUBLISHING
        # Adopted is checked too: it may be this run's own Start whose first answer was lost.
        declared = _declaration_now(current, ivs, registry, deadline)
        if declared is None:
            _stop_withdrawn(current.key, ivs, deadline)
            return _Outcome.WITHDRAWN
        if result is StartResult.ADOPTED:
            return _Outcome.ALREADY_ACTIVE  # declared; its settings are the adopter's business
        if declared.settings_equal(current):
            return _Outcome.STARTED
        logger.warning(
            "Declaration changed during the start; restarting with the declared settings",
            extra={"physical_id": current.key.physical_id()},
        )
        stop_replication(ivs, current.key, deadline)
        current = declared
    raise DeclarationChangingError(
        f"the declaration of {spec.key.physical_id()} changed during each of {START_ATTEMPTS} "
        "starts; it is stopped, the next run starts it"
    )


def _undo_unless_declared(
    spec: ReplicationSpec, ivs: IvsRealtime, registry: Registry, deadline: Deadline
) -> None:
    """After a Start whose answer was lost: stop it unless it is declared (with its settings)."""
    declared = _declaration_now(spec, ivs, registry, deadline)  # raises if it could not stop
    if declared is None or not declared.settings_equal(spec):
        _stop_withdrawn(spec.key, ivs, deadline)


def _start(
    spec: ReplicationSpec, ivs: IvsRealtime, deadline: Deadline, settle: Settle
) -> StartResult:
    result = start_replication(ivs, spec, deadline, settle=settle)
    if result is StartResult.STARTED:
        logger.info("Replication started", extra={"physical_id": spec.key.physical_id()})
    return result


def _declaration_now(
    spec: ReplicationSpec, ivs: IvsRealtime, registry: Registry, deadline: Deadline
) -> ReplicationSpec | None:
    """The declaration of `spec`'s key now (a consistent read after the Start). When it cannot
    be read, the replication just started might be one nobody declares: stop it, and raise
    UnverifiedStartError so the run fails and Lambda's retry starts it if it is declared."""
    try:
        return registry.declaration(spec.key, deadline)
    except (ServiceError, DeadlineExceededError) as error:
        logger.error(
            "Registry check after a start failed; stopping it and failing the run",
            extra={"reason": str(error), "physical_id": spec.key.physical_id()},
        )
        try:
            stop_replication(ivs, spec.key, deadline)
        except (ServiceError, StopUnresolvedError, DeadlineExceededError) as stop_error:
            raise UnverifiedStartError(
                f"the registry check after the start failed ({error}), and so did the stop "
                f"({stop_error})"
            ) from error
        raise UnverifiedStartError(
            f"the registry check after the start failed, so it was stopped: {error}"
        ) from error


def _stop_withdrawn(key: ReplicationKey, ivs: IvsRealtime, deadline: Deadline) -> None:
    """The declaration went away while we started it: undo, so nothing is orphaned."""
    logger.warning(
        "Declaration withdrawn during the start; stopping", extra={"physical_id": key.physical_id()}
    )
    stop_replication(ivs, key, deadline)
