"""Bounded retries for AWS calls: the Lambda's deadline, error normalisation, full-jitter backoff.

Shared by the two AWS edges, `ivs` (IVS real-time) and `registry` (DynamoDB). No client here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from .logic import CONNECTION_ERROR_CODE, backoff_delay, is_transient

T = TypeVar("T")

# Time kept back from the Lambda deadline to report a failure to CloudFormation.
DEADLINE_MARGIN_SECONDS = 5.0


@dataclass
class ServiceError(Exception):
    """An AWS call failed; carries the error code, HTTP status and the service's own text."""

    operation: str
    code: str
    status: int
    message: str

    def __post_init__(self) -> None:
        super().__init__(f"{self.operation}: {self.code} ({self.status}): {self.message}")

    @property
    def transient(self) -> bool:
        return is_transient(self.code, self.status)


class DeadlineExceededError(Exception):
    """Retrying stopped because the Lambda's remaining time ran short."""

    def __init__(self, message: str, *, attempts: int) -> None:
        super().__init__(message)
        # 0 means the request was never sent, so it cannot have changed anything.
        self.attempts = attempts


class Deadline:
    """The time left to work, taken from the Lambda context, minus a margin to report back."""

    def __init__(
        self,
        remaining_ms: Callable[[], int],
        *,
        margin_seconds: float = DEADLINE_MARGIN_SECONDS,
    ) -> None:
        self._remaining_ms = remaining_ms
        self._margin = margin_seconds

    def seconds_left(self) -> float:
        return self._remaining_ms() / 1000.0 - self._margin

    def reserve(self, seconds: float) -> Deadline:
        """A deadline that ends `seconds` earlier, keeping time for a follow-up call."""
        return Deadline(self._remaining_ms, margin_seconds=self._margin + seconds)

    def within(self, seconds: float, *, margin_seconds: float | None = None) -> Deadline:
        """This deadline, or `seconds` from now if that comes first. Default margin: this one's.

        Measured on the same clock as the Lambda's remaining time, so a test's fake context
        moves both together.
        """
        start_ms = self._remaining_ms()
        budget_ms = seconds * 1000.0

        def remaining_ms() -> int:
            now_ms = self._remaining_ms()
            return int(min(now_ms, budget_ms - (start_ms - now_ms)))

        margin = self._margin if margin_seconds is None else margin_seconds
        return Deadline(remaining_ms, margin_seconds=margin)


def to_service_error(operation: str, error: Exception) -> ServiceError:
    """Normalise botocore's exceptions; IVS puts its text in `exceptionMessage`."""
    if isinstance(error, ClientError):
        response: dict[str, Any] = dict(error.response)
        details = response.get("Error", {})
        text = response.get("exceptionMessage") or details.get("Message") or str(error)
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        return ServiceError(operation, str(details.get("Code", "Unknown")), status, str(text))
    return ServiceError(operation, CONNECTION_ERROR_CODE, 0, str(error))


def call_with_retries(
    operation: str,
    send: Callable[[], T],
    deadline: Deadline,
    *,
    sleep: Callable[[float], None],
    attempt_budget_seconds: float,
) -> T:
    """Run `send`, retrying transient failures with full-jitter backoff while an attempt still
    fits before the deadline; raise ServiceError (a refusal) or DeadlineExceededError."""
    attempt = 0
    while True:
        if deadline.seconds_left() < attempt_budget_seconds:
            raise DeadlineExceededError(
                f"{operation}: no time left for an attempt after {attempt} failed ones",
                attempts=attempt,
            )
        try:
            return send()
        except (ClientError, HTTPClientError, BotocoreConnectionError) as raw:
            error = to_service_error(operation, raw)
            if not error.transient:
                raise error from raw
            delay = backoff_delay(attempt)
            if deadline.seconds_left() - delay < attempt_budget_seconds:
                raise DeadlineExceededError(
                    f"{operation} still failing after {attempt + 1} attempts, "
                    f"the last with {error.code}: {error.message}",
                    attempts=attempt + 1,
                ) from error
            sleep(delay)
            attempt += 1
