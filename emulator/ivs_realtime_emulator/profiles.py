"""Service profiles: every behaviour of IVS real-time that its documentation leaves open, as a
named, switchable option of the emulator.

A ``ServiceProfile`` holds one answer per open question; ``SOURCES`` says where each default
comes from (or that it is a guess). ``PROFILES`` holds the built-in variants, chosen so that
every plausible answer of every option is exercised by at least one of them; a profile probed
in a real account (``python -m ivs_replication_probe``) is a JSON file that ``load_profile``
reads::

    IvsRealtimeEmulator(profile="not-publishing-404")
    IvsRealtimeEmulator(profile=load_profile("probed-eu-west-1.json"))

Pure Python: the format is plain JSON of the fields below (unknown keys are refused, the
probe's ``observations`` and ``sources`` are kept for reading only).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

DuplicateStart = Literal["conflict", "ok"]
StopStopped = Literal["not-found", "conflict", "ok"]
History = Literal["replace", "keep-oldest-first", "keep-newest-first"]

PROFILE_FORMAT: Final = "ivs-realtime-emulator/profile/1"
DAY_SECONDS: Final = 86_400


class ProfileError(ValueError):
    """A profile name, file or field is not valid."""


@dataclass(frozen=True)
class ServiceProfile:
    """One set of answers to what IVS does not document. Defaults: the project's guess
    (``PROFILES["guess"]``); ``SOURCES`` names each field's source."""

    name: str = "guess"
    # StartParticipantReplication while the source participant is not publishing.
    not_publishing_code: str = "ValidationException"
    not_publishing_status: int = 400
    not_publishing_text: str = "{participant_id} is not publishing"
    # Start of a replica that is already ACTIVE: 409 ConflictException, or 200 (no change).
    duplicate_start: DuplicateStart = "conflict"
    # Stop of a replica that is already STOPPED: 404, 409, or 200 (no change).
    stop_stopped: StopStopped = "not-found"
    # ListParticipantReplicas: a new Start replaces the STOPPED record of the same destination,
    # or the old records are kept (as history) before or after the new one.
    history: History = "replace"
    # Page size of ListParticipantReplicas without maxResults (None: the model's default).
    replicas_page_size: int | None = None
    # Seconds after a participant starts publishing before Start accepts it.
    publish_propagation_seconds: float = 0.0
    # Seconds a stage session lives on after the last participant left.
    session_end_delay_seconds: float = 0.0
    # A publisher is disconnected after this long (None: never).
    publisher_cutoff_seconds: float | None = DAY_SECONDS
    # Seconds after a Stop answered 200 before it takes effect: meanwhile the replica is
    # listed ACTIVE, stays CONNECTED in the destination, and a Start of it answers 409.
    stop_effect_delay_seconds: float = 0.0
    # StartParticipantReplication calls per second the service accepts before answering 429
    # (None: no limit of its own; faults may still throttle), and how many may come at once.
    start_calls_per_second: float | None = None
    start_burst: int = 2
    # A replica joining (leaving) its destination stage announces "Participant Published"
    # ("Participant Unpublished") there, as a publisher does.
    replica_events: bool = True
    # Publishing participants per stage, replicas included: a Start into a full stage answers
    # 402 ServiceQuotaExceededException, and a publisher more is refused.
    max_publishers_per_stage: int = 12
    # Where each value came from (field -> text), e.g. a probe's run; informational.
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    # What a probe recorded (codes, texts, records, timings); informational.
    observations: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        _check(self)

    def not_publishing_message(self, participant_id: str) -> str:
        """The text of a "not publishing" refusal for ``participant_id``."""
        return self.not_publishing_text.replace("{participant_id}", participant_id)

    def source_of(self, name: str) -> str:
        """Where the value of field ``name`` comes from."""
        return self.sources.get(name) or SOURCES.get(name, "guess")

    def to_json(self) -> dict[str, Any]:
        """The profile as the JSON object ``from_json`` reads."""
        data = dataclasses.asdict(self)
        return {"format": PROFILE_FORMAT, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceProfile:
        """A profile from its JSON object; raises ``ProfileError`` for unknown or bad fields."""
        if not isinstance(data, dict):
            raise ProfileError("a profile is a JSON object")
        values = {k: v for k, v in data.items() if k != "format"}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ProfileError(f"unknown profile fields: {', '.join(unknown)}")
        try:
            return cls(**values)
        except TypeError as error:
            raise ProfileError(str(error)) from error


_CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "duplicate_start": ("conflict", "ok"),
    "stop_stopped": ("not-found", "conflict", "ok"),
    "history": ("replace", "keep-oldest-first", "keep-newest-first"),
}


def _check(profile: ServiceProfile) -> None:
    for name, choices in _CHOICES.items():
        if getattr(profile, name) not in choices:
            raise ProfileError(f"{name} must be one of {', '.join(choices)}")
    if not 400 <= profile.not_publishing_status <= 499:  # noqa: PLR2004 - client errors
        raise ProfileError("not_publishing_status must be a 4xx status")
    if "{participant_id}" not in profile.not_publishing_text and not profile.not_publishing_text:
        raise ProfileError("not_publishing_text must not be empty")
    if profile.replicas_page_size is not None and profile.replicas_page_size < 1:
        raise ProfileError("replicas_page_size must be at least 1")
    for name in (
        "publish_propagation_seconds",
        "session_end_delay_seconds",
        "stop_effect_delay_seconds",
    ):
        if getattr(profile, name) < 0:
            raise ProfileError(f"{name} must not be negative")
    for name in ("publisher_cutoff_seconds", "start_calls_per_second"):
        value = getattr(profile, name)
        if value is not None and value <= 0:
            raise ProfileError(f"{name} must be positive (or null)")
    for name in ("start_burst", "max_publishers_per_stage"):
        if getattr(profile, name) < 1:
            raise ProfileError(f"{name} must be at least 1")
    # JSON has booleans; a string such as "false" would be truthy here.
    if not isinstance(profile.replica_events, bool):
        raise ProfileError("replica_events must be true or false")


SOURCES: Final[dict[str, str]] = {
    "not_publishing_code": "guess (undocumented; independent app code treats 404 and 409 so)",
    "not_publishing_status": "guess (undocumented)",
    "not_publishing_text": "a third-party guide quotes '<participantId> is not publishing'",
    "duplicate_start": "guess (undocumented; ConflictException is among Start's errors)",
    "stop_stopped": "guess (undocumented; ResourceNotFoundException is among Stop's errors)",
    "history": "guess (records carry sourceSessionId/destinationSessionId; order undocumented)",
    "replicas_page_size": "botocore model (maxResults default)",
    "publish_propagation_seconds": "guess (undocumented)",
    "session_end_delay_seconds": "guess (IVS docs: a session ends some minutes after the "
    "last participant leaves; 0 keeps tests short)",
    "publisher_cutoff_seconds": "IVS service quotas: a publisher is disconnected after 24 hours",
    "stop_effect_delay_seconds": "guess (undocumented; 0: a Stop takes effect before its answer)",
    "start_calls_per_second": "guess (replication's rates are undocumented; most stage APIs "
    "allow about 5 TPS)",
    "start_burst": "guess (undocumented; used only with start_calls_per_second)",
    "replica_events": "guess (undocumented; announcing them exercises event loops)",
    "max_publishers_per_stage": "IVS service quotas: 12 publishers per stage (fixed; a replica "
    "takes a slot)",
}

GUESS: Final = ServiceProfile()

PROFILES: Final[dict[str, ServiceProfile]] = {
    profile.name: profile
    for profile in (
        GUESS,
        # "Not publishing" as the missing participant of app code's 404; a duplicate Start that
        # changes nothing; Stop of a STOPPED replica as a Conflict; history kept, oldest first,
        # one record per page: the live record comes last, after STOPPED ones.
        ServiceProfile(
            name="not-publishing-404",
            not_publishing_code="ResourceNotFoundException",
            not_publishing_status=404,
            not_publishing_text="Participant {participant_id} was not found in the stage session",
            duplicate_start="ok",
            stop_stopped="conflict",
            history="keep-oldest-first",
            replicas_page_size=1,
        ),
        # "Not publishing" as a Conflict in words the handler does not know; Stop of a STOPPED
        # replica changes nothing; history kept, newest first, two per page.
        ServiceProfile(
            name="not-publishing-409",
            not_publishing_code="ConflictException",
            not_publishing_status=409,
            not_publishing_text="Source participant is not in a state that can be replicated",
            stop_stopped="ok",
            history="keep-newest-first",
            replicas_page_size=2,
        ),
        # The known text, but only some seconds after publishing starts; sessions outlive
        # their last participant by a minute.
        ServiceProfile(
            name="slow-propagation",
            publish_propagation_seconds=3.0,
            session_end_delay_seconds=60.0,
            history="keep-oldest-first",
            replicas_page_size=1,
        ),
        # A Stop answered 200 lands two seconds later (a Start of it meanwhile: 409, whatever
        # duplicate_start says), and Start accepts about two calls a second.
        ServiceProfile(
            name="late-stop",
            stop_effect_delay_seconds=2.0,
            start_calls_per_second=2.0,
            start_burst=2,
        ),
        # A session outlives its last publisher by two minutes (its departed publishers listed
        # DISCONNECTED meanwhile), and replicas announce nothing in their destination stages.
        ServiceProfile(
            name="lingering-session",
            session_end_delay_seconds=120.0,
            replica_events=False,
        ),
    )
}


def profile_named(name: str) -> ServiceProfile:
    """A built-in profile; raises ``ProfileError`` naming the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ProfileError(
            f"unknown service profile {name!r}; built in: {', '.join(PROFILES)}"
        ) from None


def load_profile(path: str | Path) -> ServiceProfile:
    """A profile from a JSON file (what the probe writes); raises ``ProfileError``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ProfileError(f"cannot read profile {path}: {error}") from error
    return ServiceProfile.from_json(data)


def resolve_profile(profile: ServiceProfile | str | Path | None) -> ServiceProfile:
    """A profile object from a profile, a built-in name, or a JSON file path (None: guess)."""
    if profile is None:
        return GUESS
    if isinstance(profile, ServiceProfile):
        return profile
    if isinstance(profile, Path) or str(profile).endswith(".json"):
        return load_profile(profile)
    return profile_named(str(profile))
