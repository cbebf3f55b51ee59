"""In-memory state of the local IVS real-time endpoint: stages, sessions, participants, replicas.

Pure Python behind one lock; time comes from an injectable clock, and time-driven changes (a
reconnect window running out, a late Stop landing, a session ending) are evaluated lazily
whenever state is read or changed, so a ``ManualClock`` makes every transition deterministic.
What IVS announces as "IVS Stage Update" events (a participant starting or stopping to publish)
is queued as ``StageEvent``s, which the server takes (``take_events``) and delivers outside the
lock.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from ivs_realtime_emulator import assumptions
from ivs_realtime_emulator.exceptions import (
    ConflictError,
    IvsRealtimeError,
    ResourceNotFoundError,
    ServiceQuotaExceededError,
    ValidationError,
)
from ivs_realtime_emulator.profiles import GUESS, ServiceProfile

ReplicationState = Literal["ACTIVE", "STOPPED"]
ACTIVE: Final = "ACTIVE"
STOPPED: Final = "STOPPED"
StageEventName = Literal["Participant Published", "Participant Unpublished"]
PARTICIPANT_PUBLISHED: Final = "Participant Published"
PARTICIPANT_UNPUBLISHED: Final = "Participant Unpublished"
# The model's UserId: 0-128 characters of any UTF-8 text.
_USER_ID_MAX_CHARS: Final = 128
_ID_ALPHABET: Final = string.ascii_letters + string.digits
_PARTICIPANT_ID: Final = re.compile(r"[a-zA-Z0-9-_]{1,64}")
_STAGE_NAME: Final = re.compile(r"[a-zA-Z0-9-_]{0,128}")
_ACCOUNT: Final = re.compile(r"[0-9]+")
_REGION: Final = re.compile(r"[a-z0-9-]+")
_ARN_PARTS: Final = re.compile(r"arn:aws:ivs:(?P<region>[a-z0-9-]+):(?P<account>[0-9]+):stage/")


class Clock(Protocol):
    """Where the endpoint's time comes from (seconds since the epoch)."""

    def now(self) -> float:
        """The current time."""
        ...

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        ...


class SystemClock:
    """Wall-clock time that can still be moved forward, for processes driven over HTTP."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """The wall-clock time plus every ``advance`` so far."""
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Shift time forward by ``seconds`` (must not be negative)."""
        _require_forward(seconds)
        with self._lock:
            self._offset += seconds


class ManualClock:
    """A clock that only moves when told to. Default start: 2023-11-14T22:13:20Z."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        """The current (frozen) time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (must not be negative)."""
        _require_forward(seconds)
        with self._lock:
            self._now += seconds


def _require_forward(seconds: float) -> None:
    if seconds < 0:
        raise ValueError(f"a clock only moves forward, got advance({seconds})")


@dataclass(frozen=True)
class ReplicaRecord:
    """A snapshot of one replica (times are clock seconds)."""

    source_stage_arn: str
    participant_id: str
    destination_stage_arn: str
    source_session_id: str
    destination_session_id: str
    state: ReplicationState
    reconnect_window_seconds: int
    attributes: dict[str, str]
    started_at: float
    stopped_at: float | None
    # When a Stop answered 200 takes effect (the profile's stop_effect_delay_seconds); None:
    # no Stop asked for. Until then the replica is ACTIVE.
    stop_takes_effect_at: float | None = None

    @property
    def stopping(self) -> bool:
        """ACTIVE, with a Stop answered that has not taken effect yet (the profile's
        ``stop_effect_delay_seconds``): it ends without anything else happening."""
        return self.state == ACTIVE and self.stop_takes_effect_at is not None

    def to_api(self) -> dict[str, str]:
        """The ``ParticipantReplica`` shape of ListParticipantReplicas."""
        return {
            "sourceStageArn": self.source_stage_arn,
            "participantId": self.participant_id,
            "sourceSessionId": self.source_session_id,
            "destinationStageArn": self.destination_stage_arn,
            "destinationSessionId": self.destination_session_id,
            "replicationState": self.state,
        }


@dataclass(frozen=True)
class PublishChange:
    """What publish/unpublish/join/leave did, for the caller."""

    stage_arn: str
    participant_id: str
    session_id: str
    changed: bool


@dataclass(frozen=True)
class StageEvent:
    """A participant started or stopped publishing in a stage session: what IVS announces as
    an "IVS Stage Update" event (``user_id`` is "" for a participant without one)."""

    event_name: StageEventName
    stage_arn: str
    session_id: str
    participant_id: str
    user_id: str
    at: float


@dataclass
class _Replica:
    source_stage_arn: str
    participant_id: str
    destination_stage_arn: str
    source_session_id: str
    destination_session_id: str
    reconnect_window_seconds: int
    attributes: dict[str, str]
    started_at: float
    user_id: str | None = None  # the source participant's
    state: ReplicationState = "ACTIVE"
    stopped_at: float | None = None
    stop_takes_effect_at: float | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source_stage_arn, self.participant_id, self.destination_stage_arn)

    @property
    def stopping(self) -> bool:
        """ACTIVE, with a Stop answered that has not taken effect yet."""
        return self.state == ACTIVE and self.stop_takes_effect_at is not None

    def snapshot(self) -> ReplicaRecord:
        return ReplicaRecord(
            source_stage_arn=self.source_stage_arn,
            participant_id=self.participant_id,
            destination_stage_arn=self.destination_stage_arn,
            source_session_id=self.source_session_id,
            destination_session_id=self.destination_session_id,
            state=self.state,
            reconnect_window_seconds=self.reconnect_window_seconds,
            attributes=dict(self.attributes),
            started_at=self.started_at,
            stopped_at=self.stopped_at,
            stop_takes_effect_at=self.stop_takes_effect_at,
        )


@dataclass
class _Participant:
    participant_id: str
    first_join_time: float
    user_id: str | None = None
    connected: bool = True
    publishing: bool = False
    # The model's `published`: whether it ever published in this session.
    published: bool = False
    left_at: float | None = None
    published_at: float | None = None  # when it last started publishing
    replica: _Replica | None = None  # set for a replica in its destination stage
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class _Session:
    session_id: str
    stage_arn: str
    start_time: float
    end_time: float | None = None
    participants: dict[str, _Participant] = field(default_factory=dict)

    def publisher_count(self) -> int:
        """Participants publishing now, replicas included (what the per-stage quota counts)."""
        return sum(participant.publishing for participant in self.participants.values())


@dataclass
class _Stage:
    arn: str
    name: str
    tags: dict[str, str]
    active_session_id: str | None = None
    sessions: list[_Session] = field(default_factory=list)


def iso_timestamp(seconds: float) -> str:
    """ISO 8601 UTC with milliseconds, the way IVS returns timestamps."""
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def random_id(length: int) -> str:
    """Letters and digits, for stage, session and participant ids."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_session_id() -> str:
    """A session id matching the model: 16 characters, ``st-[a-zA-Z0-9]+``."""
    prefix = assumptions.SESSION_ID_PREFIX
    return prefix + random_id(assumptions.SESSION_ID_LENGTH - len(prefix))


def region_and_account(stage_arn: str) -> tuple[str, str]:
    """The region and account of a stage ARN (defaults when it does not parse)."""
    parts = _ARN_PARTS.match(stage_arn)
    if parts is None:
        return assumptions.DEFAULT_REGION, assumptions.DEFAULT_ACCOUNT
    return parts["region"], parts["account"]


def paginate(
    items: list[dict[str, Any]], *, max_results: int | None, next_token: str | None, default: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``items`` and the token of the next page (None on the last page)."""
    offset = _decode_token(next_token) if next_token else 0
    size = max_results if max_results is not None else default
    page = items[offset : offset + size]
    following = offset + size
    token = _encode_token(following) if following < len(items) else None
    return page, token


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        label, _, number = text.partition(":")
        if label != "offset":
            raise ValueError(label)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise ValidationError(f"Invalid nextToken: {token}") from error


class IvsState:
    """Stages, sessions, participants and replicas of one local endpoint; thread-safe."""

    def __init__(self, clock: Clock, profile: ServiceProfile = GUESS) -> None:
        self.clock = clock
        self.profile = profile
        self._lock = threading.RLock()
        self._stages: dict[str, _Stage] = {}
        # The latest record per (source, participant, destination); older ones, when the
        # profile keeps history, in `_history` (what ListParticipantReplicas may also list).
        self._replicas: dict[tuple[str, str, str], _Replica] = {}
        self._history: list[_Replica] = []
        # Stage events of changes not yet announced (`take_events`).
        self._events: list[StageEvent] = []
        # Ingest configurations by ARN: an RTMP(S) encoder's fixed participant in a stage.
        self._ingest: dict[str, dict[str, Any]] = {}

    # --- stages ------------------------------------------------------------------------------

    def create_stage(
        self,
        *,
        name: str = "",
        tags: dict[str, str] | None = None,
        region: str = assumptions.DEFAULT_REGION,
        account: str = assumptions.DEFAULT_ACCOUNT,
    ) -> dict[str, Any]:
        """Create a stage; returns its ``Stage`` shape."""
        _require_stage_inputs(name, region, account)
        arn = f"arn:aws:ivs:{region}:{account}:stage/{random_id(assumptions.STAGE_ID_LENGTH)}"
        with self._lock:
            self._stages[arn] = _Stage(arn=arn, name=name, tags=dict(tags or {}))
            return self._stage_api(self._stages[arn])

    def get_stage(self, arn: str) -> dict[str, Any]:
        """The ``Stage`` shape of an existing stage."""
        with self._lock:
            self._refresh()
            return self._stage_api(self._stage(arn))

    def delete_stage(self, arn: str) -> None:
        """Disconnect everyone, end the session, stop replicas from or to the stage, delete it."""
        with self._lock:
            self._refresh()
            stage = self._stage(arn)
            now = self.clock.now()
            for replica in self._replicas.values():
                touches_stage = arn in (replica.source_stage_arn, replica.destination_stage_arn)
                if touches_stage and replica.state == ACTIVE:
                    self._stop_replica(replica, at=now)
            session = self._active_session(stage)
            if session is not None:
                for participant in session.participants.values():
                    self._leave(session, participant, at=now)
                session.end_time = now
            del self._stages[arn]

    def list_stage_sessions(self, arn: str) -> list[dict[str, Any]]:
        """``StageSessionSummary`` shapes, newest first (empty for an unknown stage)."""
        with self._lock:
            self._refresh()
            stage = self._stages.get(arn)
            sessions = [] if stage is None else list(reversed(stage.sessions))
            return [_session_summary(session) for session in sessions]

    # --- ingest configurations -----------------------------------------------------------------

    def create_ingest_configuration(
        self, *, stage_arn: str, protocol: str, name: str = "", region: str, account: str
    ) -> dict[str, Any]:
        """An ingest configuration publishing (once its encoder connects) into ``stage_arn``,
        with a generated participant id and stream key; its ``IngestConfiguration`` shape."""
        with self._lock:
            self._stage(stage_arn)
            config_id = random_id(assumptions.INGEST_CONFIGURATION_ID_LENGTH)
            arn = f"arn:aws:ivs:{region}:{account}:ingest-configuration/{config_id}"
            self._ingest[arn] = {
                "name": name,
                "arn": arn,
                "ingestProtocol": protocol,
                "streamKey": f"sk_{region}_{random_id(assumptions.STREAM_KEY_LENGTH)}",
                "stageArn": stage_arn,
                "participantId": random_id(assumptions.PARTICIPANT_ID_LENGTH),
                "userId": "",
                "attributes": {},
                "tags": {},
            }
            return self._ingest_api(arn)

    def get_ingest_configuration(self, arn: str) -> dict[str, Any]:
        """The ``IngestConfiguration`` shape; ACTIVE while its participant publishes."""
        with self._lock:
            self._refresh()
            return self._ingest_api(arn)

    def delete_ingest_configuration(self, arn: str) -> None:
        """Delete it; its encoder is disconnected."""
        with self._lock:
            config = self._ingest.get(arn)
            if config is None:
                raise ResourceNotFoundError(f"Ingest configuration not found: {arn}")
            if config["stageArn"] in self._stages:
                self.unpublish(config["stageArn"], config["participantId"])
            del self._ingest[arn]

    def _ingest_api(self, arn: str) -> dict[str, Any]:
        config = self._ingest.get(arn)
        if config is None:
            raise ResourceNotFoundError(f"Ingest configuration not found: {arn}")
        stage = self._stages.get(config["stageArn"])
        session = None if stage is None else self._active_session(stage)
        participant = None if session is None else session.participants.get(config["participantId"])
        active = participant is not None and participant.publishing
        return {**config, "state": "ACTIVE" if active else "INACTIVE"}

    # --- participants ------------------------------------------------------------------------

    def publish(
        self, stage_arn: str, participant_id: str | None = None, *, user_id: str | None = None
    ) -> PublishChange:
        """Make a participant publish in a stage, joining it (and starting a session) if needed.

        Publishing while already publishing changes nothing. ``user_id`` default None (none,
        or the one it joined with). Raises ``ResourceNotFoundError`` for an unknown stage,
        ``ValidationError`` for a malformed id, ``ConflictError`` when a replica holds the id
        in the stage, and ``ServiceQuotaExceededError`` when ``max_publishers_per_stage``
        participants already publish there.
        """
        chosen_id = participant_id or random_id(assumptions.PARTICIPANT_ID_LENGTH)
        _require_participant_id(chosen_id)
        _require_user_id(user_id)
        with self._lock:
            self._refresh()
            stage = self._stage(stage_arn)
            session = self._active_session(stage)
            present = None if session is None else session.participants.get(chosen_id)
            if session is not None and present is not None and present.publishing:
                _require_not_a_replica(present, stage_arn)
                _check_user_id(present, user_id)
                return PublishChange(stage_arn, chosen_id, session.session_id, changed=False)
            self._require_publisher_slot(stage_arn, session)
            session = session or self._start_session(stage)
            participant = self._connect(session, chosen_id, user_id)
            self._begin_publishing(session, participant)
            return PublishChange(stage_arn, chosen_id, session.session_id, changed=True)

    def join(
        self, stage_arn: str, participant_id: str | None = None, *, user_id: str | None = None
    ) -> PublishChange:
        """Connect a participant that does not publish (a viewer), starting a session if none
        is active. Joining while connected changes nothing. Raises as ``publish`` does (no
        quota: subscribers are not counted)."""
        chosen_id = participant_id or random_id(assumptions.PARTICIPANT_ID_LENGTH)
        _require_participant_id(chosen_id)
        _require_user_id(user_id)
        with self._lock:
            self._refresh()
            stage = self._stage(stage_arn)
            session = self._active_session(stage) or self._start_session(stage)
            present = session.participants.get(chosen_id)
            if present is not None and present.connected:
                _require_not_a_replica(present, stage_arn)
                _check_user_id(present, user_id)
                return PublishChange(stage_arn, chosen_id, session.session_id, changed=False)
            self._connect(session, chosen_id, user_id)
            return PublishChange(stage_arn, chosen_id, session.session_id, changed=True)

    def unpublish(self, stage_arn: str, participant_id: str) -> PublishChange | None:
        """Make a publishing participant stop publishing and leave the stage.

        Returns None (and changes nothing) when the participant is not publishing there.
        Its replicas follow the reconnect-window assumption.
        """
        with self._lock:
            self._refresh()
            session = self._active_session(self._stage(stage_arn))
            participant = None if session is None else session.participants.get(participant_id)
            if session is None or participant is None or not participant.publishing:
                return None
            return self._disconnect(session, participant)

    def leave(self, stage_arn: str, participant_id: str) -> PublishChange | None:
        """Disconnect a connected participant, publishing or not (a replica: use Stop).

        Returns None (and changes nothing) when it is not connected there.
        """
        with self._lock:
            self._refresh()
            session = self._active_session(self._stage(stage_arn))
            participant = None if session is None else session.participants.get(participant_id)
            if session is None or participant is None or not participant.connected:
                return None
            _require_not_a_replica(participant, stage_arn)
            return self._disconnect(session, participant)

    def get_participant(
        self, stage_arn: str, session_id: str, participant_id: str
    ) -> dict[str, Any]:
        """The ``Participant`` shape; raises ``ResourceNotFoundError`` when unknown."""
        with self._lock:
            self._refresh()
            session = self._session(stage_arn, session_id)
            participant = session.participants.get(participant_id)
            if participant is None:
                raise ResourceNotFoundError(
                    f"Participant {participant_id} not found in session {session_id}"
                )
            return self._participant_api(session, participant, summary=False)

    def list_participants(self, stage_arn: str, session_id: str) -> list[dict[str, Any]]:
        """``ParticipantSummary`` shapes of a session in joining order (empty when unknown)."""
        with self._lock:
            self._refresh()
            try:
                session = self._session(stage_arn, session_id)
            except ResourceNotFoundError:
                return []
            return [
                self._participant_api(session, participant, summary=True)
                for participant in session.participants.values()
            ]

    # --- replication -------------------------------------------------------------------------

    def start_replication(
        self,
        *,
        source_stage_arn: str,
        destination_stage_arn: str,
        participant_id: str,
        reconnect_window_seconds: int = 0,
        attributes: dict[str, str] | None = None,
    ) -> None:
        """StartParticipantReplication; raises the ``IvsRealtimeError`` the service would."""
        _require_small_attributes(attributes or {})
        if source_stage_arn == destination_stage_arn:
            raise IvsRealtimeError(
                "sourceStageArn and destinationStageArn must be different stages",
                error_code=assumptions.SAME_STAGE_ERROR_CODE,
                status=assumptions.SAME_STAGE_STATUS,
            )
        with self._lock:
            self._refresh()
            source = self._stage(source_stage_arn)
            destination = self._stage(destination_stage_arn)
            source_session = self._publishing_session(source, participant_id)
            key = (source_stage_arn, participant_id, destination_stage_arn)
            if self._already_active(key):
                return  # the profile's duplicate Start: 200, nothing changes
            destination_session = self._active_session(destination)
            self._require_publisher_slot(destination_stage_arn, destination_session, replica=True)
            destination_session = destination_session or self._start_session(destination)
            replica = _Replica(
                source_stage_arn=source_stage_arn,
                participant_id=participant_id,
                destination_stage_arn=destination_stage_arn,
                source_session_id=source_session.session_id,
                destination_session_id=destination_session.session_id,
                reconnect_window_seconds=reconnect_window_seconds,
                attributes=dict(attributes or {}),
                started_at=self.clock.now(),
                user_id=source_session.participants[participant_id].user_id,
            )
            self._join_as_replica(destination_session, replica)
            previous = self._replicas.get(replica.key)
            if previous is not None and self.profile.history != "replace":
                self._history.append(previous)
            self._replicas[replica.key] = replica

    def stop_replication(
        self, *, source_stage_arn: str, destination_stage_arn: str, participant_id: str
    ) -> None:
        """StopParticipantReplication; unknown or STOPPED replicas raise (see assumptions).

        Under a profile's ``stop_effect_delay_seconds`` the Stop only takes effect that much
        later; a second Stop meanwhile answers 200 and changes nothing (the first one's time
        stands).
        """
        with self._lock:
            self._refresh()
            replica = self._replicas.get((source_stage_arn, participant_id, destination_stage_arn))
            described = (
                f"replication of participant {participant_id} from {source_stage_arn} to "
                f"{destination_stage_arn}"
            )
            if replica is None or (replica.state == STOPPED and self.profile.stop_stopped != "ok"):
                conflict = replica is not None and self.profile.stop_stopped == "conflict"
                raise IvsRealtimeError(
                    f"The {described} is already stopped" if conflict else f"No active {described}",
                    error_code="ConflictException" if conflict else "ResourceNotFoundException",
                    status=409 if conflict else 404,
                )
            if replica.state == STOPPED or replica.stopping:
                return  # the profile's Stop of a STOPPED replica, or a Stop under way: 200
            now = self.clock.now()
            replica.stop_takes_effect_at = now + self.profile.stop_effect_delay_seconds
            self._refresh()  # a Stop without delay takes effect here

    def list_replicas(self, source_stage_arn: str, participant_id: str) -> list[dict[str, str]]:
        """``ParticipantReplica`` shapes of one participant, ACTIVE and STOPPED, with the
        profile's history records in its order."""
        with self._lock:
            self._refresh()
            mine = [
                replica
                for replica in [*self._history, *self._replicas.values()]
                if (replica.source_stage_arn, replica.participant_id)
                == (source_stage_arn, participant_id)
            ]
            if self.profile.history != "replace":
                # Stable: equal start times keep the order records were made in.
                mine.sort(key=lambda replica: replica.started_at)
                if self.profile.history == "keep-newest-first":
                    mine.reverse()
            return [replica.snapshot().to_api() for replica in mine]

    def replicas(
        self,
        *,
        source_stage_arn: str | None = None,
        participant_id: str | None = None,
        destination_stage_arn: str | None = None,
        state: ReplicationState | None = None,
    ) -> list[ReplicaRecord]:
        """Snapshots of the replicas matching every given filter, oldest first."""
        with self._lock:
            self._refresh()
            wanted = {
                "source_stage_arn": source_stage_arn,
                "participant_id": participant_id,
                "destination_stage_arn": destination_stage_arn,
                "state": state,
            }
            records = [replica.snapshot() for replica in self._replicas.values()]
        return [record for record in records if _matches(record, wanted)]

    # --- time and events -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Apply every change the clock says is due (each read and write does it anyway)."""
        with self._lock:
            self._refresh()

    def take_events(self) -> list[StageEvent]:
        """The stage events of every change since the last call, oldest first; forgets them."""
        with self._lock:
            events, self._events = self._events, []
            return events

    def snapshot(self) -> dict[str, Any]:
        """Everything, JSON-ready, for ``GET /_local/state``."""
        with self._lock:
            self._refresh()
            return {
                "now": iso_timestamp(self.clock.now()),
                "stages": [self._stage_snapshot(stage) for stage in self._stages.values()],
                "replicas": [_replica_snapshot(replica) for replica in self._replicas.values()],
            }

    # --- internals ---------------------------------------------------------------------------

    def _stage(self, arn: str) -> _Stage:
        stage = self._stages.get(arn)
        if stage is None:
            raise ResourceNotFoundError(f"Stage not found: {arn}")
        return stage

    def _session(self, stage_arn: str, session_id: str) -> _Session:
        stage = self._stage(stage_arn)
        for session in stage.sessions:
            if session.session_id == session_id:
                return session
        raise ResourceNotFoundError(f"Session {session_id} not found in stage {stage_arn}")

    def _active_session(self, stage: _Stage) -> _Session | None:
        if stage.active_session_id is None:
            return None
        return next(s for s in stage.sessions if s.session_id == stage.active_session_id)

    def _start_session(self, stage: _Stage) -> _Session:
        session = _Session(new_session_id(), stage.arn, start_time=self.clock.now())
        stage.sessions.append(session)
        stage.active_session_id = session.session_id
        return session

    def _connect(self, session: _Session, participant_id: str, user_id: str | None) -> _Participant:
        """The participant, connected: new in the session, or back (as itself, not a replica)."""
        participant = session.participants.get(participant_id)
        if participant is None:
            participant = _Participant(participant_id, self.clock.now(), user_id=user_id)
            session.participants[participant_id] = participant
        if participant.replica is not None:
            # A replica that left: its id is taken by a participant of this stage now.
            participant.replica = None
            participant.user_id = None
        _check_user_id(participant, user_id)
        participant.user_id = participant.user_id if user_id is None else user_id
        participant.connected = True
        participant.left_at = None
        return participant

    def _begin_publishing(self, session: _Session, participant: _Participant) -> None:
        now = self.clock.now()
        participant.publishing = True
        participant.published = True
        participant.published_at = now
        self._announce(PARTICIPANT_PUBLISHED, session, participant, at=now)

    def _disconnect(self, session: _Session, participant: _Participant) -> PublishChange:
        self._leave(session, participant, at=self.clock.now())
        self._refresh()
        return PublishChange(
            session.stage_arn, participant.participant_id, session.session_id, changed=True
        )

    def _leave(self, session: _Session, participant: _Participant, *, at: float) -> None:
        if not participant.connected:
            return
        was_publishing = participant.publishing
        participant.connected = False
        participant.publishing = False
        participant.left_at = at
        if was_publishing:
            self._announce(PARTICIPANT_UNPUBLISHED, session, participant, at=at)

    def _announce(
        self, name: StageEventName, session: _Session, participant: _Participant, *, at: float
    ) -> None:
        if participant.replica is not None and not self.profile.replica_events:
            return  # the profile: replicas announce nothing in their destination stage
        event = StageEvent(
            event_name=name,
            stage_arn=session.stage_arn,
            session_id=session.session_id,
            participant_id=participant.participant_id,
            user_id=participant.user_id or "",
            at=at,
        )
        self._events.append(event)

    def _require_publisher_slot(
        self, stage_arn: str, session: _Session | None, *, replica: bool = False
    ) -> None:
        """Refuse one publisher more in a stage that already holds the profile's maximum."""
        cap = self.profile.max_publishers_per_stage
        publishing = 0 if session is None else session.publisher_count()
        if publishing < cap:
            return
        what = "replicate a participant into" if replica else "publish in"
        raise ServiceQuotaExceededError(
            f"Cannot {what} stage {stage_arn}: {publishing} participants publish there "
            f"(replicas included), the maximum is {cap} publishers per stage"
        )

    def _publishing_session(self, stage: _Stage, participant_id: str) -> _Session:
        session = self._active_session(stage)
        participant = None if session is None else session.participants.get(participant_id)
        if session is None or participant is None or not self._replicable(participant):
            profile = self.profile
            raise IvsRealtimeError(
                profile.not_publishing_message(participant_id),
                error_code=profile.not_publishing_code,
                status=profile.not_publishing_status,
            )
        return session

    def _replicable(self, participant: _Participant) -> bool:
        """Publishing, for long enough that the profile's propagation delay has passed."""
        if not participant.publishing:
            return False
        since = participant.published_at or 0.0
        return self.clock.now() >= since + self.profile.publish_propagation_seconds

    def _already_active(self, key: tuple[str, str, str]) -> bool:
        """True for a duplicate Start the profile answers 200; raises its Conflict otherwise,
        and always while a Stop of the replica has yet to take effect."""
        existing = self._replicas.get(key)
        if existing is None or existing.state != ACTIVE:
            return False
        if existing.stopping:
            raise ConflictError(
                f"Participant {key[1]} is still being replicated to {key[2]}: its replication "
                "is stopping"
            )
        if self.profile.duplicate_start == "ok":
            return True
        raise IvsRealtimeError(
            f"Participant {key[1]} is already being replicated to {key[2]}",
            error_code=assumptions.ALREADY_REPLICATING_ERROR_CODE,
            status=assumptions.ALREADY_REPLICATING_STATUS,
        )

    def _join_as_replica(self, session: _Session, replica: _Replica) -> None:
        existing = session.participants.get(replica.participant_id)
        if existing is not None and existing.connected:
            raise ConflictError(
                f"Participant {replica.participant_id} is already connected to "
                f"{replica.destination_stage_arn}"
            )
        now = self.clock.now()
        participant = existing or _Participant(replica.participant_id, first_join_time=now)
        participant.connected = True
        participant.left_at = None
        participant.replica = replica
        participant.user_id = replica.user_id
        participant.attributes = dict(replica.attributes)
        session.participants[replica.participant_id] = participant
        self._begin_publishing(session, participant)

    def _stop_replica(self, replica: _Replica, *, at: float) -> None:
        replica.state = STOPPED
        replica.stopped_at = at
        destination = self._stages.get(replica.destination_stage_arn)
        session = None if destination is None else self._active_session(destination)
        if session is None or session.session_id != replica.destination_session_id:
            return
        participant = session.participants.get(replica.participant_id)
        if participant is not None and participant.replica is replica:
            self._leave(session, participant, at=at)

    def _refresh(self) -> None:
        """Apply what the clock says has happened: publishers cut off, replicas ending (a
        reconnect window run out, a late Stop landing), idle sessions ending."""
        now = self.clock.now()
        self._cut_off_publishers(now)
        due = [
            (deadline, replica)
            for replica in self._replicas.values()
            if (deadline := self._stop_deadline(replica)) is not None and now >= deadline
        ]
        # In the order they happened, so that their events are too.
        for deadline, replica in sorted(due, key=lambda pair: pair[0]):
            self._stop_replica(replica, at=deadline)
        for stage in self._stages.values():
            self._end_session_if_idle(stage)

    def _cut_off_publishers(self, now: float) -> None:
        """IVS disconnects a publisher after a fixed time (24 hours by its quotas)."""
        cutoff = self.profile.publisher_cutoff_seconds
        if cutoff is None:
            return
        for stage in self._stages.values():
            session = self._active_session(stage)
            for participant in [] if session is None else list(session.participants.values()):
                since = participant.published_at
                is_publisher = participant.publishing and participant.replica is None
                if session and is_publisher and since is not None and now >= since + cutoff:
                    self._leave(session, participant, at=since + cutoff)

    def _stop_deadline(self, replica: _Replica) -> float | None:
        """When an ACTIVE replica stops: a Stop landing or its reconnect window running out,
        whichever comes first (None: neither is coming)."""
        deadlines = [
            deadline
            for deadline in (self._reconnect_deadline(replica), replica.stop_takes_effect_at)
            if deadline is not None
        ]
        return min(deadlines) if deadlines and replica.state == ACTIVE else None

    def _reconnect_deadline(self, replica: _Replica) -> float | None:
        """When an ACTIVE replica stops because its publisher left (None: it is not leaving)."""
        if replica.state != ACTIVE:
            return None
        stage = self._stages.get(replica.source_stage_arn)
        session = None if stage is None else self._active_session(stage)
        if session is None or session.session_id != replica.source_session_id:
            return replica.started_at
        publisher = session.participants.get(replica.participant_id)
        if publisher is None or publisher.publishing or publisher.left_at is None:
            return None
        return publisher.left_at + replica.reconnect_window_seconds

    def _end_session_if_idle(self, stage: _Stage) -> None:
        session = self._active_session(stage)
        if session is None:
            return
        if any(p.connected for p in session.participants.values()):
            return
        waiting = [
            r
            for r in self._replicas.values()
            if r.state == ACTIVE and r.source_session_id == session.session_id
        ]
        if waiting:
            return
        ends_at = self._last_departure(session) + self.profile.session_end_delay_seconds
        if self.clock.now() < ends_at:
            return  # the profile keeps an idle session alive a while
        session.end_time = ends_at
        stage.active_session_id = None

    def _last_departure(self, session: _Session) -> float:
        times = [session.start_time]
        times += [p.left_at for p in session.participants.values() if p.left_at is not None]
        times += [
            r.stopped_at
            for r in self._replicas.values()
            if r.stopped_at is not None and r.source_session_id == session.session_id
        ]
        return max(times)

    def _stage_api(self, stage: _Stage) -> dict[str, Any]:
        shape: dict[str, Any] = {"arn": stage.arn, "name": stage.name, "tags": dict(stage.tags)}
        if stage.active_session_id is not None:
            shape["activeSessionId"] = stage.active_session_id
        return shape

    def _stage_snapshot(self, stage: _Stage) -> dict[str, Any]:
        return {
            **self._stage_api(stage),
            "sessions": [
                {
                    **_session_summary(session),
                    "participants": [
                        self._participant_api(session, p, summary=True)
                        for p in session.participants.values()
                    ],
                }
                for session in stage.sessions
            ],
        }

    def _participant_api(
        self, session: _Session, participant: _Participant, *, summary: bool
    ) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "participantId": participant.participant_id,
            "state": "CONNECTED" if participant.connected else "DISCONNECTED",
            "firstJoinTime": iso_timestamp(participant.first_join_time),
            # The model: "whether the participant ever published to the stage session".
            "published": participant.published,
            "recordingState": assumptions.PARTICIPANT_RECORDING_STATE,
            **self._replication_fields(session, participant),
        }
        if participant.user_id is not None:
            shape["userId"] = participant.user_id
        if not summary:
            shape["attributes"] = dict(participant.attributes)
        return shape

    def _replication_fields(self, session: _Session, participant: _Participant) -> dict[str, str]:
        replica = participant.replica
        if replica is not None:
            return {
                "replicationType": "REPLICA",
                "replicationState": replica.state,
                "sourceStageArn": replica.source_stage_arn,
                "sourceSessionId": replica.source_session_id,
            }
        replicas = [
            r
            for r in self._replicas.values()
            if r.source_session_id == session.session_id
            and r.participant_id == participant.participant_id
        ]
        if not replicas:
            return {"replicationType": "NONE"}
        active = any(r.state == ACTIVE for r in replicas)
        return {"replicationType": "SOURCE", "replicationState": ACTIVE if active else STOPPED}


def _replica_snapshot(replica: _Replica) -> dict[str, Any]:
    shape: dict[str, Any] = {
        **replica.snapshot().to_api(),
        "reconnectWindowSeconds": replica.reconnect_window_seconds,
        "attributeKeys": sorted(replica.attributes),
    }
    if replica.stopping and replica.stop_takes_effect_at is not None:
        shape["stopTakesEffectAt"] = iso_timestamp(replica.stop_takes_effect_at)
    return shape


def _require_not_a_replica(participant: _Participant, stage_arn: str) -> None:
    replica = participant.replica
    if replica is not None and participant.connected:
        raise ConflictError(
            f"Participant {participant.participant_id} is connected to {stage_arn} as a replica "
            f"from {replica.source_stage_arn}"
        )


def _check_user_id(participant: _Participant, user_id: str | None) -> None:
    """A participant's userId comes from its token: it cannot change in a session."""
    if user_id is not None and participant.user_id not in (None, user_id):
        raise ValidationError(
            f"Participant {participant.participant_id} joined with userId "
            f"{participant.user_id!r}; it cannot publish as {user_id!r}"
        )


def _require_user_id(user_id: str | None) -> None:
    if user_id is not None and len(user_id) > _USER_ID_MAX_CHARS:
        raise ValidationError(
            f"userId must be at most {_USER_ID_MAX_CHARS} characters, got {len(user_id)}"
        )


def _session_summary(session: _Session) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "sessionId": session.session_id,
        "startTime": iso_timestamp(session.start_time),
    }
    if session.end_time is not None:
        summary["endTime"] = iso_timestamp(session.end_time)
    return summary


def _matches(record: ReplicaRecord, wanted: dict[str, str | None]) -> bool:
    return all(value is None or getattr(record, name) == value for name, value in wanted.items())


def _require_participant_id(participant_id: str) -> None:
    if _PARTICIPANT_ID.fullmatch(participant_id) is None:
        raise ValidationError(
            f"participantId must be 1-64 characters of [a-zA-Z0-9-_], got {participant_id!r}"
        )


def _require_stage_inputs(name: str, region: str, account: str) -> None:
    if _STAGE_NAME.fullmatch(name) is None:
        raise ValidationError(f"name must be 0-128 characters of [a-zA-Z0-9-_], got {name!r}")
    if _REGION.fullmatch(region) is None:
        raise ValidationError(f"region must match [a-z0-9-]+, got {region!r}")
    if _ACCOUNT.fullmatch(account) is None:
        raise ValidationError(f"account must be digits, got {account!r}")


def _require_small_attributes(attributes: dict[str, str]) -> None:
    size = sum(len(k.encode()) + len(v.encode()) for k, v in attributes.items())
    if size > assumptions.ATTRIBUTES_MAX_UTF8_BYTES:
        raise ValidationError(
            f"attributes hold {size} bytes; at most {assumptions.ATTRIBUTES_MAX_UTF8_BYTES} "
            "bytes of keys and values are allowed"
        )
