"""One Start, classified: the step the custom-resource lifecycle and the reconciler share.

A Start either starts the replication, finds it already running under the same key (adopted),
finds the participant not publishing, or is refused for another reason (ServiceError raised).
Transient failures are retried by the IVS edge until the deadline (DeadlineExceededError).

Which code and text IVS uses for "not publishing" is not documented, so a refusal is decided
from observed state, not from its words, unless the words are the known ones (the fast path):
a refusal with a status that could mean "not publishing" (400, 404, 409) reads the replica's
state (ACTIVE: adopt), then the source stage's active session and the participant in it
(absent or gone: not publishing; publishing: a real refusal).

Right after a participant publishes, IVS may still refuse to replicate it (undocumented): with
a settle time, a refusal that contradicts what is known (after the publisher's "Participant
Published" event: any "not publishing" or unexplained refusal; otherwise: the known text while
the participant is observed publishing) is retried for up to that long, within the deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from .ivs import IvsRealtime
from .logic import ACTIVE, ReplicationSpec, is_not_publishing
from .retries import Deadline, DeadlineExceededError, ServiceError

# Statuses of a Start refusal that may mean "not publishing" (Validation, ResourceNotFound,
# Conflict): independent application code treats 404 and 409 so; the project's guess is 400.
MAYBE_NOT_PUBLISHING_STATUSES = frozenset({400, 404, 409})
# How long a "not publishing" that contradicts a live publisher is retried (the bound).
SETTLE_SECONDS = 30.0
_SETTLE_FIRST_DELAY_SECONDS = 0.5
_SETTLE_MAX_DELAY_SECONDS = 2.0


class RefusalUnresolvedError(Exception):
    """Start was refused, and reading the state to tell why failed. The refusal's attempt
    started nothing; an earlier attempt whose answer was lost may have (see
    `may_have_started`)."""

    def __init__(self, refusal: ServiceError, cause: ServiceError | DeadlineExceededError) -> None:
        started = (
            "an earlier attempt of this Start went unanswered and may have started it"
            if refusal.earlier_attempt_may_have_acted
            else "nothing was started by this Start"
        )
        super().__init__(
            f"{refusal}; reading the state to tell why then failed: {cause}; {started}"
        )
        self.refusal = refusal
        self.cause = cause


def may_have_started(error: ServiceError | RefusalUnresolvedError) -> bool:
    """Whether a Start that failed with `error` may have started the replication all the same
    (an earlier attempt's answer was lost): then it must be stopped, or checked, before the
    failure is reported, or it runs on with nothing declaring it."""
    refusal = error.refusal if isinstance(error, RefusalUnresolvedError) else error
    return refusal.earlier_attempt_may_have_acted


class StartResult(Enum):
    """How one Start attempt ended, short of a failure."""

    STARTED = "started"
    ADOPTED = "adopted"  # already ACTIVE under this key
    NOT_PUBLISHING = "not-publishing"


@dataclass(frozen=True)
class Settle:
    """Retry a contradicted "not publishing" for up to `seconds`. With `publisher_live` the
    caller knows the participant publishes (a "Participant Published" event); otherwise a
    refusal is retried only when the participant is observed publishing."""

    seconds: float = 0.0
    publisher_live: bool = False


NO_SETTLE = Settle()


class _Verdict(Enum):
    SAID_NOT_PUBLISHING = "said"  # the known text: not observed
    OBSERVED_NOT_PUBLISHING = "observed"
    REFUSED_WHILE_PUBLISHING = "refused"  # publishing, no ACTIVE replica, still refused


def start_replication(
    ivs: IvsRealtime, spec: ReplicationSpec, deadline: Deadline, *, settle: Settle = NO_SETTLE
) -> StartResult:
    """Start `spec`; raise ServiceError for a refusal that is none of the results above,
    DeadlineExceededError when transient failures outlast the deadline, RefusalUnresolvedError
    when the state behind a refusal cannot be read. Default: no settle time.

    Both refusals are marked (`may_have_started`) when an attempt whose answer was lost came
    before them, in this call or a settle retry's."""
    waited = 0.0
    attempt = 0
    unanswered = False  # an attempt so far may have been carried out, its answer lost
    while True:
        try:
            ivs.start_replication(spec, deadline)
        except ServiceError as refusal:
            unanswered = unanswered or refusal.earlier_attempt_may_have_acted
            error = replace(refusal, earlier_attempt_may_have_acted=unanswered)
            verdict = _classify(ivs, spec, deadline, error)
            if isinstance(verdict, StartResult):
                return verdict
            delay = min(_SETTLE_MAX_DELAY_SECONDS, _SETTLE_FIRST_DELAY_SECONDS * 2**attempt)
            in_time = (
                waited + delay <= settle.seconds
                and deadline.seconds_left() - delay >= ivs.attempt_budget_seconds
            )
            if not (in_time and _contradicted(ivs, spec, deadline, verdict, settle)):
                if verdict is _Verdict.REFUSED_WHILE_PUBLISHING:
                    raise error from refusal
                return StartResult.NOT_PUBLISHING
            ivs.sleep(delay)
            waited += delay
            attempt += 1
        else:
            return StartResult.STARTED


def _classify(
    ivs: IvsRealtime, spec: ReplicationSpec, deadline: Deadline, error: ServiceError
) -> StartResult | _Verdict:
    """What a refused Start means; raises `error` when it cannot mean "not publishing".

    The known text is taken at its word, unless an earlier attempt may have started the
    replication (its answer lost): the words do not say what that attempt did, the state does.
    """
    said = is_not_publishing(error.message)
    if said and not error.earlier_attempt_may_have_acted:
        return _Verdict.SAID_NOT_PUBLISHING
    if not said and error.status not in MAYBE_NOT_PUBLISHING_STATUSES:
        raise error
    key = spec.key
    try:
        if ivs.replica_state(key, deadline) == ACTIVE:
            return StartResult.ADOPTED
        if said:
            return _Verdict.SAID_NOT_PUBLISHING  # and the unanswered attempt left nothing
        if not ivs.is_publishing(key.source_stage_arn, key.participant_id, deadline):
            return _Verdict.OBSERVED_NOT_PUBLISHING
    except ServiceError as cause:
        if cause.code == "ResourceNotFoundException":
            raise error from cause  # the source stage itself is missing: Start's own refusal
        raise RefusalUnresolvedError(error, cause) from cause
    except DeadlineExceededError as cause:
        raise RefusalUnresolvedError(error, cause) from cause
    return _Verdict.REFUSED_WHILE_PUBLISHING


def _contradicted(
    ivs: IvsRealtime, spec: ReplicationSpec, deadline: Deadline, verdict: _Verdict, settle: Settle
) -> bool:
    """Whether this refusal contradicts a publisher known or seen to be live (worth a retry).

    Only a publisher's event makes any refusal worth retrying; without one, only the known
    "not publishing" text is checked against the observed state (a refusal of a participant
    observed publishing is final: the service's text is reported).
    """
    if settle.seconds <= 0:
        return False
    if settle.publisher_live:
        return True
    if verdict is not _Verdict.SAID_NOT_PUBLISHING:
        return False
    try:
        return ivs.is_publishing(spec.key.source_stage_arn, spec.key.participant_id, deadline)
    except (ServiceError, DeadlineExceededError):
        return False  # cannot tell: take the service's word
