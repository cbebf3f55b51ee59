"""Every exception class of the handler package, in one module.

Exceptions are for what the raiser's caller cannot handle: a property that is not valid (the
request fails before any API call), an AWS call that did not succeed (the edges raise it; the
core, ``replicas``, turns it into an outcome value), a custom-resource request that failed (its
message becomes CloudFormation's Reason), a reconciler run that Lambda must retry. Decisions
about a replication are outcome values, never exceptions.

Pure Python, no SDK: ``contract`` re-exports ``InvalidPropertyError`` for the construct.
"""

from __future__ import annotations

from dataclasses import dataclass


class HandlerError(Exception):
    """Base class of every error of the handler package."""


class InvalidPropertyError(HandlerError, ValueError):
    """A replication property is missing or malformed; raised before any API call."""

    def __init__(self, prop: str, problem: str, allowed: str) -> None:
        self.prop = prop
        self.problem = problem
        self.allowed = allowed
        super().__init__(f"Invalid {prop}: {problem}. Expected {allowed}.")


class CallError(HandlerError):
    """An AWS call did not succeed: refused (`ServiceError`) or out of time
    (`DeadlineExceededError`)."""


@dataclass
class ServiceError(CallError):
    """An AWS call was refused or failed; carries the error code, HTTP status (0 for a
    connection problem) and the service's own text.

    ``sent`` (Default: True) is False when the request never reached the service (no
    connection was made). ``earlier_attempt_may_have_acted`` (Default: False) is set on a
    refusal that came after an attempt that may have been carried out (see `may_have_acted`):
    the refusal then says nothing about what that attempt did.
    """

    operation: str
    code: str
    status: int
    message: str
    sent: bool = True
    earlier_attempt_may_have_acted: bool = False

    def __post_init__(self) -> None:
        super().__init__(f"{self.operation}: {self.code} ({self.status}): {self.message}")


class DeadlineExceededError(CallError):
    """Retrying stopped because the Lambda's remaining time ran short."""

    def __init__(self, message: str, *, attempts: int, may_have_acted: bool | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts
        # Whether an attempt may have been carried out (its answer lost, or a server error):
        # throttled attempts and requests never sent changed nothing. Default: any attempt.
        self.may_have_acted = attempts > 0 if may_have_acted is None else may_have_acted


class RegistryUnavailableError(HandlerError):
    """Follow mode was asked for, but the function was given no registry table."""


class ReplicationFailedError(HandlerError):
    """A custom-resource request failed; the message is CloudFormation's Reason.

    ``advice`` says what happened and what to do, ``cause`` why; only the cause is ever
    shortened to fit the Reason (build one with `messages.failed`). Default cause: none.
    """

    def __init__(self, reason: str, *, advice: str, cause: str = "") -> None:
        super().__init__(reason)
        self.advice = advice
        self.cause = cause


class ReconcileError(HandlerError):
    """Some declarations could not be reconciled; raised after all were tried, so Lambda's
    asynchronous retry (or the next sweep) tries again."""
