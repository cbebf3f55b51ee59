"""What both AWS edges (`ivs`, `registry`) share: clients, their settings and error
normalisation.

Clients are created by the edges on first use, never at import, so ``AWS_REGION`` and the
``AWS_ENDPOINT_URL_*`` variables redirect them like in any boto3 program.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from .errors import ServiceError
from .retries import CONNECTION_ERROR_CODE, Deadline, call_with_retries

T = TypeVar("T")

CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 10.0
# An attempt is only started if it can time out before the deadline does.
ATTEMPT_BUDGET_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS


_session: botocore.session.Session | None = None
_session_lock = threading.Lock()


def new_client(service_name: str, config: Config) -> Any:  # noqa: ANN401 - botocore's client
    """A botocore client of the process's one session, configured from the environment like
    ``boto3.client`` (which returns the same kind of client). Not through boto3: importing
    boto3 also imports s3transfer, about 50 ms of every cold start for nothing used here.
    Thread-safe: the reconciler's threads may create the first clients together."""
    global _session  # noqa: PLW0603 - one session per process, created on first use
    with _session_lock:
        if _session is None:
            _session = botocore.session.get_session()
        return _session.create_client(service_name, config=config)


def client_config(
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS, read_timeout: float = READ_TIMEOUT_SECONDS
) -> Config:
    """Short timeouts, one attempt per call (`call` retries, within the Lambda's remaining
    time), and the library in the user agent."""
    return Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # Standard mode: it needs no `_retry.json`, which the trimmed bundle leaves out, and
        # one attempt means `call` alone retries, within the Lambda's remaining time.
        retries={"total_max_attempts": 1, "mode": "standard"},
        user_agent_extra="ivs-participant-replication",
    )


def to_service_error(operation: str, error: Exception) -> ServiceError | None:
    """botocore's exceptions as a ServiceError (None for anything else); IVS puts its text in
    `exceptionMessage`. A request is taken as sent unless no connection was made."""
    if isinstance(error, ClientError):
        response: dict[str, Any] = dict(error.response)
        details = response.get("Error", {})
        text = response.get("exceptionMessage") or details.get("Message") or str(error)
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        return ServiceError(operation, str(details.get("Code", "Unknown")), status, str(text))
    if isinstance(error, HTTPClientError):  # a read timeout, a connection closed: sent
        return ServiceError(operation, CONNECTION_ERROR_CODE, 0, str(error))
    if isinstance(error, BotocoreConnectionError):  # no connection made: never sent
        return ServiceError(operation, CONNECTION_ERROR_CODE, 0, str(error), sent=False)
    return None


def call(
    operation: str,
    send: Callable[[], T],
    deadline: Deadline,
    *,
    sleep: Callable[[float], None],
    attempt_budget_seconds: float = ATTEMPT_BUDGET_SECONDS,
    burst_window_seconds: float = 0.0,
) -> T:
    """Run one AWS call under the retry policy; raise ServiceError or DeadlineExceededError."""
    return call_with_retries(
        operation,
        send,
        deadline,
        to_error=to_service_error,
        sleep=sleep,
        attempt_budget_seconds=attempt_budget_seconds,
        burst_window_seconds=burst_window_seconds,
    )
