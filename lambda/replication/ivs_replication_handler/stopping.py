"""One Stop, confirmed: the step the custom-resource lifecycle and the reconciler share.

How IVS refuses to stop a replication that is not running is not documented (a 404, a 409, or
an answer that changes nothing: see the emulator's profiles), and a refusal's words do not say
whether the replica runs. So a refusal is never taken at its word: it counts as "not running"
only when ListParticipantReplicas does not list the replica ACTIVE (or its source stage is
gone); one with the replica listed ACTIVE is met by another Stop (someone may have started it
in between), and is final only after STOP_ATTEMPTS. Transient failures never arrive as
refusals: the IVS edge retries them and raises DeadlineExceededError once they outlast the
deadline, which says nothing about the state and is raised unread.
"""

from __future__ import annotations

from enum import Enum

from .ivs import IvsRealtime
from .logic import ACTIVE, ReplicationKey
from .retries import Deadline, DeadlineExceededError, ServiceError

# Stops met by a refusal while the replica is listed ACTIVE, before the refusal is final.
STOP_ATTEMPTS = 3


class StopResult(Enum):
    """How a Stop ended, short of a failure."""

    STOPPED = "stopped"  # IVS accepted the Stop
    NOT_RUNNING = "not-running"  # refused, and the replica is observed not ACTIVE


class StopUnresolvedError(Exception):
    """Stop was refused, and reading the replica's state to tell whether it still runs failed:
    it may be running."""

    def __init__(self, refusal: ServiceError, cause: ServiceError | DeadlineExceededError) -> None:
        super().__init__(
            f"{refusal}; reading the state to tell whether it still runs then failed: {cause}"
        )
        self.refusal = refusal
        self.cause = cause


def stop_replication(ivs: IvsRealtime, key: ReplicationKey, deadline: Deadline) -> StopResult:
    """Stop `key`'s replication. A refusal with the replica listed ACTIVE after it is met by
    another Stop, up to STOP_ATTEMPTS in all: someone may have started it between the refused
    Stop and the listing (a reconciler run that read its declaration before it was withdrawn),
    and a Delete that failed for that would stick the stack although the replication can be
    stopped. Raise the refusal (a ServiceError) when the replica is still ACTIVE after the last
    attempt, StopUnresolvedError when the state behind a refusal cannot be read,
    DeadlineExceededError when transient failures outlast the deadline."""
    attempts = 0
    while True:
        attempts += 1
        try:
            ivs.stop_replication(key, deadline)
        except ServiceError as refusal:  # a refusal: transient failures are retried (`call`)
            if not _listed_active(ivs, key, deadline, refusal):
                return StopResult.NOT_RUNNING
            if attempts == STOP_ATTEMPTS:
                raise
        else:
            return StopResult.STOPPED


def _listed_active(
    ivs: IvsRealtime, key: ReplicationKey, deadline: Deadline, refusal: ServiceError
) -> bool:
    try:
        return ivs.replica_state(key, deadline) == ACTIVE
    except ServiceError as cause:
        if cause.code == "ResourceNotFoundException":
            return False  # the source stage is gone, and with it every replication from it
        raise StopUnresolvedError(refusal, cause) from cause
    except DeadlineExceededError as cause:
        raise StopUnresolvedError(refusal, cause) from cause
