"""The retry policy, in one place: what is transient, the backoff, and the deadline arithmetic.

Pure Python (no botocore): the AWS edges (`ivs`, `registry`) hand `call_with_retries` their
call and a function that turns what the SDK raised into a `ServiceError`. Lambda's own retry
of a failed asynchronous reconciler run (the third layer of retrying) is configured by the
construct from `contract.RECONCILER_RETRY_ATTEMPTS` and `contract.RECONCILER_MAX_EVENT_AGE_SECONDS`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from .errors import DeadlineExceededError, ServiceError

T = TypeVar("T")

# Time kept back from the Lambda deadline to report a failure to CloudFormation.
DEADLINE_MARGIN_SECONDS = 5.0

_THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        # DynamoDB (the follow-mode registry) throttles with HTTP 400 and this code.
        "ProvisionedThroughputExceededException",
    }
)
_HTTP_TOO_MANY_REQUESTS = 429
_HTTP_SERVER_ERROR = 500

# The code given to connection problems and read timeouts, where no HTTP status exists.
CONNECTION_ERROR_CODE = "ConnectionError"


def is_transient(code: str, status: int) -> bool:
    """Worth retrying: throttling, server-side failures, and connection problems."""
    return (
        code in _THROTTLING_CODES
        or code == CONNECTION_ERROR_CODE
        or status == _HTTP_TOO_MANY_REQUESTS
        or status >= _HTTP_SERVER_ERROR
    )


def is_throttling(code: str, status: int) -> bool:
    """The service refused for rate, not for a fault: waiting is the whole cure."""
    return code in _THROTTLING_CODES or status == _HTTP_TOO_MANY_REQUESTS


def may_have_acted(error: ServiceError) -> bool:
    """Whether a failed attempt may have been carried out all the same: it reached the
    service, which did not refuse it (its answer was lost, or a server error came back). A
    throttled request is refused before anything is done."""
    return (
        error.sent
        and is_transient(error.code, error.status)
        and not is_throttling(error.code, error.status)
    )


# Other transient errors back off up to this long.
_BACKOFF_CAP_SECONDS = 5.0
_MAX_EXPONENT = 64


def backoff_delay(
    attempt: int,
    *,
    base: float = 0.2,
    cap: float = _BACKOFF_CAP_SECONDS,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    # The exponent is capped: past it the cap rules anyway, and 2**attempt of a long-running
    # retry loop would overflow a float.
    ceiling = min(cap, base * (2 ** min(attempt, _MAX_EXPONENT)))
    return (rng or random).uniform(0.0, ceiling)


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


# Less time than this to wait before the last attempt that fits: give up instead of
# retrying on the heels of the failure (ever shorter waits would end in a burst of calls).
MIN_RETRY_WAIT_SECONDS = 0.05

# After a throttle, retries back off from here (full jitter, doubling up to the cap).
_THROTTLED_BASE_SECONDS = 0.5
_THROTTLED_CAP_SECONDS = 5.0


def retry_delay(
    error: ServiceError,
    attempt: int,
    *,
    burst_window_seconds: float,
    limit: float = math.inf,
    rng: random.Random | None = None,
) -> float:
    """How long to wait before retrying after `error` on attempt `attempt` (0 = the first),
    drawn from a range that ends at `limit` at the latest (Default: no limit).

    Separate Lambda invocations share nothing, so a burst of hundreds of creates that all hit
    the rate limit at once would retry in lockstep and waste most calls on throttling. The
    first throttle therefore waits a random time spread over `burst_window_seconds` (the time
    the whole burst needs at the service's rate), after which the throttled burst arrives at
    about that rate; later throttles back off from half a second. Other transient errors (5xx,
    connection problems) back off from 0.2 s.
    """
    if not is_throttling(error.code, error.status):
        return backoff_delay(attempt, cap=min(_BACKOFF_CAP_SECONDS, limit), rng=rng)
    if attempt == 0 and burst_window_seconds > 0:
        return (rng or random).uniform(0.0, min(burst_window_seconds, limit))
    return backoff_delay(
        max(attempt - 1, 0),
        base=_THROTTLED_BASE_SECONDS,
        cap=min(_THROTTLED_CAP_SECONDS, limit),
        rng=rng,
    )


def call_with_retries(
    operation: str,
    send: Callable[[], T],
    deadline: Deadline,
    *,
    to_error: Callable[[str, Exception], ServiceError | None],
    sleep: Callable[[float], None],
    attempt_budget_seconds: float,
    burst_window_seconds: float = 0.0,
) -> T:
    """Run `send`, retrying transient failures with full-jitter backoff while an attempt still
    fits before the deadline; raise ServiceError (a refusal, marked when an earlier attempt
    may have been carried out) or DeadlineExceededError.

    `to_error` turns what `send` raised into a ServiceError, or None for an exception that is
    not an AWS error (it propagates unchanged). `burst_window_seconds` (Default: 0, no spread)
    is what the first throttle's wait is spread over (`retry_delay`). No wait pushes a retry
    past the deadline, and none is so long that it gives up while an attempt still fits.
    """
    attempt = 0
    acted = False  # whether a failed attempt so far may have been carried out
    while True:
        if deadline.seconds_left() < attempt_budget_seconds:
            raise DeadlineExceededError(
                f"{operation}: no time left for an attempt after {attempt} failed ones",
                attempts=attempt,
                may_have_acted=acted,
            )
        try:
            return send()
        except Exception as raw:
            error = to_error(operation, raw)
            if error is None:
                raise
            if not is_transient(error.code, error.status):
                if acted:
                    raise replace(error, earlier_attempt_may_have_acted=True) from raw
                raise error from raw
            acted = acted or may_have_acted(error)
            # The wait is drawn from the time left before the last attempt that fits: a draw
            # past it would give up while a shorter wait and one more attempt still fit.
            room = deadline.seconds_left() - attempt_budget_seconds
            if room < MIN_RETRY_WAIT_SECONDS:
                raise DeadlineExceededError(
                    f"{operation} still failing after {attempt + 1} attempts, "
                    f"the last with {error.code}: {error.message}",
                    attempts=attempt + 1,
                    may_have_acted=acted,
                ) from error
            delay = retry_delay(
                error, attempt, burst_window_seconds=burst_window_seconds, limit=room
            )
            sleep(delay)
            attempt += 1
