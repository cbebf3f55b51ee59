"""Create, update and delete one replication: the behaviour table in the README's "What deploy
does".

Every path that may have started a replication and then fails stops it again before
reporting, because after a failed Create the provider framework answers with a marker id and
the following Delete never reaches this handler: anything left running would be orphaned.

When the participant is not publishing, the replication's mode decides: FAIL reports it, WAIT
retries Start until the participant publishes or the wait ends, FOLLOW succeeds and leaves the
start to the reconciler. A follow-mode replication is declared in the registry before it is
started and withdrawn before it is stopped, so the reconciler never restarts a deleted one.

Rollback safety, in every mode. CloudFormation cannot tell this handler whether an Update is
a forward change or a rollback, so the rule is about what runs when the request begins: an
Update fails because the publisher is away only if the replication under its physical id was
ACTIVE when the Update began (the Update would lose a running replication). When nothing was
running, the Update applies the new declaration and succeeds with nothing running, which is
what already held; the rollback of a failed Update and every continue-update-rollback retry
take the same path, so none of them can fail (UPDATE_ROLLBACK_FAILED) through publisher
absence. An Update whose old properties do not parse (the rollback of an Update that failed
validation) touches nothing that runs. Delete never depends on the publisher.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NoReturn

from aws_lambda_powertools import Logger

from . import contract as c
from .ivs import IvsRealtime
from .logic import (
    ACTIVE,
    ReplicationKey,
    ReplicationSpec,
    UpdateKind,
    clip,
    failure_message,
    not_publishing_message,
    parse_physical_id,
    plan_update,
    try_parse_properties,
    wait_timed_out_message,
    with_cause,
)
from .registry import Registry, RegistryUnavailableError, describe_item
from .retries import Deadline, DeadlineExceededError, ServiceError, backoff_delay
from .starting import (
    NO_SETTLE,
    SETTLE_SECONDS,
    RefusalUnresolvedError,
    Settle,
    StartResult,
    may_have_started,
    start_replication,
)
from .stopping import StopResult, StopUnresolvedError, stop_replication

logger = Logger(service=c.LOGGER_SERVICE, child=True)

CONFIRM_TIMEOUT_SECONDS = 30.0
# Waiting for a publisher retries Start at this pace (with jitter, so waiters spread out).
WAIT_POLL_BASE_SECONDS = 1.0
WAIT_POLL_CAP_SECONDS = 5.0


# An in-place restart that finds its replication started by someone else (the reconciler,
# with settings it read before this Update) stops and starts it again, this many times.
IN_PLACE_START_ATTEMPTS = 3


class ReplicationFailedError(Exception):
    """A lifecycle step failed; the message is written for CloudFormation's Reason field.

    ``advice`` says what happened and what to do, ``cause`` why; only the cause is ever
    shortened to fit the Reason (see `logic.with_cause`). Default cause: none.
    """

    def __init__(self, advice: str, cause: str = "") -> None:
        super().__init__(with_cause(advice, cause) if cause else clip(advice))
        self.advice = advice
        self.cause = cause

    def prefixed(self, advice: str) -> ReplicationFailedError:
        """The same failure, with `advice` said first (and kept whole)."""
        return ReplicationFailedError(f"{advice} {self.advice}", self.cause)


class PublisherAbsentError(ReplicationFailedError):
    """The participant is not publishing (in fail mode), or did not publish within the wait:
    the one failure that rollback safety may turn into success (see `_start_confirmed`)."""


# "Does the publisher's absence fail this request?" asked only when it is absent.
AbsenceFails = Callable[[], bool]


def _always() -> bool:
    return True


@dataclass(frozen=True)
class Outcome:
    """What the provider framework returns to CloudFormation."""

    physical_id: str
    key: ReplicationKey | None

    def response(self) -> dict[str, object]:
        data = {}
        if self.key is not None:
            data = {
                c.PROP_SOURCE_STAGE_ARN: self.key.source_stage_arn,
                c.PROP_DESTINATION_STAGE_ARN: self.key.destination_stage_arn,
                c.PROP_PARTICIPANT_ID: self.key.participant_id,
            }
        return {"PhysicalResourceId": self.physical_id, "Data": data}


class Lifecycle:
    """Runs one CloudFormation request against IVS within the Lambda's deadline."""

    def __init__(
        self,
        ivs: IvsRealtime,
        deadline: Deadline,
        *,
        registry: Registry | None = None,
        confirm_timeout_seconds: float = CONFIRM_TIMEOUT_SECONDS,
        request_budget_seconds: float = c.REQUEST_BUDGET_SECONDS,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._ivs = ivs
        self._lambda_deadline = deadline
        self._deadline = deadline.within(request_budget_seconds)
        # What this request did, in order: the handler's one line per request carries it.
        self.steps: list[str] = []
        self._wait_until = self._deadline
        self._registry = registry or Registry()
        self._confirm_timeout = confirm_timeout_seconds
        self._request_budget = request_budget_seconds
        # Waits between polls use the same clock as the IVS edge's retries.
        self._sleep = sleep or ivs.sleep

    # --- requests ------------------------------------------------------------------------

    def create(self, spec: ReplicationSpec) -> Outcome:
        self._budget_for(spec)
        return self._create(spec)

    def update(
        self, spec: ReplicationSpec, physical_id: str, old_props: Mapping[str, object]
    ) -> Outcome:
        self._budget_for(spec)
        kind = plan_update(spec, physical_id, old_props)
        self._step("Update planned", extra={"update_kind": kind.value})
        if kind is UpdateKind.NO_CHANGE:
            return Outcome(physical_id, spec.key)
        if kind is UpdateKind.REPLACE:
            # CloudFormation deletes the old physical id once this one is in place. Absence
            # fails the replacement only while the replication it replaces runs.
            deployed = parse_physical_id(physical_id)
            return self._create(
                spec,
                absence_fails=lambda: deployed is not None and self._state(deployed) == ACTIVE,
            )
        # Read before this request declares anything: what a failed restart puts back.
        declared_before = self._declared_before(spec) if kind is UpdateKind.IN_PLACE else None
        self._sync_declaration(spec)
        if kind is UpdateKind.IN_PLACE:
            self._restart_in_place(spec, old_props, declared_before)
        elif self._state(spec.key) != ACTIVE:  # ENSURE_RUNNING or MODE_ONLY
            # Nothing runs under the id: starting it is welcome, its absence no failure.
            self._start_confirmed(spec, absence_fails=lambda: False)
        return Outcome(physical_id, spec.key)

    def delete(self, physical_id: str) -> Outcome:
        key = parse_physical_id(physical_id)
        if key is None:
            # A failed create's marker, or an id some other version wrote: nothing of ours runs.
            self._step("Physical id is not a replication id; nothing to stop")
            return Outcome(physical_id, None)
        # Withdrawn first: once the Stop is done, no reconciler run can start it again.
        self._withdraw(key)
        self._stop(key, reason="Delete")
        return Outcome(physical_id, key)

    def _budget_for(self, spec: ReplicationSpec) -> None:
        """This request's time: the standard budget, plus the wait for the publisher."""
        wait = spec.wait_seconds if spec.when_not_publishing == c.MODE_WAIT else 0
        self._deadline = self._lambda_deadline.within(self._request_budget + wait)
        self._wait_until = self._lambda_deadline.within(wait, margin_seconds=0.0)

    def _create(self, spec: ReplicationSpec, absence_fails: AbsenceFails = _always) -> Outcome:
        if spec.follows:
            self._declare_new(spec)
        try:
            self._start_confirmed(spec, absence_fails=absence_fails)
        except ReplicationFailedError as error:
            # After a failed Create no Delete comes (see the module docstring).
            if not spec.follows:
                raise
            if not self._withdrawn_after_failure(spec.key):
                raise error.prefixed(_stale_declaration_advice(spec.key)) from error
            leftover = self._stop_what_a_reconciler_started(spec.key)
            if leftover:
                raise error.prefixed(leftover) from error
            raise
        return Outcome(spec.key.physical_id(), spec.key)

    def _stop_what_a_reconciler_started(self, key: ReplicationKey) -> str:
        """After a failed follow-mode Create has withdrawn its declaration: a reconciler run
        may have started the replication while it was declared (after this request's Start,
        or its undo's Stop) and kept it. Stop it, as Delete does, after the withdrawal: a run
        that starts it from now on re-reads the registry and stops it itself. Return what to
        tell the user when that Stop failed (empty otherwise)."""
        if not self._still_active(key):
            return ""
        try:
            self._stop(key, reason="failed Create")
        except ReplicationFailedError:
            return _manual_stop_advice(key)
        return ""

    # --- steps ---------------------------------------------------------------------------

    def _step(self, message: str, *, extra: Mapping[str, object] | None = None) -> None:
        """Record one step of this request for the handler's summary line (one INFO line per
        request: each line costs about as much as the handler's own work), and log it at
        DEBUG for whoever wants every step as it happens."""
        details = ", ".join(f"{key}={value}" for key, value in (extra or {}).items())
        self.steps.append(f"{message} ({details})" if details else message)
        logger.debug(message, extra=extra)

    def _start_confirmed(
        self, spec: ReplicationSpec, *, absence_fails: AbsenceFails = _always
    ) -> StartResult:
        """Start and confirm ACTIVE; when the participant is not publishing, the mode decides,
        and `absence_fails` whether that is a failure at all (see the module docstring)."""
        result = self._try_start(spec)
        if result is StartResult.NOT_PUBLISHING:
            if spec.when_not_publishing == c.MODE_FOLLOW:
                self._step(
                    "Participant not publishing; the reconciler starts the replication "
                    "when it publishes"
                )
                return result
            try:
                if spec.when_not_publishing != c.MODE_WAIT:
                    raise PublisherAbsentError(not_publishing_message(spec.key))
                result = self._wait_for_publisher(spec)
            except PublisherAbsentError:  # a refusal or a failed read is never swallowed
                if absence_fails():
                    raise
                logger.warning(
                    "Participant not publishing, and the replication was not running when "
                    "this request began: the request succeeds with it not running"
                )
                return StartResult.NOT_PUBLISHING
        if result is StartResult.STARTED:
            self._confirm_active(spec.key)
        return result

    def _try_start(self, spec: ReplicationSpec) -> StartResult:
        key = spec.key
        try:
            result = start_replication(
                self._ivs, spec, self._keep_time_to_undo(), settle=_settle_for(spec)
            )
        except ServiceError as error:
            # Only refusals arrive here: `IvsRealtime` retries transient errors until the
            # deadline and then raises DeadlineExceededError.
            outcome = self._stop_if_started_unanswered(key, error)
            raise ReplicationFailedError(
                failure_message(error.operation, key, error.code, error.message, outcome=outcome)
            ) from error
        except RefusalUnresolvedError as error:
            if may_have_started(error):
                self._undo_start(key, str(error), start_outcome_known=False)
            raise ReplicationFailedError(f"Did not start {key.describe()}.", str(error)) from error
        except DeadlineExceededError as error:
            if not error.may_have_acted:  # never sent, or only throttled: nothing started
                raise ReplicationFailedError(
                    f"Did not start {key.describe()}. Nothing was changed. Deploy again.",
                    str(error),
                ) from error
            # An attempt may have been carried out: make sure it did not leave a replication.
            self._undo_start(key, str(error), start_outcome_known=False)
        if result is StartResult.ADOPTED:
            logger.warning(
                "Replication already ACTIVE; adopting it (its attributes and reconnect window "
                "are left as they are)"
            )
        return result

    def _wait_for_publisher(self, spec: ReplicationSpec) -> StartResult:
        """Retry Start until the participant publishes; fail once the wait is over."""
        attempt = 0
        while True:
            delay = WAIT_POLL_BASE_SECONDS + backoff_delay(
                attempt, base=WAIT_POLL_BASE_SECONDS, cap=WAIT_POLL_CAP_SECONDS
            )
            if self._wait_until.seconds_left() < delay:
                raise PublisherAbsentError(wait_timed_out_message(spec.key, spec.wait_seconds))
            self._sleep(delay)
            attempt += 1
            result = self._try_start(spec)
            if result is not StartResult.NOT_PUBLISHING:
                self._step("Participant publishes; started", extra={"wait_attempts": attempt})
                return result

    def _confirm_active(self, key: ReplicationKey) -> None:
        """Wait (bounded) until IVS lists the replica as ACTIVE; undo the start otherwise."""
        waited = 0.0
        attempt = 0
        state: str | None = None
        while True:
            state = self._state(key, undo_on_failure=True)
            if state == ACTIVE:
                self._step("Replication ACTIVE")
                return
            delay = backoff_delay(attempt, base=0.5, cap=4.0)
            if waited + delay > self._confirm_timeout:
                break
            self._sleep(delay)
            waited += delay
            attempt += 1
        self._undo_start(
            key,
            f"IVS did not list it as ACTIVE within {self._confirm_timeout:.0f} s "
            f"(last state: {state or 'not listed'})",
        )

    def _restart_in_place(
        self,
        spec: ReplicationSpec,
        old_props: Mapping[str, object],
        declared_before: ReplicationSpec | None,
    ) -> None:
        """New attributes or window for the same replication: IVS has no update, so Stop+Start.

        A replication that is not ACTIVE is only started (there is nothing to stop, and the
        publisher's absence is no failure: nothing was running). If the new Start of a
        running one fails, the previous settings are started again so the replication is not
        lost; CloudFormation's rollback then re-applies them too (idempotently). "Previous" is
        what the registry declared when this request began, when it declared anything: a
        duplicate delivery of an Update that already succeeded finds the new settings there,
        and CloudFormation keeps the first delivery's answer, so putting the event's old
        properties back would leave settings running that nothing declares.
        """
        was_running = self._state(spec.key) == ACTIVE
        try:
            self._start_afresh(spec, was_running=was_running)
        except ReplicationFailedError as error:
            previous = (
                declared_before if declared_before is not None else try_parse_properties(old_props)
            )
            if not was_running or previous is None or previous.key != spec.key:
                raise
            raise ReplicationFailedError(
                f"{error.advice} {self._restore(previous)}", error.cause
            ) from error

    def _start_afresh(self, spec: ReplicationSpec, *, was_running: bool) -> None:
        """Stop (if running) and start with `spec`'s settings. A Start that finds the
        replication ACTIVE again right after our Stop met another starter (a reconciler run
        holding the settings from before this Update): stop and start again, so the declared
        settings are the ones that run."""
        if was_running:
            self._stop(spec.key, reason="Update")
        for _ in range(IN_PLACE_START_ATTEMPTS):
            result = self._start_confirmed(spec, absence_fails=lambda: was_running)
            if result is not StartResult.ADOPTED:
                return
            logger.warning("Replication started by someone else during the restart; again")
            self._stop(spec.key, reason="Update")
        raise ReplicationFailedError(
            f"{spec.key.describe()} kept being started by another caller with unknown "
            "settings while this Update restarted it; it is stopped. Retry the deployment."
        )

    def _declared_before(self, spec: ReplicationSpec) -> ReplicationSpec | None:
        """What the registry declares for `spec`'s key (follow mode only; None when nothing is
        declared or the table cannot be read: then the event's old properties are the guess)."""
        if not spec.follows:
            return None
        try:
            return self._registry.declaration(spec.key, self._keep_time_to_undo())
        except (ServiceError, DeadlineExceededError, RegistryUnavailableError) as error:
            logger.warning(
                "Reading the declaration before the Update failed", extra={"reason": str(error)}
            )
            return None

    def _restore(self, previous: ReplicationSpec) -> str:
        try:
            self._sync_declaration(previous)
            self._start_confirmed(previous)
        except ReplicationFailedError as error:
            logger.error("Restoring the previous settings failed", extra={"reason": str(error)})
            return "Restoring the previous settings failed too: the replication is stopped."
        return "The replication runs again with its previous settings."

    def _sync_declaration(self, spec: ReplicationSpec) -> None:
        """Declared for the reconciler exactly when the mode is FOLLOW."""
        if spec.follows:
            self._declare(spec)
        else:
            self._withdraw(spec.key)

    def _declare(self, spec: ReplicationSpec) -> None:
        try:
            self._registry.put(spec, self._deadline)
        except (ServiceError, DeadlineExceededError, RegistryUnavailableError) as error:
            raise ReplicationFailedError(
                f"Could not declare {spec.key.describe()} for follow mode in the registry "
                "table; nothing was started. Deploy again.",
                str(error),
            ) from error

    def _declare_new(self, spec: ReplicationSpec) -> None:
        """Declare for a Create. A write that failed may still have been applied (its answer
        lost): it is withdrawn again, in time kept back for that, because after a failed
        Create no Delete comes and a leftover item would let the sweep start it."""
        try:
            self._registry.put(spec, self._deadline.reserve(self._registry.attempt_budget_seconds))
        except RegistryUnavailableError as error:
            raise ReplicationFailedError(
                f"Could not declare {spec.key.describe()} for follow mode; nothing was started.",
                str(error),
            ) from error
        except (ServiceError, DeadlineExceededError) as error:
            if not self._withdrawn_after_failure(spec.key):
                raise ReplicationFailedError(
                    f"Could not declare {spec.key.describe()} for follow mode; nothing was "
                    f"started. {_stale_declaration_advice(spec.key)}",
                    str(error),
                ) from error
            raise ReplicationFailedError(
                f"Could not declare {spec.key.describe()} for follow mode in the registry "
                "table; nothing was started or left declared. Deploy again.",
                str(error),
            ) from error

    def _withdraw(self, key: ReplicationKey) -> None:
        try:
            self._registry.remove(key, self._deadline)
        except (ServiceError, DeadlineExceededError) as error:
            raise ReplicationFailedError(
                f"Could not withdraw {key.describe()} from the follow-mode registry, so it "
                "was not stopped (the reconciler could restart it). Retry.",
                str(error),
            ) from error

    def _withdrawn_after_failure(self, key: ReplicationKey) -> bool:
        try:
            self._withdraw(key)
        except ReplicationFailedError as error:
            logger.error("Withdrawing after a failed request failed", extra={"reason": str(error)})
            return False
        return True

    def _stop(self, key: ReplicationKey, *, reason: str) -> None:
        """Stop; a replication that is refused and observed not ACTIVE counts as stopped."""
        try:
            result = stop_replication(self._ivs, key, self._deadline)
        except ServiceError as error:
            raise ReplicationFailedError(
                failure_message(error.operation, key, error.code, error.message)
            ) from error
        except StopUnresolvedError as error:
            raise ReplicationFailedError(
                f"Stopping {key.describe()} was refused, and its state could not be read: it "
                "may still run. Retry the operation.",
                str(error),
            ) from error
        except DeadlineExceededError as error:
            raise ReplicationFailedError(
                f"Stopping {key.describe()} ran out of time. Retry the operation.", str(error)
            ) from error
        if result is StopResult.NOT_RUNNING:
            self._step("Replication not running; nothing to stop", extra={"reason": reason})
        else:
            self._step("Replication stopped", extra={"reason": reason})

    def _state(self, key: ReplicationKey, *, undo_on_failure: bool = False) -> str | None:
        try:
            return self._ivs.replica_state(key, self._keep_time_to_undo())
        except (ServiceError, DeadlineExceededError) as error:
            if undo_on_failure:
                self._undo_start(key, f"listing replicas failed: {error}")
            if isinstance(error, ServiceError):
                raise ReplicationFailedError(
                    failure_message(error.operation, key, error.code, error.message)
                ) from error
            raise ReplicationFailedError(
                f"Could not read the state of {key.describe()}. Retry.", str(error)
            ) from error

    def _still_active(self, key: ReplicationKey) -> bool:
        """ACTIVE, or unknown because the state cannot be read (assume the worst)."""
        try:
            return self._ivs.replica_state(key, self._deadline) == ACTIVE
        except (ServiceError, DeadlineExceededError):
            return True

    def _keep_time_to_undo(self) -> Deadline:
        """Steps that may need undoing stop early enough to leave time for the undo."""
        return self._deadline.reserve(self._ivs.attempt_budget_seconds)

    def _undo_start(
        self, key: ReplicationKey, why: str, *, start_outcome_known: bool = True
    ) -> NoReturn:
        """Stop a replication this request may have started, then fail with `why`."""
        outcome = self._stop_again(key, start_outcome_known=start_outcome_known)
        # Only the cause may be shortened: the outcome may hold the manual stop command.
        raise ReplicationFailedError(
            f"Starting {key.describe()} did not complete. {outcome} Deploy again.", why
        )

    def _stop_if_started_unanswered(self, key: ReplicationKey, refusal: ServiceError) -> str:
        """After a refused Start: if an earlier attempt of it went unanswered, that attempt may
        have started the replication, which nothing would stop after a failed Create: stop it,
        and say so (empty when no attempt went unanswered)."""
        if not may_have_started(refusal):
            return ""
        outcome = self._stop_again(key, start_outcome_known=False)
        return f"An earlier attempt went unanswered and may have started it. {outcome}"

    def _stop_again(self, key: ReplicationKey, *, start_outcome_known: bool) -> str:
        """Stop a replication this request may have started; say what became of it.

        After a Start that timed out, IVS may still carry it out after our Stop found nothing,
        so "nothing is running" is only claimed when the Start's answer was received.
        """
        try:
            result = stop_replication(self._ivs, key, self._deadline)
        except (ServiceError, StopUnresolvedError, DeadlineExceededError):
            return _manual_stop_advice(key)
        if result is StopResult.STOPPED:
            return "It was stopped again so nothing is left running."
        if start_outcome_known:
            return "Nothing was left running."
        return _manual_stop_advice(key)


def _settle_for(spec: ReplicationSpec) -> Settle:
    """Fail mode would report a publisher that IVS has not caught up with yet as away, and
    follow mode would leave it to an event that may have come before the declaration: retry
    a "not publishing" contradicted by the observed state first. Wait mode polls anyway."""
    return NO_SETTLE if spec.when_not_publishing == c.MODE_WAIT else Settle(SETTLE_SECONDS)


def _stale_declaration_advice(key: ReplicationKey) -> str:
    # Said first, so clipping can only shorten the cause: a stale item lets the reconciler
    # start a replication no resource owns.
    # The replication is named by the message this one precedes: not again, to leave room.
    return (
        "The replication also stays declared in the follow-mode registry table: delete its "
        f"item ({describe_item(key)}) before deploying again."
    )


def _manual_stop_advice(key: ReplicationKey) -> str:
    return (
        "It may be running, or start late from an unanswered request: if "
        "list-participant-replicas shows it ACTIVE, stop it with "
        "`aws ivs-realtime stop-participant-replication "
        f"--source-stage-arn {key.source_stage_arn} --destination-stage-arn "
        f"{key.destination_stage_arn} --participant-id {key.participant_id}`."
    )
