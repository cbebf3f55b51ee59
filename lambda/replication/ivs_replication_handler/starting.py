"""One Start, classified: the step the custom-resource lifecycle and the reconciler share.

A Start either starts the replication, finds it already running under the same key (adopted),
finds the participant not publishing, or is refused for another reason (ServiceError raised).
Transient failures are retried by the IVS edge until the deadline (DeadlineExceededError).
"""

from __future__ import annotations

from enum import Enum

from .ivs import IvsRealtime
from .logic import ACTIVE, ReplicationSpec, is_not_publishing
from .retries import Deadline, DeadlineExceededError, ServiceError


class ConflictUnresolvedError(Exception):
    """Start was refused with a Conflict, and the replica's state could not be read to tell
    whether it is ours and running. Nothing was started by this Start."""

    def __init__(self, refusal: ServiceError, cause: ServiceError | DeadlineExceededError) -> None:
        super().__init__(f"{refusal}; reading the replica's state then failed: {cause}")
        self.refusal = refusal
        self.cause = cause


class StartResult(Enum):
    """How one Start attempt ended, short of a failure."""

    STARTED = "started"
    ADOPTED = "adopted"  # already ACTIVE under this key
    NOT_PUBLISHING = "not-publishing"


def start_replication(ivs: IvsRealtime, spec: ReplicationSpec, deadline: Deadline) -> StartResult:
    """Start `spec`; raise ServiceError for a refusal that is none of the results above,
    DeadlineExceededError when transient failures outlast the deadline, ConflictUnresolvedError
    when a Conflict cannot be checked."""
    try:
        ivs.start_replication(spec, deadline)
    except ServiceError as error:
        if is_not_publishing(error.message):
            return StartResult.NOT_PUBLISHING
        if error.code == "ConflictException" and _is_active(ivs, spec, deadline, error):
            return StartResult.ADOPTED
        raise
    return StartResult.STARTED


def _is_active(
    ivs: IvsRealtime, spec: ReplicationSpec, deadline: Deadline, refusal: ServiceError
) -> bool:
    try:
        return ivs.replica_state(spec.key, deadline) == ACTIVE
    except (ServiceError, DeadlineExceededError) as cause:
        raise ConflictUnresolvedError(refusal, cause) from cause
