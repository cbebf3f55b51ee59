"""The one home for starting, stopping, confirming and undoing a replication in IVS.

Every step returns an outcome value; the two policies over it, `lifecycle` (CloudFormation's
requests) and `reconciler` (IVS events and sweeps), `match` on them. The IVS edge raises
(`ServiceError`, `DeadlineExceededError`); nothing here lets that escape a step.

Start. A Start either starts the replication (`Started`), finds it already running under the
same key (`AlreadyActive`), finds the participant not publishing (`NotPublishing`), is refused
for another reason (`Refused`, the service's words), or ends without an answer to go by
(`Unresolved`: out of time, or refused while the state behind the refusal could not be read).
Which code and text IVS uses for "not publishing" is not documented, so a refusal is decided
from observed state, not from its words, unless the words are the known ones (the fast path):
a refusal with a status that could mean "not publishing" (400, 404, 409) reads the replica's
state (ACTIVE: already active), then the source stage's active session and the participant in
it (absent or gone: not publishing; publishing: a real refusal). Right after a participant
publishes, IVS may still refuse to replicate it (undocumented): with a settle time, a refusal
that contradicts what is known (after the publisher's "Participant Published" event: any "not
publishing" or unexplained refusal; otherwise: the known text while the participant is
observed publishing) is retried for up to that long, within the deadline.

Stop. How IVS refuses to stop a replication that is not running is not documented either (a
404, a 409, or an answer that changes nothing), nor how soon an accepted Stop shows (IVS may
list the replica ACTIVE, and answer a Start with Conflict, for a moment after the Stop's 200).
So a refusal counts as `NotRunning` only when ListParticipantReplicas does not list the replica
ACTIVE (or its source stage is gone), watched for up to STOP_EFFECT_SECONDS (an earlier Stop
may be landing); one with the replica still listed ACTIVE is met by another Stop (someone may
have started it in between), and is final only after STOP_ATTEMPTS (`StopFailed`). After a
Stop of its own, a caller that starts the replication again waits for the Stop to show first
(`await_stopped`): a Start before that finds the replication it just stopped. A caller that
stops what it must leave stopped (an undo, a reconciler run whose declaration was withdrawn)
returns only once its Stop shows (`stop_and_await`): whoever reads the listing next (a Create,
a mirror's convergence, a sweep) would otherwise count the replica whose Stop is landing as
running, and start nothing.

Undo. A Start that may have acted - it started the replication, or an attempt of it went
unanswered - leaves a replication running that its caller may not want. `undo` is the one place
that decides whether to stop it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from .errors import CallError, DeadlineExceededError, ServiceError
from .ivs import IvsRealtime
from .messages import is_not_publishing
from .retries import Deadline, backoff_delay
from .spec import ACTIVE, ReplicationKey, ReplicationSpec

# Statuses of a Start refusal that may mean "not publishing" (Validation, ResourceNotFound,
# Conflict): independent application code treats 404 and 409 so; the project's guess is 400.
MAYBE_NOT_PUBLISHING_STATUSES = frozenset({400, 404, 409})
# How long a "not publishing" that contradicts a live publisher is retried.
SETTLE_SECONDS = 30.0
_SETTLE_FIRST_DELAY_SECONDS = 0.5
_SETTLE_MAX_DELAY_SECONDS = 2.0
# Stops met by a refusal while the replica is listed ACTIVE, before the refusal is final.
STOP_ATTEMPTS = 3
# How long a Stop may take to show in the listing after IVS answered it (undocumented: a Stop
# may take effect a moment after its answer), watched before anything is concluded from a
# replica still listed ACTIVE.
STOP_EFFECT_SECONDS = 10.0


# The waits between listings while a Stop shows: from 0.25 s, doubling up to 2 s, adding up to
# at most STOP_EFFECT_SECONDS (9.75 s: 8 listings in all). Not jittered: the listings of one
# replication, by one caller.
STOP_EFFECT_DELAYS = (0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0)
# Confirming ACTIVE polls the listing with backoff from this, up to the cap.
_CONFIRM_BASE_SECONDS = 0.5
_CONFIRM_CAP_SECONDS = 4.0

_NOT_FOUND = "ResourceNotFoundException"

StopFailure = Literal["refused", "unreadable", "timed-out"]
# What watching a replica's listing for a while shows (`Replicas._watch`).
Listed = Literal["not active", "stopped since", "active"]


# --- Start outcomes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """IVS accepted the Start: the replication runs with the declared settings."""

    may_have_acted = True
    late_start_possible = False


@dataclass(frozen=True)
class AlreadyActive:
    """IVS lists the replication ACTIVE already (with settings this Start did not set)."""


@dataclass(frozen=True)
class NotPublishing:
    """The participant is not publishing, said by IVS (the known text) or observed."""


@dataclass(frozen=True)
class Refused:
    """IVS refused the Start for a reason other than the publisher's absence (`error` holds its
    code and words). `unanswered`: an earlier attempt went unanswered and may have started it."""

    error: ServiceError
    unanswered: bool = False

    @property
    def may_have_acted(self) -> bool:
        return self.unanswered

    @property
    def late_start_possible(self) -> bool:
        return self.unanswered

    @property
    def cause(self) -> str:
        return str(self.error)


@dataclass(frozen=True)
class Unresolved:
    """The Start ended with nothing to go by: it ran out of time (`refusal` None), or IVS
    refused it and reading the state behind the refusal failed. `unanswered`: an attempt may
    have been carried out, its answer lost (a throttled or never-sent one changed nothing)."""

    cause: str
    unanswered: bool
    refusal: ServiceError | None = None

    @property
    def may_have_acted(self) -> bool:
        return self.unanswered

    @property
    def late_start_possible(self) -> bool:
        return self.unanswered


StartOutcome = Started | AlreadyActive | NotPublishing | Refused | Unresolved
# A Start whose outcome may have left a replication running: what `undo` takes.
StartAttempt = Started | Refused | Unresolved


@dataclass(frozen=True)
class Settle:
    """Retry a refusal contradicted by a publisher observed publishing, for up to `seconds`.

    With `publisher_live` the caller was told the participant publishes (a "Participant
    Published" event, of session `session_id` when the event names one): any refusal of a
    publisher observed publishing (in that session) is retried. Otherwise only the known "not
    publishing" text is, against the observed state."""

    seconds: float = 0.0
    publisher_live: bool = False
    session_id: str | None = None


NO_SETTLE = Settle()


# --- Stop outcomes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Stopped:
    """IVS accepted the Stop."""


@dataclass(frozen=True)
class NotRunning:
    """IVS refused the Stop, and the replica is observed not ACTIVE (or its stage is gone)."""


@dataclass(frozen=True)
class StopFailed:
    """The replication may still run: IVS kept refusing while listing it ACTIVE (`refused`),
    the state behind a refusal could not be read (`unreadable`), or transient failures
    outlasted the deadline (`timed-out`). `refusal` is IVS's last refusal, if any."""

    why: StopFailure
    cause: str
    refusal: ServiceError | None = None


StopOutcome = Stopped | NotRunning | StopFailed


# --- Confirmation and undo outcomes -------------------------------------------------------


@dataclass(frozen=True)
class Confirmed:
    """IVS lists the replica ACTIVE."""


@dataclass(frozen=True)
class Unconfirmed:
    """IVS did not list the replica ACTIVE in time, or the listing failed (`cause` says)."""

    cause: str


@dataclass(frozen=True)
class Undone:
    """What `undo` did about a Start that may have acted.

    `stop` is None when nothing was stopped: the Start cannot have acted (`needed` False), or
    its caller still wants it (`kept`). `late_start_possible`: an attempt went unanswered, so
    IVS may still carry it out after a Stop found nothing.
    """

    needed: bool
    kept: bool = False
    stop: StopOutcome | None = None
    late_start_possible: bool = False

    @property
    def nothing_left_running(self) -> bool:
        """Whether nothing this Start did can be running now or later."""
        if not self.needed:
            return True
        if isinstance(self.stop, Stopped):
            return True
        return isinstance(self.stop, NotRunning) and not self.late_start_possible


def _never_wanted() -> bool:
    return False


class Replicas:
    """Start, stop, confirm and undo replications through one IVS edge; each step within the
    deadline it is given."""

    def __init__(self, ivs: IvsRealtime) -> None:
        self.ivs = ivs

    # --- reading -------------------------------------------------------------------------

    def state(self, key: ReplicationKey, deadline: Deadline) -> str | None:
        """ "ACTIVE", "STOPPED", or None when IVS lists no record; raises CallError."""
        return self.ivs.replica_state(key, deadline)

    # --- starting ------------------------------------------------------------------------

    def start(
        self,
        spec: ReplicationSpec,
        deadline: Deadline,
        *,
        settle: Settle = NO_SETTLE,
        declared_elsewhere: bool = False,
    ) -> StartOutcome:
        """Start `spec` (Default: no settle time). A refusal after an attempt whose answer was
        lost, in this call or a settle retry's, is marked `unanswered`. With
        `declared_elsewhere` (Default: False), another resource declares the replication, so
        a replica listed ACTIVE runs for good: it is adopted without watching for a Stop."""
        waited = 0.0
        attempt = 0
        landed = 0  # Starts refused while a Stop was landing
        unanswered = False  # an attempt so far may have been carried out, its answer lost
        while True:
            try:
                self.ivs.start_replication(spec, deadline)
            except DeadlineExceededError as timeout:
                return Unresolved(str(timeout), unanswered=unanswered or timeout.may_have_acted)
            except ServiceError as refusal:
                unanswered = unanswered or refusal.earlier_attempt_may_have_acted
                marked = replace(refusal, earlier_attempt_may_have_acted=unanswered)
                verdict = self._classify(spec.key, deadline, marked, watch=not declared_elsewhere)
                if isinstance(verdict, _StopLanded):
                    landed += 1
                    if landed < STOP_ATTEMPTS:
                        continue  # the replica it met has stopped since: start it now
                    return Refused(marked, unanswered)
                if not isinstance(verdict, _Contradictable):
                    return verdict
                delay = min(_SETTLE_MAX_DELAY_SECONDS, _SETTLE_FIRST_DELAY_SECONDS * 2**attempt)
                in_time = (
                    waited + delay <= settle.seconds
                    and deadline.seconds_left() - delay >= self.ivs.attempt_budget_seconds
                )
                if not (in_time and self._contradicted(spec.key, deadline, verdict, settle)):
                    return verdict.outcome
                self.ivs.sleep(delay)
                waited += delay
                attempt += 1
            else:
                return Started()

    def _classify(
        self, key: ReplicationKey, deadline: Deadline, error: ServiceError, *, watch: bool
    ) -> Refused | Unresolved | AlreadyActive | _StopLanded | _Contradictable:
        """What a refused Start means. The known text is taken at its word, unless an earlier
        attempt may have started the replication (its answer lost): the words do not say what
        that attempt did, the state does."""
        unanswered = error.earlier_attempt_may_have_acted
        # The known text is the fast path, taken at its word unless an answer was lost.
        said = is_not_publishing(error.message)
        if said and not unanswered:
            return _Contradictable(NotPublishing(), said=True)
        if not said and error.status not in MAYBE_NOT_PUBLISHING_STATUSES:
            return Refused(error, unanswered)
        try:
            return self._observe(key, deadline, error, said=said, watch=watch)
        except CallError as cause:
            if isinstance(cause, ServiceError) and cause.code == _NOT_FOUND:
                return Refused(error, unanswered)  # the source stage is missing: Start's refusal
            return _unreadable(error, cause)

    def _observe(
        self,
        key: ReplicationKey,
        deadline: Deadline,
        error: ServiceError,
        *,
        said: bool,
        watch: bool,
    ) -> AlreadyActive | _StopLanded | _Contradictable:
        """What the state says about a refusal that may mean "not publishing"; raises
        CallError when it cannot be read. A replica listed ACTIVE may be one whose Stop is
        still landing (IVS lists it, and refuses a Start with Conflict, for a moment after the
        Stop's answer): it is watched for as long as a Stop may take before it counts as
        running (unless `watch` is False)."""
        listed = self._watch(key, deadline, patiently=watch)
        if listed == "active":
            return AlreadyActive()
        if listed == "stopped since":
            return _StopLanded()
        if said:  # and the unanswered attempt left nothing
            return _Contradictable(NotPublishing(), said=True)
        if not self.ivs.is_publishing(key.source_stage_arn, key.participant_id, deadline):
            return _Contradictable(NotPublishing(), said=False)
        # Publishing, no ACTIVE replica, and still refused: a real refusal (unless it settles).
        return _Contradictable(Refused(error, error.earlier_attempt_may_have_acted), said=False)

    def _contradicted(
        self, key: ReplicationKey, deadline: Deadline, verdict: _Contradictable, settle: Settle
    ) -> bool:
        """Whether this refusal contradicts a publisher observed live (worth a retry).

        Decided from observed state, before any wait: events arrive late (hours, at worst),
        and a retry for a publisher who has left would spend the whole settle window and the
        account's Start budget. A publisher observed not publishing (refused with words other
        than the known ones: `_observe` read it), or gone from the event's session, ends the
        Start at once. Without an event, only the known "not publishing" text is checked (a
        refusal of a participant observed publishing is final: the service's text is
        reported). Asked only within the settle time (`start`)."""
        if not verdict.said and isinstance(verdict.outcome, NotPublishing):
            return False  # observed not publishing already
        if not settle.publisher_live and not verdict.said:
            return False
        try:
            return self.ivs.is_publishing(
                key.source_stage_arn, key.participant_id, deadline, session_id=settle.session_id
            )
        except CallError:
            return settle.publisher_live  # cannot tell: the event's word, else the service's

    # --- stopping ------------------------------------------------------------------------

    def stop(self, key: ReplicationKey, deadline: Deadline) -> StopOutcome:
        """Stop `key`'s replication. A refusal with the replica listed ACTIVE after it is met
        by another Stop, up to STOP_ATTEMPTS in all: someone may have started it between the
        refused Stop and the listing (a reconciler run that read its declaration before it was
        withdrawn), and a Delete that failed for that would stick the stack although the
        replication can be stopped. Transient failures are retried by the IVS edge until the
        deadline, which then says nothing about the state (`StopFailed`, timed out)."""
        attempts = 0
        while True:
            attempts += 1
            try:
                self.ivs.stop_replication(key, deadline)
            except DeadlineExceededError as error:
                return StopFailed("timed-out", str(error))
            except ServiceError as refusal:
                try:
                    listed_active = self._watch(key, deadline) == "active"
                except CallError as cause:
                    return StopFailed(
                        "unreadable",
                        f"{refusal}; reading the state to tell whether it still runs then "
                        f"failed: {cause}",
                        refusal,
                    )
                if not listed_active:
                    return NotRunning()
                if attempts == STOP_ATTEMPTS:
                    return StopFailed("refused", str(refusal), refusal)
            else:
                return Stopped()

    def stop_and_await(self, key: ReplicationKey, deadline: Deadline) -> StopOutcome:
        """`stop`, then, when IVS accepted the Stop, wait until it shows (`await_stopped`):
        for a Stop of what must stay stopped, so that whoever reads the listing next sees it
        stopped (see the module docstring)."""
        stop = self.stop(key, deadline)
        if isinstance(stop, Stopped):
            self.await_stopped(key, deadline)
        return stop

    def await_stopped(self, key: ReplicationKey, deadline: Deadline) -> bool:
        """After a Stop IVS accepted: whether the listing shows the replica not ACTIVE within
        STOP_EFFECT_SECONDS (`_watch`). False when it is still listed ACTIVE then (someone
        started it again, or IVS is slower than that), or the listing cannot be read."""
        try:
            return self._watch(key, deadline) != "active"
        except CallError:
            return False

    def _watch(self, key: ReplicationKey, deadline: Deadline, *, patiently: bool = True) -> Listed:
        """Whether the replica is listed not ACTIVE at once, only after a while ("stopped
        since": a Stop was landing), or throughout STOP_EFFECT_SECONDS, listing again after
        each of `STOP_EFFECT_DELAYS` within `deadline`. A source stage that is gone counts as
        not ACTIVE (every replication from it is gone); raises CallError when the listing
        cannot be read."""
        delays = STOP_EFFECT_DELAYS if patiently else ()  # not: one listing
        for delay in (0.0, *delays):
            if delay:
                if deadline.seconds_left() - delay < self.ivs.attempt_budget_seconds:
                    break
                self.ivs.sleep(delay)
            try:
                active = self.ivs.replica_state(key, deadline) == ACTIVE
            except ServiceError as error:
                if error.code != _NOT_FOUND:
                    raise
                active = False
            if not active:
                return "stopped since" if delay else "not active"
        return "active"

    # --- confirming and undoing --------------------------------------------------------------

    def confirm_active(
        self,
        key: ReplicationKey,
        deadline: Deadline,
        *,
        timeout_seconds: float,
        sleep: Callable[[float], None],
    ) -> Confirmed | Unconfirmed:
        """Wait (up to `timeout_seconds`, polling with backoff) until IVS lists the replica
        ACTIVE."""
        waited = 0.0
        attempt = 0
        while True:
            try:
                state = self.ivs.replica_state(key, deadline)
            except CallError as error:
                return Unconfirmed(f"listing replicas failed: {error}")
            if state == ACTIVE:
                return Confirmed()
            delay = backoff_delay(attempt, base=_CONFIRM_BASE_SECONDS, cap=_CONFIRM_CAP_SECONDS)
            if waited + delay > timeout_seconds:
                return Unconfirmed(
                    f"IVS did not list it as ACTIVE within {timeout_seconds:.0f} s "
                    f"(last state: {state or 'not listed'})"
                )
            sleep(delay)
            waited += delay
            attempt += 1

    def undo(
        self,
        key: ReplicationKey,
        attempt: StartAttempt,
        deadline: Deadline,
        *,
        wanted: Callable[[], bool] = _never_wanted,
    ) -> Undone:
        """The one rule for a Start that may have acted: stop it again, unless `wanted()` (asked
        only then; Default: never wanted) says its caller keeps it.

        After a failed Create the provider framework answers with a marker id and no Delete of
        the replication follows, and a reconciler run must not leave an undeclared replication
        running: whatever may have started it and is not wanted is stopped here."""
        if not attempt.may_have_acted:
            return Undone(needed=False)
        if wanted():
            return Undone(needed=True, kept=True)
        return Undone(
            needed=True,
            stop=self.stop_and_await(key, deadline),
            late_start_possible=attempt.late_start_possible,
        )


@dataclass(frozen=True)
class _StopLanded:
    """The Start met a replica listed ACTIVE that has stopped since: a Stop was landing."""


@dataclass(frozen=True)
class _Contradictable:
    """A refusal that a live publisher may contradict, worth a settle retry: `outcome` is what
    it means if it is not retried; `said` whether IVS said "not publishing" in its words."""

    outcome: NotPublishing | Refused
    said: bool


def _unreadable(refusal: ServiceError, cause: CallError) -> Unresolved:
    started = (
        "an earlier attempt of this Start went unanswered and may have started it"
        if refusal.earlier_attempt_may_have_acted
        else "nothing was started by this Start"
    )
    return Unresolved(
        f"{refusal}; reading the state to tell why then failed: {cause}; {started}",
        unanswered=refusal.earlier_attempt_may_have_acted,
        refusal=refusal,
    )
