"""CloudFormation's requests (Create, Update, Delete) as a policy over the core (`replicas`):
the behaviour table in the README's "What deploy does".

Every path that may have started a replication and then fails stops it again before
reporting (`replicas.Replicas.undo`), because after a failed Create the provider framework
answers with a marker id and the following Delete never reaches this handler: anything left
running would be orphaned.

When the participant is not publishing, the replication's mode decides: FAIL reports it, WAIT
retries Start until the participant publishes or the wait ends, FOLLOW succeeds and leaves the
start to the reconciler.

Ownership, in every mode. Each request records its resource (the logical id) as an owner of the
replication in the registry before it starts it, and withdraws it before it stops it: a Delete
stops the replication only when no other resource of the stack still declares it (a construct
renamed or moved: CloudFormation creates the new logical id, then deletes the old one; a failed
move's rollback deletes the new one), and a follow-mode replication is never restarted by the
reconciler once its last owner withdrew. A Create that finds it running already, declared by
another resource with other settings, restarts it with its own; a Delete that leaves other
owners puts the latest one's settings back if they differ. A StageMirror of the same stages
counts as one more owner: a Create that finds the replication running with the mirror's
settings restarts it with its own, and a Delete leaves running (with the mirror's settings) a
replication the mirror takes (its publisher live, with a user id the mirror takes). A stack
synthesized before the registry existed in every mode has no table: its requests go without
ownership.

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

from aws_lambda_powertools import Logger

from . import contract as c
from . import messages
from .errors import (
    CallError,
    DeadlineExceededError,
    RegistryUnavailableError,
    ReplicationFailedError,
    ServiceError,
)
from .ivs import IvsRealtime
from .registry import NOBODY, Ownership, Registry, describe_item
from .replicas import (
    NO_SETTLE,
    SETTLE_SECONDS,
    AlreadyActive,
    Confirmed,
    NotPublishing,
    NotRunning,
    Refused,
    Replicas,
    Settle,
    StartAttempt,
    Started,
    StartOutcome,
    StopFailed,
    Stopped,
    Unconfirmed,
    Undone,
    Unresolved,
)
from .retries import Deadline, backoff_delay
from .spec import (
    ACTIVE,
    MirrorKey,
    MirrorSpec,
    ReplicationKey,
    ReplicationSpec,
    UpdateKind,
    parse_physical_id,
    plan_update,
    try_parse_properties,
)

logger = Logger(service=c.LOGGER_SERVICE, child=True)

CONFIRM_TIMEOUT_SECONDS = 30.0
# Waiting for a publisher retries Start at this pace (with jitter, so waiters spread out).
WAIT_POLL_BASE_SECONDS = 1.0
WAIT_POLL_CAP_SECONDS = 5.0

# An in-place restart that finds its replication started by someone else (the reconciler,
# with settings it read before this Update) stops and starts it again, this many times.
IN_PLACE_START_ATTEMPTS = 3

# "Does the publisher's absence fail this request?" asked only when it is absent.
AbsenceFails = Callable[[], bool]


def _always() -> bool:
    return True


def _never() -> bool:
    return False


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
    """Runs one CloudFormation request against IVS within the Lambda's deadline; raises
    ReplicationFailedError (its message is the Reason) when the request fails.

    ``owner``: the request's resource (its logical id), recorded as an owner of what it declares.
    ``registry`` Default: none (a stack synthesized before the registry existed in every mode:
    requests go without ownership, and a follow-mode request fails with
    RegistryUnavailableError's reason).
    """

    def __init__(
        self,
        ivs: IvsRealtime,
        deadline: Deadline,
        *,
        owner: str,
        registry: Registry | None = None,
        confirm_timeout_seconds: float = CONFIRM_TIMEOUT_SECONDS,
        request_budget_seconds: float = c.REQUEST_BUDGET_SECONDS,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._replicas = Replicas(ivs)
        self._lambda_deadline = deadline
        self._deadline = deadline.within(request_budget_seconds)
        # What this request did, in order: the handler's one line per request carries it.
        self.steps: list[str] = []
        self._wait_until = self._deadline
        self._registry = registry or Registry()
        self._owner = owner
        # Whether another resource declares what this Create starts (a renamed construct's).
        self._declared_elsewhere = False
        self._confirm_timeout = confirm_timeout_seconds
        self._request_budget = request_budget_seconds
        # Waits between polls use the same clock as the IVS edge's retries.
        self._sleep = sleep or ivs.sleep
        self._undo_reserve = ivs.attempt_budget_seconds

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
        # What was in force before this request's declaration: what a failed restart puts back.
        declared_before = self._declare(spec).in_force
        if kind is UpdateKind.IN_PLACE:
            self._restart_in_place(spec, old_props, declared_before)
        elif self._state(spec.key) != ACTIVE:  # ENSURE_RUNNING or MODE_ONLY
            # Nothing runs under the id: starting it is welcome, its absence no failure.
            self._start_confirmed(spec, absence_fails=_never)
        return Outcome(physical_id, spec.key)

    def delete(self, physical_id: str, props: Mapping[str, object]) -> Outcome:
        """Withdraw this resource's declaration; stop the replication if no other resource
        declares it. `props`: the resource's properties (what it declared)."""
        key = parse_physical_id(physical_id)
        if key is None:
            # A failed create's marker, or an id some other version wrote: nothing of ours runs.
            self._step("Physical id is not a replication id; nothing to stop")
            return Outcome(physical_id, None)
        # Withdrawn first: once the Stop is done, no reconciler run can start it again.
        left = self._withdraw(key)
        in_force = left.in_force if left.owners else self._held_by_a_mirror(key)
        if in_force is None:
            # Returns once IVS shows it stopped: a Create or a reconciler run right after this
            # (a construct removed and added back) would otherwise find the replica still
            # listed ACTIVE while its Stop lands, count it as running, and start nothing.
            self._stop_and_await(key, reason="Delete")
            return Outcome(physical_id, key)
        self._step(
            "Still declared by other resources; not stopped",
            extra={"owners": sorted(left.owners) or ["a StageMirror"]},
        )
        withdrawn = try_parse_properties(props)
        if withdrawn is None or not withdrawn.settings_equal(in_force):
            self._restore_after_a_withdrawal(in_force)
        return Outcome(physical_id, key)

    def _held_by_a_mirror(self, key: ReplicationKey) -> ReplicationSpec | None:
        """The replication as a StageMirror of its stages declares it, when one takes its
        publisher now (live, not a replica, with a user id it takes); None otherwise."""
        if self._registry.table_name is None:
            return None
        mirror_key = MirrorKey(key.source_stage_arn, key.destination_stage_arn)
        try:
            mirror = self._registry.mirror(mirror_key, self._deadline)
            if mirror is None:
                return None
            publisher = self._replicas.ivs.live_participant(
                key.source_stage_arn, key.participant_id, self._deadline
            )
        except CallError as error:
            raise messages.failed(
                f"Could not tell whether {mirror_key.describe()} holds {key.describe()}, so "
                "it was not stopped. Retry.",
                str(error),
            ) from error
        if publisher is None or publisher.is_replica or not mirror.admits(publisher.user_id):
            return None
        return mirror.replication(key.participant_id)

    def _mirror_settings(self, key: ReplicationKey) -> ReplicationSpec | None:
        """The settings a StageMirror of the replication's stages starts it with (None: no
        mirror), for a Create that finds it running: it may be the mirror's."""
        if self._registry.table_name is None:
            return None
        mirror_key = MirrorKey(key.source_stage_arn, key.destination_stage_arn)
        try:
            mirror: MirrorSpec | None = self._registry.mirror(mirror_key, self._deadline)
        except CallError as error:
            raise messages.failed(
                f"Could not read {mirror_key.describe()} from the registry. Deploy again.",
                str(error),
            ) from error
        return None if mirror is None else mirror.replication(key.participant_id)

    def _restore_after_a_withdrawal(self, in_force: ReplicationSpec) -> None:
        """The withdrawn declaration may have been the one that ran: what runs gets the
        settings now in force. A Delete never fails for an absent publisher, nor waits for
        it: a wait-mode wait belongs to deploying the resource in force, not to removing
        another. Absent, it is left as any absence leaves it (follow mode starts it again
        when the publisher returns)."""
        if self._state(in_force.key) != ACTIVE:
            return
        self._step("Settings now in force differ; restarting with them")
        self._stop_and_await(in_force.key, reason="Delete of one owner")
        self._wait_until = self._lambda_deadline.within(0, margin_seconds=0.0)
        self._start_confirmed(in_force, absence_fails=_never)

    def _budget_for(self, spec: ReplicationSpec) -> None:
        """This request's time: the standard budget, plus the wait for the publisher."""
        wait = spec.wait_seconds if spec.when_not_publishing == c.MODE_WAIT else 0
        self._deadline = self._lambda_deadline.within(self._request_budget + wait)
        self._wait_until = self._lambda_deadline.within(wait, margin_seconds=0.0)

    def _create(self, spec: ReplicationSpec, absence_fails: AbsenceFails = _always) -> Outcome:
        before = self._declare_new(spec)
        self._declared_elsewhere = bool(before.owners - {self._owner})
        try:
            in_force = before.in_force or self._mirror_settings(spec.key)
            if (
                in_force is not None
                and not in_force.settings_equal(spec)
                and self._state(spec.key) == ACTIVE
            ):
                # Running as another resource declared it (a construct renamed or moved), with
                # other settings: this declaration is in force now, so its settings run. (A
                # Start alone may change nothing: IVS may answer a Start of a running
                # replication with success, and keep its settings.)
                self._restart_in_place(spec, {}, in_force)
            else:
                self._start_confirmed(spec, absence_fails=absence_fails)
        except ReplicationFailedError as error:
            # After a failed Create no Delete comes (see the module docstring).
            reported = self._withdrawn_after_failed_create(spec, error)
            if reported is error:
                raise
            raise reported from error
        return Outcome(spec.key.physical_id(), spec.key)

    def _withdrawn_after_failed_create(
        self, spec: ReplicationSpec, error: ReplicationFailedError
    ) -> ReplicationFailedError:
        """A failed Create withdraws its declaration (no Delete follows it), then, like a
        Delete, stops what runs if no other resource declares it: a reconciler run may have
        started it while it was declared (after this request's Start, or its undo's Stop) and
        kept it; a run that starts it from now on re-reads the registry and stops it itself.
        Returns the failure to report, saying what is left (the same `error` when nothing is,
        and in a stack without ownership, outside follow mode)."""
        key = spec.key
        if self._registry.table_name is None and not spec.follows:
            return error
        left = self._withdrawn_after_failure(key)
        if left is None:
            return messages.prefixed(error, messages.stale_declaration_advice(describe_item(key)))
        if left.owners:
            return error  # declared by another resource: what runs is its
        if self._mirror_holds_after_failure(key):
            return error  # a StageMirror takes it: what runs is the mirror's
        if self._still_active(key) and not self._stopped_after_failure(key):
            return messages.prefixed(error, messages.manual_stop_advice(key))
        return error

    def _mirror_holds_after_failure(self, key: ReplicationKey) -> bool:
        """Whether a StageMirror takes the replication. When that cannot be told, it does not:
        stopping a mirror's replication lasts until its publisher's next event or a sweep,
        while one that nothing declares would run on."""
        try:
            return self._held_by_a_mirror(key) is not None
        except ReplicationFailedError as unsure:
            logger.warning(
                "Could not tell whether a mirror holds it", extra={"reason": str(unsure)}
            )
            return False

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
    ) -> StartOutcome:
        """Start and confirm ACTIVE; when the participant is not publishing, the mode decides,
        and `absence_fails` whether that is a failure at all (see the module docstring)."""
        outcome = self._start(spec)
        if isinstance(outcome, NotPublishing):
            outcome = self._when_not_publishing(spec, absence_fails)
        if isinstance(outcome, Started):
            self._confirm_active(spec.key, outcome)
        return outcome

    def _when_not_publishing(
        self, spec: ReplicationSpec, absence_fails: AbsenceFails
    ) -> StartOutcome:
        """The mode's answer to an absent publisher: follow succeeds, wait waits, fail fails;
        an absence that `absence_fails` does not count as a failure succeeds with nothing
        running (a refusal or a failed read is never swallowed)."""
        if spec.when_not_publishing == c.MODE_FOLLOW:
            self._step(
                "Participant not publishing; the reconciler starts the replication when it "
                "publishes"
            )
            return NotPublishing()
        if spec.when_not_publishing == c.MODE_WAIT:
            outcome = self._wait_for_publisher(spec)
            if not isinstance(outcome, NotPublishing):
                return outcome
            absence = messages.wait_timed_out_message(spec.key, spec.wait_seconds)
        else:
            absence = messages.not_publishing_message(spec.key)
        if absence_fails():
            raise messages.failed(absence)
        logger.warning(
            "Participant not publishing, and the replication was not running when this request "
            "began: the request succeeds with it not running"
        )
        return NotPublishing()

    def _start(self, spec: ReplicationSpec) -> StartOutcome:
        """One Start (with its settle retries); a failed one is undone before it is reported."""
        key = spec.key
        outcome = self._replicas.start(
            spec,
            self._keep_time_to_undo(),
            settle=_settle_for(spec),
            declared_elsewhere=self._declared_elsewhere,
        )
        match outcome:
            case Refused(error=error):
                undone = self._undo(key, outcome)
                said = (
                    ""
                    if not undone.needed
                    else "An earlier attempt went unanswered and may have started it. "
                    + self._said(key, undone)
                )
                raise messages.failed(
                    messages.failure_message(
                        error.operation, key, error.code, error.message, outcome=said
                    )
                )
            case Unresolved(cause=cause, refusal=refusal):
                undone = self._undo(key, outcome)
                if undone.needed:
                    raise self._undone_failure(key, undone, cause)
                if refusal is not None:
                    raise messages.failed(f"Did not start {key.describe()}.", cause)
                # Never sent, or only throttled: nothing started.
                raise messages.failed(
                    f"Did not start {key.describe()}. Nothing was changed. Deploy again.", cause
                )
            case AlreadyActive():
                logger.warning(
                    "Replication already ACTIVE; adopting it (its attributes and reconnect "
                    "window are left as they are)"
                )
        return outcome

    def _wait_for_publisher(self, spec: ReplicationSpec) -> StartOutcome:
        """Retry Start until the participant publishes; NotPublishing once the wait is over."""
        attempt = 0
        while True:
            delay = WAIT_POLL_BASE_SECONDS + backoff_delay(
                attempt, base=WAIT_POLL_BASE_SECONDS, cap=WAIT_POLL_CAP_SECONDS
            )
            if self._wait_until.seconds_left() < delay:
                return NotPublishing()
            self._sleep(delay)
            attempt += 1
            outcome = self._start(spec)
            if not isinstance(outcome, NotPublishing):
                self._step("Participant publishes; started", extra={"wait_attempts": attempt})
                return outcome

    def _confirm_active(self, key: ReplicationKey, started: Started) -> None:
        """Wait (bounded) until IVS lists the replica as ACTIVE; undo the start otherwise."""
        confirmation = self._replicas.confirm_active(
            key,
            self._keep_time_to_undo(),
            timeout_seconds=self._confirm_timeout,
            sleep=self._sleep,
        )
        match confirmation:
            case Confirmed():
                self._step("Replication ACTIVE")
            case Unconfirmed(cause=cause):
                raise self._undone_failure(key, self._undo(key, started), cause)

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
            raise messages.followed_by(error, self._restore(previous)) from error

    def _start_afresh(self, spec: ReplicationSpec, *, was_running: bool) -> StartOutcome:
        """Stop (if running) and start with `spec`'s settings; return how the Start ended.

        Each Stop is watched until it shows (`Replicas.await_stopped`): IVS may list the
        replica ACTIVE, and answer a Start with Conflict, for a moment after it answered the
        Stop, and a Start before then would find the replication this request just stopped. A
        Start that finds it ACTIVE after that met another starter (a reconciler run holding the
        settings from before this Update): stop and start again, so the declared settings are
        the ones that run."""
        if was_running:
            self._stop_and_await(spec.key, reason="Update")
        for _ in range(IN_PLACE_START_ATTEMPTS):
            outcome = self._start_confirmed(spec, absence_fails=lambda: was_running)
            if not isinstance(outcome, AlreadyActive):
                return outcome
            logger.warning("Replication started by someone else during the restart; again")
            self._stop_and_await(spec.key, reason="Update")
        raise messages.failed(
            f"{spec.key.describe()} kept being started by another caller with unknown "
            "settings while this Update restarted it; it is stopped. Retry the deployment."
        )

    def _restore(self, previous: ReplicationSpec) -> str:
        """Start `previous` again after a failed restart; say what is true afterwards (what
        IVS says, never a hope)."""
        try:
            self._declare(previous)
            outcome = self._start_afresh(previous, was_running=False)
        except ReplicationFailedError as error:
            logger.error("Restoring the previous settings failed", extra={"reason": str(error)})
            return self._what_runs_after_a_failed_restore(previous.key)
        if isinstance(outcome, NotPublishing):
            return (
                "The previous settings were not started again: the participant is not "
                "publishing, so the replication is not running."
            )
        return "The replication runs again with its previous settings."

    def _what_runs_after_a_failed_restore(self, key: ReplicationKey) -> str:
        try:
            state = self._replicas.state(key, self._deadline)
        except CallError:
            return (
                "Restoring the previous settings failed too, and IVS's listing could not be "
                "read: list-participant-replicas says whether it runs."
            )
        if state == ACTIVE:
            return (
                "Restoring the previous settings failed too; IVS lists the replication ACTIVE, "
                "with settings this request cannot tell."
            )
        return "Restoring the previous settings failed too: the replication is stopped."

    def _declare(self, spec: ReplicationSpec) -> Ownership[ReplicationSpec]:
        """Record this resource's declaration of `spec` (now in force); return the ownership
        before it. Without a table (an older stack), only follow mode fails."""
        if self._registry.table_name is None and not spec.follows:
            return NOBODY
        try:
            return self._registry.declare(spec, self._owner, self._deadline)
        except (CallError, RegistryUnavailableError) as error:
            raise messages.failed(
                f"Could not declare {spec.key.describe()} in the registry table; nothing was "
                "started. Deploy again.",
                str(error),
            ) from error

    def _declare_new(self, spec: ReplicationSpec) -> Ownership[ReplicationSpec]:
        """Declare for a Create; return the ownership before it. A write that failed may still
        have been applied (its answer lost): it is withdrawn again, in time kept back for that,
        because after a failed Create no Delete comes and a leftover owner would keep it
        declared (and a follow-mode one let the sweep start it)."""
        if self._registry.table_name is None and not spec.follows:
            return NOBODY
        try:
            return self._registry.declare(
                spec,
                self._owner,
                self._deadline.reserve(self._registry.attempt_budget_seconds),
            )
        except RegistryUnavailableError as error:
            raise messages.failed(
                f"Could not declare {spec.key.describe()} for follow mode; nothing was started.",
                str(error),
            ) from error
        except CallError as error:
            if self._withdrawn_after_failure(spec.key) is None:
                raise messages.failed(
                    f"Could not declare {spec.key.describe()} in the registry table; nothing "
                    f"was started. {messages.stale_declaration_advice(describe_item(spec.key))}",
                    str(error),
                ) from error
            raise messages.failed(
                f"Could not declare {spec.key.describe()} in the registry table; nothing was "
                "started or left declared. Deploy again.",
                str(error),
            ) from error

    def _withdraw(self, key: ReplicationKey) -> Ownership[ReplicationSpec]:
        """Withdraw this resource's declaration; return who still declares it."""
        try:
            return self._registry.withdraw(key, self._owner, self._deadline)
        except CallError as error:
            raise messages.failed(
                f"Could not withdraw {key.describe()} from the registry, so it was not "
                "stopped (it may still be declared, and the reconciler could restart it). "
                "Retry.",
                str(error),
            ) from error

    def _withdrawn_after_failure(self, key: ReplicationKey) -> Ownership[ReplicationSpec] | None:
        """Who still declares it after this resource withdrew; None when withdrawing failed."""
        try:
            return self._withdraw(key)
        except ReplicationFailedError as error:
            logger.error("Withdrawing after a failed request failed", extra={"reason": str(error)})
            return None

    def _stop(self, key: ReplicationKey, *, reason: str) -> Stopped | NotRunning:
        """Stop; a replication that is refused and observed not ACTIVE counts as stopped."""
        match self._replicas.stop(key, self._deadline):
            case Stopped() as stopped:
                self._step("Replication stopped", extra={"reason": reason})
                return stopped
            case NotRunning() as not_running:
                self._step("Replication not running; nothing to stop", extra={"reason": reason})
                return not_running
            case StopFailed() as failure:
                raise _stop_failed(key, failure)

    def _stop_and_await(self, key: ReplicationKey, *, reason: str) -> None:
        """Stop, and wait until IVS no longer lists it ACTIVE (see `_start_afresh`)."""
        if isinstance(self._stop(key, reason=reason), Stopped) and not self._replicas.await_stopped(
            key, self._keep_time_to_undo()
        ):
            self._step("IVS still lists the replication ACTIVE after the Stop")

    def _stopped_after_failure(self, key: ReplicationKey) -> bool:
        try:
            self._stop(key, reason="failed Create")
        except ReplicationFailedError:
            return False
        return True

    def _state(self, key: ReplicationKey) -> str | None:
        try:
            return self._replicas.state(key, self._keep_time_to_undo())
        except ServiceError as error:
            raise messages.failed(
                messages.failure_message(error.operation, key, error.code, error.message)
            ) from error
        except DeadlineExceededError as error:
            raise messages.failed(
                f"Could not read the state of {key.describe()}. Retry.", str(error)
            ) from error

    def _still_active(self, key: ReplicationKey) -> bool:
        """ACTIVE, or unknown because the state cannot be read (assume the worst)."""
        try:
            return self._replicas.state(key, self._deadline) == ACTIVE
        except CallError:
            return True

    def _keep_time_to_undo(self) -> Deadline:
        """Steps that may need undoing stop early enough to leave time for the undo."""
        return self._deadline.reserve(self._undo_reserve)

    def _undo(self, key: ReplicationKey, attempt: StartAttempt) -> Undone:
        return self._replicas.undo(key, attempt, self._deadline)

    def _undone_failure(
        self, key: ReplicationKey, undone: Undone, why: str
    ) -> ReplicationFailedError:
        """The failure of a Start that was undone, to report with `why`."""
        # Only the cause may be shortened: the outcome may hold the manual stop command.
        return messages.failed(
            f"Starting {key.describe()} did not complete. {self._said(key, undone)} Deploy again.",
            why,
        )

    @staticmethod
    def _said(key: ReplicationKey, undone: Undone) -> str:
        return messages.undo_outcome(
            key,
            stopped=isinstance(undone.stop, Stopped),
            nothing_left_running=undone.nothing_left_running,
        )


def _settle_for(spec: ReplicationSpec) -> Settle:
    """Fail mode would report a publisher that IVS has not caught up with yet as away, and
    follow mode would leave it to an event that may have come before the declaration: retry
    a "not publishing" contradicted by the observed state first. Wait mode polls anyway."""
    return NO_SETTLE if spec.when_not_publishing == c.MODE_WAIT else Settle(SETTLE_SECONDS)


def _stop_failed(key: ReplicationKey, failure: StopFailed) -> ReplicationFailedError:
    match failure:
        case StopFailed(why="refused", refusal=refusal) if refusal is not None:
            return messages.failed(
                messages.failure_message(refusal.operation, key, refusal.code, refusal.message)
            )
        case StopFailed(why="unreadable", cause=cause):
            return messages.failed(
                f"Stopping {key.describe()} was refused, and its state could not be read: it "
                "may still run. Retry the operation.",
                cause,
            )
        case StopFailed(cause=cause):
            return messages.failed(
                f"Stopping {key.describe()} ran out of time. Retry the operation.", cause
            )
