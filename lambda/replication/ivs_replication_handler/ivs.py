"""The IVS real-time edge: one client; the replication calls (Start, Stop, List), the reads
that tell whether a participant publishes (GetStage, GetParticipant) and who publishes in a
stage (ListParticipants), each with bounded retries and, where set, client-side pacing.

The client is created on first use, never at import, so ``AWS_REGION`` and
``AWS_ENDPOINT_URL_IVS_REALTIME`` redirect it like in any boto3 program, and tests can inject
their own. What the stack tells its functions about IVS (`settings.IvsSettings`: the rate, how
many replications it holds) is read from the environment once, by the entry points, and passed
in.
"""

from __future__ import annotations

import copy
import functools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from . import aws
from . import contract as c
from .errors import DeadlineExceededError, ServiceError
from .retries import Deadline
from .settings import IvsSettings
from .spec import ACTIVE, STOPPED, ReplicationKey, ReplicationSpec

if TYPE_CHECKING:
    from mypy_boto3_ivs_realtime import IvsrealtimeClient

T = TypeVar("T")

# ListParticipants' largest page (botocore: MaxParticipantResults, 1-100): a stage holds at
# most 12 publishers, so one page nearly always answers.
_PARTICIPANTS_PAGE = 100
_CONNECTED = "CONNECTED"
_REPLICA = "REPLICA"


@dataclass(frozen=True)
class Participant:
    """A participant connected to a stage's active session who has published in it: its id,
    its token's user id (None when the token has none), and, for a replica (replicationType
    REPLICA), the stage it is replicated from."""

    participant_id: str
    user_id: str | None = None
    replica_of: str | None = None

    @property
    def is_replica(self) -> bool:
        return self.replica_of is not None

    @classmethod
    def of(cls, shape: Mapping[str, Any]) -> Participant | None:
        """The participant an IVS ``Participant`` or ``ParticipantSummary`` describes, when it
        is connected and has published (None otherwise)."""
        if shape.get("state") != _CONNECTED or not shape.get("published"):
            return None
        user_id = shape.get("userId")
        replica = shape.get("replicationType") == _REPLICA
        return cls(
            str(shape.get("participantId")),
            str(user_id) if user_id else None,
            # A replica whose source the answer leaves out still counts as one.
            str(shape.get("sourceStageArn") or "?") if replica else None,
        )


def make_client(
    *,
    connect_timeout: float = aws.CONNECT_TIMEOUT_SECONDS,
    read_timeout: float = aws.READ_TIMEOUT_SECONDS,
) -> IvsrealtimeClient:
    """A client with short timeouts and botocore's own retries off: `call` retries instead,
    within the Lambda's remaining time."""
    client = aws.new_client("ivs-realtime", aws.client_config(connect_timeout, read_timeout))
    return cast("IvsrealtimeClient", client)


class Pacer:
    """Client-side pacing: at most `calls_per_second` calls of each operation per second (a
    token bucket per operation, bursting up to one second's worth), so a run that makes many
    calls spreads them under IVS's limit instead of being throttled. Thread-safe.

    A call whose turn would come too late for the deadline is not made
    (DeadlineExceededError with 0 attempts: nothing was sent). ``calls_per_second`` Default:
    5, IVS's documented rate.

    :raises InvalidPropertyError: if `calls_per_second` is not above 0 and at most 100.
    """

    def __init__(
        self,
        calls_per_second: float = c.IVS_CALLS_PER_SECOND,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.calls_per_second = c.check_calls_per_second("calls_per_second", calls_per_second)
        self._sleep = sleep
        self._clock = clock
        self._burst = max(1.0, calls_per_second)
        self._lock = threading.Lock()
        # operation -> (tokens, when counted); tokens below 0 are reserved future turns.
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait_turn(self, operation: str, deadline: Deadline, attempt_budget: float) -> None:
        with self._lock:
            now = self._clock()
            tokens, counted = self._buckets.get(operation, (self._burst, now))
            tokens = min(self._burst, tokens + (now - counted) * self.calls_per_second)
            delay = max(0.0, (1.0 - tokens) / self.calls_per_second)
            if deadline.seconds_left() - delay < attempt_budget:
                raise DeadlineExceededError(
                    f"{operation}: its turn at {self.calls_per_second:g} calls/s comes too late",
                    attempts=0,
                )
            self._buckets[operation] = (tokens - 1.0, now)
        if delay > 0:
            self._sleep(delay)


class IvsRealtime:
    """StartParticipantReplication, StopParticipantReplication, ListParticipantReplicas and the
    reads that tell whether a participant publishes (GetStage, GetParticipant), each retried
    on transient failures with full-jitter backoff until the deadline."""

    def __init__(
        self,
        client: IvsrealtimeClient | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempt_budget_seconds: float = aws.ATTEMPT_BUDGET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        settings: IvsSettings | None = None,
    ) -> None:
        self._client = client
        self.sleep = sleep
        # What `sleep` moves: a pacer measures its refills on it.
        self.clock = clock
        # An attempt is only started if it can time out before the deadline does.
        self.attempt_budget_seconds = attempt_budget_seconds
        self._settings = settings or IvsSettings()
        # Set by `paced` (the reconciler); the handler's requests are single calls.
        self.pacer: Pacer | None = None

    @property
    def settings(self) -> IvsSettings:
        """What the stack said about IVS. Default: ``IvsSettings()`` (5 calls per second, no
        replication count)."""
        return self._settings

    def with_pacer(self, pacer: Pacer) -> IvsRealtime:
        """A copy sharing this one's client and settings, whose calls `pacer` paces."""
        copied = copy.copy(self)
        copied.pacer = pacer
        return copied

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
        """The state of the replica of `key`: "ACTIVE", "STOPPED" (only STOPPED records), or
        None when IVS lists no record for its destination. See `replica_states`."""
        states = self.replica_states(key.source_stage_arn, key.participant_id, deadline)
        return states.get(key.destination_stage_arn)

    def replica_states(
        self,
        source_stage_arn: str,
        participant_id: str,
        deadline: Deadline,
        *,
        live_session_id: str | None = None,
    ) -> dict[str, str]:
        """Replica state by destination stage ARN for one publisher, read from every page.

        IVS may list STOPPED records of earlier sessions beside the live one, in any order and
        on any page (undocumented), so every record counts: a destination is ACTIVE when any
        of its records is ACTIVE (of `live_session_id`, when given), STOPPED when it is listed
        but none is, and absent from the answer when no record names it.
        """
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
                states[destination] = _merged_state(
                    states.get(destination), replica, live_session_id
                )
            next_token = page.get("nextToken")
            if not next_token:
                return states

    def active_session_id(self, stage_arn: str, deadline: Deadline) -> str | None:
        """GetStage's `activeSessionId` (None when no session is active). Raises ServiceError
        (ResourceNotFoundException for an unknown stage) or DeadlineExceededError."""
        answer = self.call("GetStage", lambda: self.client.get_stage(arn=stage_arn), deadline)
        session_id = answer.get("stage", {}).get("activeSessionId")
        return str(session_id) if session_id else None

    def is_publishing(
        self,
        stage_arn: str,
        participant_id: str,
        deadline: Deadline,
        *,
        session_id: str | None = None,
    ) -> bool:
        """Whether the participant is connected and has published in the stage's active
        session (GetStage, then GetParticipant; a participant not found is not publishing).
        With `session_id` (an event's), only in that session: a stage whose active session is
        another one (or none) says the event's publisher is gone. Raises ServiceError for other
        refusals, or DeadlineExceededError."""
        found = self.live_participant(stage_arn, participant_id, deadline, session_id=session_id)
        return found is not None

    def live_participant(
        self,
        stage_arn: str,
        participant_id: str,
        deadline: Deadline,
        *,
        session_id: str | None = None,
    ) -> Participant | None:
        """The participant, when it is connected and has published in the stage's active
        session (of `session_id`, when given); None otherwise. Raises as `is_publishing`."""
        active = self.active_session_id(stage_arn, deadline)
        if active is None or (session_id is not None and active != session_id):
            return None
        try:
            answer = self.call(
                "GetParticipant",
                lambda: self.client.get_participant(
                    stageArn=stage_arn, sessionId=active, participantId=participant_id
                ),
                deadline,
            )
        except ServiceError as error:
            if error.code == "ResourceNotFoundException":
                return None
            raise
        # `published` means "ever published in this session"; CONNECTED says it is still here.
        return Participant.of(answer.get("participant", {}))

    def publishers(self, stage_arn: str, deadline: Deadline) -> list[Participant]:
        """Who publishes in the stage's active session now: every participant connected that
        has published, replicas included (GetStage, then ListParticipants filtered by
        published, every page). Empty when no session is active."""
        session_id = self.active_session_id(stage_arn, deadline)
        if session_id is None:
            return []
        found: list[Participant] = []
        next_token: str | None = None
        while True:
            page = self.call(
                "ListParticipants",
                functools.partial(self._participants_page, stage_arn, session_id, next_token),
                deadline,
            )
            for shape in page.get("participants", []):
                participant = Participant.of(shape)
                if participant is not None:
                    found.append(participant)
            next_token = page.get("nextToken")
            if not next_token:
                return found

    def _participants_page(
        self, stage_arn: str, session_id: str, token: str | None
    ) -> dict[str, Any]:
        # One filter per request (the model allows no more): published, then state by hand.
        kwargs: dict[str, Any] = {
            "stageArn": stage_arn,
            "sessionId": session_id,
            "filterByPublished": True,
            "maxResults": _PARTICIPANTS_PAGE,
        }
        if token:
            kwargs["nextToken"] = token
        return dict(self.client.list_participants(**kwargs))

    def _list_page(self, source: str, participant_id: str, token: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"sourceStageArn": source, "participantId": participant_id}
        if token:
            kwargs["nextToken"] = token
        return dict(self.client.list_participant_replicas(**kwargs))

    def call(self, operation: str, send: Callable[[], T], deadline: Deadline) -> T:
        """Run `send`, retrying transient failures; raise ServiceError or DeadlineExceededError."""
        if self.pacer is not None:
            self.pacer.wait_turn(operation, deadline, self.attempt_budget_seconds)
        return aws.call(
            operation,
            send,
            deadline,
            sleep=self.sleep,
            attempt_budget_seconds=self.attempt_budget_seconds,
            burst_window_seconds=self._settings.burst_window_seconds,
        )


def paced(ivs: IvsRealtime) -> IvsRealtime:
    """`ivs`, given a pacer at its settings' rate measured on its own sleep and clock, as the
    deployed reconciler's is; returned for chaining (the same object, changed)."""
    ivs.pacer = Pacer(ivs.settings.calls_per_second, sleep=ivs.sleep, clock=ivs.clock)
    return ivs


def _merged_state(
    known: str | None, replica: Mapping[str, Any], live_session_id: str | None
) -> str:
    """A destination's state so far, merged with one more record: ACTIVE wins over STOPPED."""
    state = str(replica.get("replicationState"))
    live = live_session_id is None or replica.get("sourceSessionId") == live_session_id
    # Listed at all means at least STOPPED: "not listed" stays a distinct answer (absent).
    return ACTIVE if known == ACTIVE or (state == ACTIVE and live) else STOPPED
