"""The IVS real-time edge: one client, the three replication calls, each with bounded retries.

The client is created on first use, never at import, so ``AWS_REGION`` and
``AWS_ENDPOINT_URL_IVS_REALTIME`` redirect it like in any boto3 program, and tests can inject
their own.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import boto3

from . import aws
from . import contract as c
from .logic import ReplicationKey, ReplicationSpec
from .retries import Deadline

if TYPE_CHECKING:
    from mypy_boto3_ivs_realtime import IvsrealtimeClient

T = TypeVar("T")


def make_client(
    *,
    connect_timeout: float = aws.CONNECT_TIMEOUT_SECONDS,
    read_timeout: float = aws.READ_TIMEOUT_SECONDS,
) -> IvsrealtimeClient:
    """A client with short timeouts and botocore's own retries off: `call` retries instead,
    within the Lambda's remaining time."""
    return boto3.client("ivs-realtime", config=aws.client_config(connect_timeout, read_timeout))


class IvsRealtime:
    """StartParticipantReplication, StopParticipantReplication and ListParticipantReplicas,
    each retried on transient failures with full-jitter backoff until the deadline."""

    def __init__(
        self,
        client: IvsrealtimeClient | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempt_budget_seconds: float = aws.ATTEMPT_BUDGET_SECONDS,
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

    def start_replication(self, spec: ReplicationSpec, deadline: Deadline) -> None:
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

    def stop_replication(self, key: ReplicationKey, deadline: Deadline) -> None:
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
        states = self.replica_states(
            key.source_stage_arn, key.participant_id, deadline, until=key.destination_stage_arn
        )
        return states.get(key.destination_stage_arn)

    def replica_states(
        self,
        source_stage_arn: str,
        participant_id: str,
        deadline: Deadline,
        *,
        until: str | None = None,
    ) -> dict[str, str]:
        """Replica state by destination stage ARN for one publisher; with `until`, paging stops
        once that destination is listed."""
        states: dict[str, str] = {}
        next_token: str | None = None
        while True:
            page = self.call(
                "ListParticipantReplicas",
                functools.partial(self._list_page, source_stage_arn, participant_id, next_token),
                deadline,
            )
            for replica in page.get("replicas", []):
                destination = str(replica.get("destinationStageArn"))
                states.setdefault(destination, str(replica.get("replicationState")))
            next_token = page.get("nextToken")
            if not next_token or (until is not None and until in states):
                return states

    def _list_page(self, source: str, participant_id: str, token: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"sourceStageArn": source, "participantId": participant_id}
        if token:
            kwargs["nextToken"] = token
        return dict(self.client.list_participant_replicas(**kwargs))

    def call(self, operation: str, send: Callable[[], T], deadline: Deadline) -> T:
        """Run `send`, retrying transient failures; raise ServiceError or DeadlineExceededError."""
        return aws.call(
            operation,
            send,
            deadline,
            sleep=self.sleep,
            attempt_budget_seconds=self.attempt_budget_seconds,
            burst_window_seconds=burst_window_seconds(),
        )


def burst_window_seconds() -> float:
    """The time the stack's replications need at IVS's rate: what a throttled burst of
    creates spreads its first retries over. 0 (no spread) where the construct set no count."""
    text = os.environ.get(c.ENV_STACK_REPLICATIONS, "")
    count = int(text) if text.isdecimal() else 0
    return count / c.IVS_CALLS_PER_SECOND
