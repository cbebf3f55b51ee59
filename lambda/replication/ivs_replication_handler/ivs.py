"""The only module that talks to AWS: one IVS real-time client, bounded retries, error shapes.

The client is created on first use, never at import, so ``AWS_REGION`` and
``AWS_ENDPOINT_URL_IVS_REALTIME`` redirect it like in any boto3 program, and tests can inject
their own.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from .logic import (
    CONNECTION_ERROR_CODE,
    ReplicationKey,
    ReplicationSpec,
    backoff_delay,
    is_transient,
)

if TYPE_CHECKING:
    from mypy_boto3_ivs_realtime import IvsrealtimeClient

T = TypeVar("T")

CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 10.0
# Time kept back from the Lambda deadline to report a failure to CloudFormation.
DEADLINE_MARGIN_SECONDS = 5.0


def make_client(
    *,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> IvsrealtimeClient:
    """A client with short timeouts and botocore's own retries off: `call` retries instead,
    within the Lambda's remaining time."""
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": 1},
        user_agent_extra="ivs-participant-replication",
    )
    return boto3.client("ivs-realtime", config=config)


@dataclass
class ServiceError(Exception):
    """An IVS call failed; carries the error code, HTTP status and the service's own text."""

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


def to_service_error(operation: str, error: Exception) -> ServiceError:
    """Normalise botocore's exceptions; the service's text is in `exceptionMessage`."""
    if isinstance(error, ClientError):
        response: dict[str, Any] = dict(error.response)
        details = response.get("Error", {})
        text = response.get("exceptionMessage") or details.get("Message") or str(error)
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        return ServiceError(operation, str(details.get("Code", "Unknown")), status, str(text))
    return ServiceError(operation, CONNECTION_ERROR_CODE, 0, str(error))


class IvsRealtime:
    """StartParticipantReplication, StopParticipantReplication and ListParticipantReplicas,
    each retried on transient failures with full-jitter backoff until the deadline."""

    def __init__(
        self,
        client: IvsrealtimeClient | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempt_budget_seconds: float = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS,
    ) -> None:
        self._client = client
        self.sleep = sleep
        # An attempt is only started if it can time out before the deadline does.
        self.attempt_budget_seconds = attempt_budget_seconds

    @property
    def client(self) -> IvsrealtimeClient:
        if self._client is None:
            self._client = make_client()
        return self._client

    def start(self, spec: ReplicationSpec, deadline: Deadline) -> None:
        key = spec.key
        request: dict[str, Any] = {
            "sourceStageArn": key.source_stage_arn,
            "destinationStageArn": key.destination_stage_arn,
            "participantId": key.participant_id,
            "reconnectWindowSeconds": spec.reconnect_window_seconds,
        }
        if spec.attributes:
            request["attributes"] = dict(spec.attributes)
        self.call(
            "StartParticipantReplication",
            lambda: self.client.start_participant_replication(**request),
            deadline,
        )

    def stop(self, key: ReplicationKey, deadline: Deadline) -> None:
        self.call(
            "StopParticipantReplication",
            lambda: self.client.stop_participant_replication(
                sourceStageArn=key.source_stage_arn,
                destinationStageArn=key.destination_stage_arn,
                participantId=key.participant_id,
            ),
            deadline,
        )

    def replica_state(self, key: ReplicationKey, deadline: Deadline) -> str | None:
        """The state of the replica of `key` ("ACTIVE", "STOPPED"), or None if IVS lists none."""
        next_token: str | None = None
        while True:
            page = self.call(
                "ListParticipantReplicas",
                functools.partial(self._list_page, key, next_token),
                deadline,
            )
            for replica in page.get("replicas", []):
                if replica.get("destinationStageArn") == key.destination_stage_arn:
                    return str(replica.get("replicationState"))
            next_token = page.get("nextToken")
            if not next_token:
                return None

    def _list_page(self, key: ReplicationKey, token: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "sourceStageArn": key.source_stage_arn,
            "participantId": key.participant_id,
        }
        if token:
            kwargs["nextToken"] = token
        return dict(self.client.list_participant_replicas(**kwargs))

    def call(self, operation: str, send: Callable[[], T], deadline: Deadline) -> T:
        """Run `send`, retrying transient failures; raise ServiceError or DeadlineExceededError."""
        attempt = 0
        while True:
            if deadline.seconds_left() < self.attempt_budget_seconds:
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
                if deadline.seconds_left() - delay < self.attempt_budget_seconds:
                    raise DeadlineExceededError(
                        f"{operation} still failing after {attempt + 1} attempts, "
                        f"the last with {error.code}: {error.message}",
                        attempts=attempt + 1,
                    ) from error
                self.sleep(delay)
                attempt += 1
