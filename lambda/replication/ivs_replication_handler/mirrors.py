"""CloudFormation's requests for a StageMirror destination (``Custom::IvsStageMirror``): a
policy over the core (`replicas`), beside `lifecycle`'s for single replications.

A mirror destination declares one replication per publisher of its source stage (those whose
token user id it takes), into one destination stage, always in follow mode: a deploy never
fails because nobody publishes. Its registry item is owned like a replication's (a renamed
mirror keeps running), and the reconciler starts each publisher on its "Participant
Published" event, and the sweep whoever publishes now.

What a request does, after it records (or withdraws) its declaration:
- converge (Create, Update, and a Delete that leaves other owners): the source's current
  publishers (GetStage, ListParticipants) that the declaration takes and that are not replicas
  are started into the destination; when the settings in force before differ (an Update, or
  a Create that takes over a renamed mirror's declaration), each replica it holds is stopped
  and started again with the new ones; when user ids were narrowed, the replicas of publishers
  no longer taken are stopped;
- clean up (a Delete that withdraws the last owner, and a failed Create, after which no Delete
  comes): every replica from the source in the destination (ListParticipants of the
  destination's session, replicationType REPLICA) whose publisher the withdrawn declaration
  took is stopped.
Both leave alone any replication an explicit declaration of the stack names (a
ParticipantReplication or fan-out of the same publisher into the same destination, in any
mode): it is that declaration's.

A destination that holds its 12 publishers already refuses more (ServiceQuotaExceeded): the
request logs it and succeeds; the reconciler tries again on the next event or sweep. The
handlers of a stack's mirror destinations run at once when they are created together: each
paces its calls at its share of the stack's IVS rate
(`IvsSettings.mirror_share_per_second`), so together they keep to it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from aws_lambda_powertools import Logger

from . import contract as c
from . import messages
from .errors import CallError, ReplicationFailedError, ServiceError
from .ivs import IvsRealtime, Pacer, Participant
from .registry import Ownership, Registry, describe_item
from .replicas import (
    SETTLE_SECONDS,
    STOP_EFFECT_DELAYS,
    AlreadyActive,
    NotPublishing,
    Refused,
    Replicas,
    Settle,
    Started,
    StopFailed,
    Unresolved,
)
from .retries import Deadline
from .spec import (
    MirrorKey,
    MirrorSpec,
    ReplicationKey,
    parse_mirror_physical_id,
    try_parse_mirror_properties,
)

logger = Logger(service=c.LOGGER_SERVICE, child=True)

T = TypeVar("T")

OVER_QUOTA_CODE = "ServiceQuotaExceededException"
# The publishers were just listed as publishing: a refusal saying otherwise is retried a while.
_SETTLE = Settle(SETTLE_SECONDS)


@dataclass(frozen=True)
class MirrorOutcome:
    """What the provider framework returns to CloudFormation for a mirror destination."""

    physical_id: str
    key: MirrorKey | None

    def response(self) -> dict[str, object]:
        data: dict[str, object] = {}
        if self.key is not None:
            data = {
                c.PROP_SOURCE_STAGE_ARN: self.key.source_stage_arn,
                c.PROP_DESTINATION_STAGE_ARN: self.key.destination_stage_arn,
            }
        return {"PhysicalResourceId": self.physical_id, "Data": data}


@dataclass
class Converged:
    """What one converge did, by participant id."""

    started: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    over_quota: list[str] = field(default_factory=list)
    not_publishing: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {name: len(ids) for name, ids in vars(self).items() if ids}


def paced_for_mirrors(ivs: IvsRealtime) -> IvsRealtime:
    """A copy of `ivs` whose calls are paced at this function's share of the stack's rate (the
    stack's mirror destinations may all be created at once, each by its own handler)."""
    settings = ivs.settings
    return ivs.with_pacer(Pacer(settings.mirror_share_per_second, sleep=ivs.sleep, clock=ivs.clock))


class MirrorRequests:
    """Runs one CloudFormation request for a mirror destination within the Lambda's deadline;
    raises ReplicationFailedError (its message is the Reason) when the request fails.

    ``owner``: the request's resource (its logical id), recorded as an owner of the mirror.
    ``spread`` Default: a random fraction of one turn at this function's pace, waited before
    the request's first IVS call, so handlers created together do not all call at once.
    """

    def __init__(
        self,
        ivs: IvsRealtime,
        deadline: Deadline,
        *,
        owner: str,
        registry: Registry,
        request_budget_seconds: float = c.REQUEST_BUDGET_SECONDS,
        spread: Callable[[float], float] = lambda turn: random.uniform(0.0, turn),  # noqa: S311
    ) -> None:
        self._ivs = ivs
        self._replicas = Replicas(ivs)
        self._deadline = deadline.within(request_budget_seconds)
        self._registry = registry
        self._owner = owner
        self._spread = spread
        self._spread_done = False
        # What this request did, in order: the handler's one line per request carries it.
        self.steps: list[str] = []

    # --- requests ------------------------------------------------------------------------

    def create(self, spec: MirrorSpec) -> MirrorOutcome:
        before = self._declare(spec, withdraw_if_unsure=True)
        try:
            converged = self._converge(spec, previous=before.in_force)
        except ReplicationFailedError as error:
            # No Delete follows a failed Create: what it started must not outlive it.
            raise self._withdrawn_after_failed_create(spec, error) from error
        self._step("Mirror converged", converged.summary())
        return MirrorOutcome(spec.key.physical_id(), spec.key)

    def update(
        self, spec: MirrorSpec, physical_id: str, old_props: Mapping[str, object]
    ) -> MirrorOutcome:
        if parse_mirror_physical_id(physical_id) != spec.key:
            # Another source or destination: a new mirror destination, and CloudFormation
            # deletes the old physical id once this one is in place.
            self._step("Replacing the mirror destination", {"old": physical_id})
            return self.create(spec)
        # What was in force before this request's declaration decides what must restart; a
        # duplicate delivery finds its own settings there, and restarts nothing.
        before = self._declare(spec, withdraw_if_unsure=False).in_force
        previous = before if before is not None else try_parse_mirror_properties(old_props)
        self._step("Mirror converged", self._converge(spec, previous=previous).summary())
        return MirrorOutcome(physical_id, spec.key)

    def delete(self, physical_id: str, props: Mapping[str, object]) -> MirrorOutcome:
        """Withdraw this resource's declaration; stop what the mirror made into its
        destination if no other resource declares it. `props`: what the resource declared."""
        key = parse_mirror_physical_id(physical_id)
        if key is None:
            self._step("Physical id is not a mirror's; nothing to stop")
            return MirrorOutcome(physical_id, None)
        withdrawn = try_parse_mirror_properties(props)
        left = self._withdraw(key)
        if left.in_force is not None:
            self._step("Still declared by other resources", {"owners": sorted(left.owners)})
            self._step(
                "Mirror converged", self._converge(left.in_force, previous=withdrawn).summary()
            )
            return MirrorOutcome(physical_id, key)
        self._step("Mirror withdrawn", {"stopped": len(self._clean_up(key, withdrawn))})
        return MirrorOutcome(physical_id, key)

    # --- converging and cleaning up --------------------------------------------------------

    def _converge(self, spec: MirrorSpec, *, previous: MirrorSpec | None) -> Converged:
        """Make the destination hold what `spec` declares (see the module docstring);
        `previous`: what was declared before (None: nothing, or unknown)."""
        key = spec.key
        done = Converged()
        self._spread_first_call()
        publishers = {p.participant_id: p for p in self._publishers(key) if not p.is_replica}
        held = self._replicas_in_destination(key)
        restart = previous is not None and not previous.settings_equal(spec)
        for participant_id, replica in held.items():
            # The publisher's user id, as the source lists it (a replica's may differ).
            user_id = (publishers.get(participant_id) or replica).user_id
            if self._explicitly_declared(key.replication(participant_id)):
                continue
            if not spec.admits(user_id):
                if previous is not None and previous.admits(user_id):
                    self._stop(key.replication(participant_id))
                    done.stopped.append(participant_id)
                continue
            if restart:
                self._stop(key.replication(participant_id))
                self._replicas.await_stopped(key.replication(participant_id), self._deadline)
                if participant_id in publishers:
                    self._start(spec, publishers[participant_id], done)
                    done.restarted.append(participant_id)
            else:
                done.running.append(participant_id)
        if done.stopped:
            # Narrowed out: seen gone before anything reads this destination again.
            self._await_gone(key, set(done.stopped))
        for participant_id, publisher in publishers.items():
            if participant_id in held or not spec.admits(publisher.user_id):
                continue
            if not self._explicitly_declared(key.replication(participant_id)):
                self._start(spec, publisher, done)
        return done

    def _clean_up(self, key: MirrorKey, withdrawn: MirrorSpec | None) -> list[str]:
        """Stop every replica from the source in the destination whose publisher the
        withdrawn declaration took (any, when it cannot be read), but explicit ones."""
        self._spread_first_call()
        publishers = {p.participant_id: p for p in self._publishers(key) if not p.is_replica}
        stopped = []
        for participant_id, replica in self._replicas_in_destination(key).items():
            user_id = (publishers.get(participant_id) or replica).user_id
            if withdrawn is not None and not withdrawn.admits(user_id):
                continue
            replication = key.replication(participant_id)
            if not self._explicitly_declared(replication):
                self._stop(replication)
                stopped.append(participant_id)
        if stopped:
            self._await_gone(key, set(stopped))
        return stopped

    def _await_gone(self, key: MirrorKey, stopped: set[str]) -> None:
        """Wait until the destination no longer lists the replicas this request stopped.

        IVS may list a replica, and refuse a Start with Conflict, for a moment after it
        answered its Stop (undocumented; the late-stop profile). A mirror created again at
        once (a destination removed and added back, a failed Create retried) reads which
        replicas the destination holds, and would count one whose Stop is landing as running.
        One listing of the destination per try, within STOP_EFFECT_SECONDS and the deadline;
        a replica still listed then is said, not failed (the sweep starts it if it ends)."""
        still = stopped
        for delay in (0.0, *STOP_EFFECT_DELAYS):
            if delay:
                if self._deadline.seconds_left() - delay < self._ivs.attempt_budget_seconds:
                    break
                self._ivs.sleep(delay)
            try:
                still = stopped & set(self._replicas_in_destination(key))
            except ReplicationFailedError:
                break  # cannot tell; the Stops were answered
            if not still:
                return
        self._step("IVS still lists replicas after their Stop", {"participants": sorted(still)})

    def _withdrawn_after_failed_create(
        self, spec: MirrorSpec, error: ReplicationFailedError
    ) -> ReplicationFailedError:
        """The failure to report once the failed Create's declaration is withdrawn and, when
        no other resource declares the mirror, what it made is stopped again."""
        try:
            left = self._withdraw(spec.key)
            if left.in_force is None:
                stopped = self._clean_up(spec.key, spec)
                return messages.followed_by(
                    error,
                    f"The mirror was withdrawn and the {len(stopped)} replications it held in "
                    "the destination were stopped.",
                )
        except ReplicationFailedError as cleanup:
            logger.error("Cleaning up after a failed Create failed", extra={"reason": str(cleanup)})
            return messages.followed_by(
                error,
                f"Cleaning up failed too ({cleanup.advice}): {describe_item(spec.key)} may "
                "stay declared in the registry table, and replications into "
                f"{spec.key.destination_stage_arn} from {spec.key.source_stage_arn} may run. "
                "Delete the item and stop them before deploying again.",
            )
        return error

    # --- steps ---------------------------------------------------------------------------

    def _start(self, spec: MirrorSpec, publisher: Participant, done: Converged) -> None:
        """Start one publisher into the destination; a refusal other than the destination's
        quota, or a Start left without an answer, fails the request (after its undo)."""
        replication = spec.replication(publisher.participant_id)
        outcome = self._replicas.start(replication, self._deadline, settle=_SETTLE)
        match outcome:
            case Started() | AlreadyActive():
                done.started.append(publisher.participant_id)
            case NotPublishing():
                done.not_publishing.append(publisher.participant_id)
            case Refused(error=error, unanswered=False) if error.code == OVER_QUOTA_CODE:
                logger.warning(
                    "The destination stage holds as many publishers as IVS allows; not "
                    "started (the reconciler tries again on the next publish or sweep)",
                    extra={"participant_id": publisher.participant_id},
                )
                done.over_quota.append(publisher.participant_id)
            case Refused() | Unresolved():
                undone = self._replicas.undo(replication.key, outcome, self._deadline)
                said = messages.undo_outcome(
                    replication.key,
                    stopped=undone.stop is not None and not isinstance(undone.stop, StopFailed),
                    nothing_left_running=undone.nothing_left_running,
                )
                cause = outcome.cause
                raise messages.failed(
                    f"Could not start {replication.key.describe()} for "
                    f"{spec.key.describe()}. {said}",
                    cause,
                )

    def _stop(self, key: ReplicationKey) -> None:
        if isinstance(stop := self._replicas.stop(key, self._deadline), StopFailed):
            raise messages.failed(
                f"Could not stop {key.describe()}; the stack's request is retried, or stop it "
                "with `aws ivs-realtime stop-participant-replication`.",
                stop.cause,
            )

    def _spread_first_call(self) -> None:
        """Before this request's first IVS call, wait a random part of one turn at its pace.

        Before the reads, not just the first Start: handlers created together would otherwise
        all read their stages at once (a burst of GetStage and ListParticipants, each many
        times IVS's rate), and meet again at their second GetStage's turn."""
        if self._spread_done:
            return
        self._spread_done = True
        pacer = self._ivs.pacer
        if pacer is None or pacer.calls_per_second >= self._ivs.settings.calls_per_second:
            return
        delay = self._spread(1.0 / pacer.calls_per_second)
        if delay > 0 and self._deadline.seconds_left() - delay > self._ivs.attempt_budget_seconds:
            self._ivs.sleep(delay)

    def _publishers(self, key: MirrorKey) -> list[Participant]:
        return self._read(
            lambda: self._ivs.publishers(key.source_stage_arn, self._deadline),
            f"who publishes in {key.source_stage_arn}",
        )

    def _replicas_in_destination(self, key: MirrorKey) -> dict[str, Participant]:
        """The destination's replicas from the source, by participant id."""
        listed = self._read(
            lambda: self._ivs.publishers(key.destination_stage_arn, self._deadline),
            f"the replicas in {key.destination_stage_arn}",
        )
        return {p.participant_id: p for p in listed if p.replica_of == key.source_stage_arn}

    def _explicitly_declared(self, key: ReplicationKey) -> bool:
        """Whether a resource of the stack declares this replication itself."""
        return self._read(
            lambda: self._registry.ownership(key, self._deadline).declared,
            f"the registry's declaration of {key.physical_id()}",
        )

    def _read(self, read: Callable[[], T], what: str) -> T:
        try:
            return read()
        except ServiceError as error:
            raise messages.failed(
                f"Could not read {what}: {error.operation} was refused ({error.code}). "
                f"{messages.hint(error.code)}",
                error.message,
            ) from error
        except CallError as error:
            raise messages.failed(f"Could not read {what}. Deploy again.", str(error)) from error

    def _declare(self, spec: MirrorSpec, *, withdraw_if_unsure: bool) -> Ownership[MirrorSpec]:
        """Record this resource's declaration (now in force); return the ownership before it.
        A Create's write that failed may still have been applied: it is withdrawn again,
        because no Delete follows a failed Create."""
        deadline = (
            self._deadline.reserve(self._registry.attempt_budget_seconds)
            if withdraw_if_unsure
            else self._deadline
        )
        try:
            return self._registry.declare(spec, self._owner, deadline)
        except CallError as error:
            left_declared = withdraw_if_unsure and self._withdrawn_quietly(spec.key) is None
            advice = (
                messages.stale_declaration_advice(describe_item(spec.key))
                if left_declared
                else "Deploy again."
            )
            raise messages.failed(
                f"Could not declare {spec.key.describe()} in the registry table; nothing was "
                f"started. {advice}",
                str(error),
            ) from error

    def _withdraw(self, key: MirrorKey) -> Ownership[MirrorSpec]:
        try:
            left: Ownership[MirrorSpec] = self._registry.withdraw(key, self._owner, self._deadline)
        except CallError as error:
            raise messages.failed(
                f"Could not withdraw {key.describe()} from the registry, so nothing was stopped "
                "(the reconciler could still start its publishers). Retry.",
                str(error),
            ) from error
        return left

    def _withdrawn_quietly(self, key: MirrorKey) -> Ownership[MirrorSpec] | None:
        try:
            return self._withdraw(key)
        except ReplicationFailedError as error:
            logger.error("Withdrawing after a failed request failed", extra={"reason": str(error)})
            return None

    def _step(self, message: str, extra: Mapping[str, object] | None = None) -> None:
        details = ", ".join(f"{key}={value}" for key, value in (extra or {}).items())
        self.steps.append(f"{message} ({details})" if details else message)
        logger.debug(message, extra=extra)
