"""Lambda entry point of follow mode: start declared replications whose publisher is live.

Two triggers, one job:
- an EventBridge "IVS Stage Update" event, "Participant Published": reconcile that
  publisher's declarations, and its replications into every mirror destination of its stage
  (the stack's one rule matches the declared publishers while their stages and ids fit its
  pattern, else only their stages, else any stage of the account; every event is checked
  against the registry);
- the sweep's constant input ``{"IvsReplicationSweep": true}``: reconcile every declaration,
  and every mirror's current publishers, because EventBridge delivery is best effort.

Mirrors. A mirror destination (`spec.MirrorSpec`) stands for one replication per publisher of
its source stage: a participant connected and published there (GetParticipant for an event's,
ListParticipants for a sweep's), whose user id it takes, and who is not itself a replica (so two
stages mirroring each other never replicate a replica back, and a replica's own events start
nothing). A destination an explicit declaration names for that publisher, in any mode, is the
declaration's. A destination that already holds its 12 publishers refuses more
(ServiceQuotaExceededException): recorded (`over_quota`), not retried, and not a failure: the
run would otherwise be retried into the same refusal; the next event or sweep tries again.

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
from .errors import CallError, ReconcileError
from .ivs import IvsRealtime, Participant, paced
from .metrics import ReplicationMetrics
from .registry import Declaration, Registry, publisher_key
from .replicas import (
    SETTLE_SECONDS,
    AlreadyActive,
    NotPublishing,
    Refused,
    Replicas,
    Settle,
    Started,
    StopFailed,
    StopOutcome,
    Unresolved,
)
from .retries import Deadline
from .settings import FunctionSettings
from .spec import ACTIVE, MirrorSpec, ReplicationKey, ReplicationSpec

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service=c.LOGGER_SERVICE)

# What the stack tells the function, read once per execution environment; the deployed
# reconciler paces its IVS calls at the stack's rate (one pacer for the warm environment's
# life). `handle_event` callers bring their own IvsRealtime, paced or not (`ivs.paced`).
_settings = FunctionSettings.from_environment()
_ivs = paced(IvsRealtime(settings=_settings.ivs))
_registry = Registry(_settings.registry_table)
_metrics = ReplicationMetrics.of(_settings)

# A sweep has no event saying the publisher is live: it settles only when it sees it.
_SWEEP_SETTLE = Settle(SETTLE_SECONDS)


# A declaration whose settings keep changing while we start it is left to the next run.
START_ATTEMPTS = 3
MAX_CONCURRENT_STARTS = 10
# IVS's refusal of one publisher more in a stage that holds its 12.
OVER_QUOTA_CODE = "ServiceQuotaExceededException"


@dataclass
class Report:
    """What one run did, by physical id; returned and logged."""

    trigger: str
    declarations: int = 0
    started: list[str] = field(default_factory=list)
    already_active: list[str] = field(default_factory=list)
    not_publishing: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    over_quota: list[str] = field(default_factory=list)
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
            "over_quota": self.over_quota,
            "failed": self.failed,
            "ignored": self.ignored,
        }


@logger.inject_lambda_context(clear_state=True, log_event=False)
def on_event(event: Mapping[str, Any], context: LambdaContext) -> dict[str, object]:
    return handle_event(event, context, _ivs, _registry, metrics=_metrics)


def handle_event(
    event: Mapping[str, Any],
    context: LambdaContext,
    ivs: IvsRealtime,
    registry: Registry,
    *,
    metrics: ReplicationMetrics | None = None,
) -> dict[str, object]:
    """Reconcile what `event` asks for; raise ReconcileError if anything failed.

    ``metrics`` Default: EMF on stdout under the default namespace and service (see
    ``metrics``), one document per run with a report.
    """
    deadline = Deadline(context.get_remaining_time_in_millis)
    # This run's keys only (a process running many, like a local deployment, shares them).
    logger.remove_keys(list(c.LOG_KEYS))
    report = reconcile(event, ivs, registry, deadline)
    logger.info("Reconciled", extra={"report": report.as_dict()})
    (metrics or ReplicationMetrics()).record_reconcile(report)
    if report.failed:
        raise ReconcileError(
            f"{len(report.failed)} of {report.declarations} declarations failed: "
            + "; ".join(f"{pid}: {why}" for pid, why in sorted(report.failed.items()))[:2000]
        )
    return report.as_dict()


def reconcile(
    event: Mapping[str, Any], ivs: IvsRealtime, registry: Registry, deadline: Deadline
) -> Report:
    """One run: a sweep goes through every declaration, a "Participant Published" event through
    its publisher's; anything else is ignored. Raises CallError when the registry cannot be
    read (the run fails, so Lambda retries it)."""
    if event.get(c.SWEEP_INPUT_KEY) is True:
        run = Reconciler(ivs, registry, deadline, Report(trigger=c.TRIGGER_SWEEP), _SWEEP_SETTLE)
        run.reconcile(run.sweep_targets(registry.all_declarations(deadline)))
        return run.report
    publisher = published_publisher(event)
    if publisher is None:
        return Report(trigger=c.TRIGGER_EVENT, ignored="not a Participant Published event of IVS")
    source_stage_arn, participant_id = publisher
    logger.append_keys(source_stage_arn=source_stage_arn, participant_id=participant_id)
    session_id = _session_id_of(event)
    run = Reconciler(
        ivs,
        registry,
        deadline,
        Report(trigger=c.TRIGGER_EVENT),
        # Right after "Participant Published", IVS may not replicate the publisher yet
        # (undocumented): a refusal is retried for a while, if the publisher is observed live
        # in the event's session (the event may be hours late).
        Settle(SETTLE_SECONDS, publisher_live=True, session_id=session_id),
        # A replica of the event's session is what counts; older sessions' records are history.
        live_session_id=session_id,
    )
    declarations: list[ReplicationSpec] = registry.declarations_of(
        source_stage_arn, participant_id, deadline
    )
    mirrors = registry.mirrors_of(source_stage_arn, deadline)
    if mirrors:
        declarations += run.mirrored_targets(participant_id, mirrors, session_id)
    if not declarations and not run.report.failed:
        run.report.ignored = run.report.ignored or "no replication of this participant is declared"
    run.reconcile(declarations)
    return run.report


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


class _Result(Enum):
    """How one declaration's reconciling ended, short of a failure."""

    STARTED = "started"
    ALREADY_ACTIVE = "already-active"
    NOT_PUBLISHING = "not-publishing"
    WITHDRAWN = "withdrawn"
    OVER_QUOTA = "over-quota"


@dataclass(frozen=True)
class _Failed:
    """The declaration could not be reconciled (`cause` says why); the run fails."""

    cause: str


@dataclass(frozen=True)
class _Unreadable:
    """The registry could not be read (`cause` says why)."""

    cause: str


@dataclass
class Reconciler:
    """One run's context: the IVS edge, the registry, the run's deadline and report, how long
    a contradicted "not publishing" is retried (`settle`), and the live session of the
    publisher the event names (None for a sweep: any ACTIVE record counts)."""

    ivs: IvsRealtime
    registry: Registry
    deadline: Deadline
    report: Report
    settle: Settle
    live_session_id: str | None = None
    replicas: Replicas = field(init=False)
    # The replications this run makes for a mirror, with their publisher's user id: what the
    # registry declares for them is read through the mirror (`Registry.in_force_for`).
    mirrored: dict[ReplicationKey, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.replicas = Replicas(self.ivs)

    # --- what to reconcile -----------------------------------------------------------------

    def mirrored_targets(
        self, participant_id: str, mirrors: list[MirrorSpec], session_id: str | None
    ) -> list[ReplicationSpec]:
        """An event's publisher's replications into the mirror destinations of its stage that
        take it (see the module docstring); none when it is a replica, or not live in the
        event's session (counted as not publishing)."""
        source = mirrors[0].key.source_stage_arn
        try:
            publisher = self.ivs.live_participant(
                source, participant_id, self.deadline, session_id=session_id
            )
        except CallError as error:
            self._fail_mirrors(mirrors, f"reading who publishes failed: {error}")
            return []
        if publisher is None:
            for mirror in mirrors:
                self.report.not_publishing.append(
                    mirror.key.replication(participant_id).physical_id()
                )
            self.report.declarations += len(mirrors)
            return []
        if publisher.is_replica:
            logger.info(
                "A replica's event; mirrors never replicate a replica",
                extra={"replicated_from": publisher.replica_of},
            )
            self.report.ignored = f"the participant is a replica (of {publisher.replica_of})"
            return []
        return self._publisher_targets(publisher, source, mirrors)

    def sweep_targets(self, declarations: Iterable[Declaration]) -> list[ReplicationSpec]:
        """Every follow-mode declaration, and the replications each mirror stands for now:
        the current publishers of its source stage (listed once per stage)."""
        targets: list[ReplicationSpec] = []
        mirrors_by_source: dict[str, list[MirrorSpec]] = {}
        for declared in declarations:
            if isinstance(declared, MirrorSpec):
                mirrors_by_source.setdefault(declared.key.source_stage_arn, []).append(declared)
            else:
                targets.append(declared)
        for source, mirrors in mirrors_by_source.items():
            try:
                publishers = self.ivs.publishers(source, self.deadline)
            except CallError as error:
                self._fail_mirrors(mirrors, f"listing who publishes failed: {error}")
                continue
            for publisher in publishers:
                if not publisher.is_replica:
                    targets += self._publisher_targets(publisher, source, mirrors)
        return targets

    def _publisher_targets(
        self, publisher: Participant, source: str, mirrors: list[MirrorSpec]
    ) -> list[ReplicationSpec]:
        """The replications of one live publisher that the mirrors take, but for destinations
        an explicit declaration names (it holds them, in its own mode)."""
        taking = [mirror for mirror in mirrors if mirror.admits(publisher.user_id)]
        if not taking:
            return []
        try:
            explicit = self.registry.declared_destinations(
                source, publisher.participant_id, self.deadline
            )
        except CallError as error:
            self._fail_mirrors(taking, f"reading the registry failed: {error}")
            return []
        targets = []
        for mirror in taking:
            if mirror.key.destination_stage_arn in explicit:
                continue
            spec = mirror.replication(publisher.participant_id)
            self.mirrored[spec.key] = publisher.user_id
            targets.append(spec)
        return targets

    def _fail_mirrors(self, mirrors: list[MirrorSpec], cause: str) -> None:
        """Nothing could be started for these mirror destinations: the run fails, so Lambda
        retries it."""
        for mirror in mirrors:
            self.report.failed.setdefault(mirror.key.physical_id(), cause)
        self.report.declarations += len(mirrors)

    # --- reconciling -----------------------------------------------------------------------

    def reconcile(self, declarations: Iterable[ReplicationSpec]) -> None:
        """One List per publisher, then a Start for each declared destination not ACTIVE."""
        by_publisher: dict[str, list[ReplicationSpec]] = {}
        for spec in declarations:
            key = spec.key
            publisher = publisher_key(key.source_stage_arn, key.participant_id)
            by_publisher.setdefault(publisher, []).append(spec)
            self.report.declarations += 1
        for specs in by_publisher.values():
            try:
                self._reconcile_publisher(specs)
            except CallError as error:  # the List: nothing was started for this publisher
                for spec in specs:
                    self.report.failed.setdefault(spec.key.physical_id(), str(error))

    def _reconcile_publisher(self, specs: list[ReplicationSpec]) -> None:
        """One List, then the declarations not ACTIVE, started concurrently (the pacer keeps
        the Starts at the configured rate): a fan-out into 100 stages takes 100 Starts' worth
        of the rate, not 100 round trips one after the other."""
        first = specs[0].key
        states = self.ivs.replica_states(
            first.source_stage_arn,
            first.participant_id,
            self.deadline,
            live_session_id=self.live_session_id,
        )
        pending = []
        for spec in specs:
            if states.get(spec.key.destination_stage_arn) == ACTIVE:
                self.report.already_active.append(spec.key.physical_id())
            else:
                pending.append(spec)
        away = threading.Event()  # set once a Start finds the publisher away

        def reconcile(spec: ReplicationSpec) -> _Result | _Failed:
            if away.is_set():
                return _Result.NOT_PUBLISHING
            result = self._reconcile_declaration(spec)
            if result is _Result.NOT_PUBLISHING:
                # Away for its other destinations too; its next "Participant Published" event
                # (or a sweep) comes back here.
                away.set()
            return result

        workers = min(len(pending), self._concurrent_starts())
        if workers <= 1:
            results = [reconcile(spec) for spec in pending]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(reconcile, pending))
        for spec, result in zip(pending, results, strict=True):
            self._record(spec, result)

    def _record(self, spec: ReplicationSpec, result: _Result | _Failed) -> None:
        physical_id = spec.key.physical_id()
        report = self.report
        match result:
            case _Failed(cause=cause):
                report.failed.setdefault(physical_id, cause)
            case _Result.STARTED:
                report.started.append(physical_id)
            case _Result.ALREADY_ACTIVE:
                report.already_active.append(physical_id)
            case _Result.WITHDRAWN:
                report.withdrawn.append(physical_id)
            case _Result.OVER_QUOTA:
                report.over_quota.append(physical_id)
            case _Result.NOT_PUBLISHING:
                report.not_publishing.append(physical_id)

    def _concurrent_starts(self) -> int:
        """Enough Starts in flight to keep the pace at up to a second of latency each, at the
        rate of the IVS edge's settings (its pacer's, when it has one)."""
        pacer = self.ivs.pacer
        rate = pacer.calls_per_second if pacer is not None else self.ivs.settings.calls_per_second
        return max(1, min(MAX_CONCURRENT_STARTS, round(rate)))

    def _reconcile_declaration(self, spec: ReplicationSpec) -> _Result | _Failed:
        """Start `spec`, then make sure what runs is what the registry declares now: a
        withdrawn declaration is stopped again, a changed one restarted with the declared
        settings. A failed Start that may have acted is undone unless still declared."""
        # Kept back from the Start: the registry read and the Stop that may have to follow it.
        undo_time = self.ivs.attempt_budget_seconds + self.registry.attempt_budget_seconds
        current = spec
        for _ in range(START_ATTEMPTS):
            outcome = self.replicas.start(
                current, self.deadline.reserve(undo_time), settle=self.settle
            )
            match outcome:
                case NotPublishing():
                    return _Result.NOT_PUBLISHING
                case Refused(error=error) if (
                    error.code == OVER_QUOTA_CODE and not outcome.unanswered
                ):
                    logger.warning(
                        "The destination stage holds as many publishers as IVS allows; not "
                        "started (the next event or sweep tries again)",
                        extra={"physical_id": current.key.physical_id(), "reason": str(error)},
                    )
                    return _Result.OVER_QUOTA
                case Refused() | Unresolved():
                    return self._failed_start(current, outcome)
                case Started():
                    logger.info(
                        "Replication started", extra={"physical_id": current.key.physical_id()}
                    )
            checked = self._hold_to_declaration(current, outcome)
            if not isinstance(checked, ReplicationSpec):
                return checked
            current = checked
        return _Failed(
            f"the declaration of {spec.key.physical_id()} changed during each of "
            f"{START_ATTEMPTS} starts; it is stopped, the next run starts it"
        )

    def _hold_to_declaration(
        self, started: ReplicationSpec, outcome: Started | AlreadyActive
    ) -> _Result | _Failed | ReplicationSpec:
        """After a Start (or one that found it ACTIVE: it may be this run's own Start whose
        first answer was lost), read the declaration again: withdrawn, stop it; declared with
        other settings (an in-place Update wrote new ones after this run's first read), stop it
        and return the declaration to start instead, so the declared settings are the last to
        be started."""
        key = started.key
        declared = self._declaration_now(key)
        if isinstance(declared, _Unreadable):
            return self._unverified(key, declared)
        if declared is None:
            logger.warning(
                "Declaration withdrawn during the start; stopping",
                extra={"physical_id": key.physical_id()},
            )
            return _stopped_or_failed(self.replicas.stop_and_await(key, self.deadline))
        if isinstance(outcome, AlreadyActive):
            return _Result.ALREADY_ACTIVE  # declared; its settings are the adopter's business
        if declared.settings_equal(started):
            return _Result.STARTED
        logger.warning(
            "Declaration changed during the start; restarting with the declared settings",
            extra={"physical_id": key.physical_id()},
        )
        stop = self.replicas.stop(key, self.deadline)
        if isinstance(stop, StopFailed):
            return _Failed(stop.cause)
        # A Start before the Stop shows would find the replication this run just stopped.
        self.replicas.await_stopped(key, self.deadline)
        return declared

    def _failed_start(self, spec: ReplicationSpec, failure: Refused | Unresolved) -> _Failed:
        """A failed Start: undone (`Replicas.undo`) unless the registry still declares it with
        the settings it started with."""
        unreadable: list[_Unreadable] = []

        def still_declared() -> bool:
            declared = self._declaration_now(spec.key)
            if isinstance(declared, _Unreadable):
                unreadable.append(declared)
                return False
            return declared is not None and declared.settings_equal(spec)

        undone = self.replicas.undo(spec.key, failure, self.deadline, wanted=still_declared)
        if undone.stop is not None:
            logger.warning(
                "A failed start may have started it, and it is not declared so; stopped it",
                extra={"physical_id": spec.key.physical_id()},
            )
        if unreadable:
            return _unverified_failure(unreadable[0], undone.stop)
        if isinstance(undone.stop, StopFailed):
            return _Failed(undone.stop.cause)
        return _Failed(failure.cause)

    def _declaration_now(self, key: ReplicationKey) -> ReplicationSpec | _Unreadable | None:
        """The declaration of `key` now (a consistent read after the Start), None when it is
        withdrawn."""
        try:
            if key in self.mirrored:
                return self.registry.in_force_for(key, self.mirrored[key], self.deadline)
            return self.registry.declaration(key, self.deadline)
        except CallError as error:
            return _Unreadable(str(error))

    def _unverified(self, key: ReplicationKey, declared: _Unreadable) -> _Failed:
        """After a Start, the registry could not say whether the replication is still declared:
        it might be one nobody declares, so it is stopped, and the declaration fails, so the
        run fails and Lambda's retry starts it again if it is declared."""
        logger.error(
            "Registry check after a start failed; stopping it and failing the run",
            extra={"reason": declared.cause, "physical_id": key.physical_id()},
        )
        return _unverified_failure(declared, self.replicas.stop_and_await(key, self.deadline))


def _unverified_failure(declared: _Unreadable, stop: StopOutcome | None) -> _Failed:
    if isinstance(stop, StopFailed):
        return _Failed(
            f"the registry check after the start failed ({declared.cause}), and so did the "
            f"stop ({stop.cause})"
        )
    return _Failed(
        f"the registry check after the start failed, so it was stopped: {declared.cause}"
    )


def _stopped_or_failed(stop: StopOutcome) -> _Result | _Failed:
    """A withdrawn declaration's replication, stopped again: withdrawn, or failed."""
    if isinstance(stop, StopFailed):
        return _Failed(stop.cause)
    return _Result.WITHDRAWN
