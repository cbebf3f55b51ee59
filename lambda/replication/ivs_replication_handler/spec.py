"""A replication as the handler knows it: properties parsed and validated (CloudFormation
delivers numbers as strings), physical ids, and the plan of an Update.

Pure: no boto3, no I/O, so every rule is testable with plain dicts. The rules themselves are
``contract``'s, shared with the construct.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from . import contract as c
from .contract import (
    PARTICIPANT_ID_FORM,
    RECONNECT_WINDOW_MAX_SECONDS,
    STAGE_ARN_FORM,
    WAIT_SECONDS_FORM,
    InvalidPropertyError,
    check_attributes,
    check_distinct_stages,
    check_participant_id,
    check_reconnect_window_seconds,
    check_stage_arn,
    check_wait_seconds,
    check_when_not_publishing,
)

# A replica's state as ListParticipantReplicas reports it.
ACTIVE = "ACTIVE"
STOPPED = "STOPPED"

# Separates the three parts of a physical id; no stage ARN or participant id can contain it.
_ID_SEPARATOR = "|"


@dataclass(frozen=True)
class ReplicationKey:
    """What identifies one replication in IVS: changing any part means a new replication."""

    source_stage_arn: str
    destination_stage_arn: str
    participant_id: str

    def physical_id(self) -> str:
        """Deterministic and parseable back (`parse_physical_id`): Delete needs nothing else."""
        return _ID_SEPARATOR.join(
            (self.source_stage_arn, self.destination_stage_arn, self.participant_id)
        )

    def describe(self) -> str:
        return (
            f"participant '{self.participant_id}' from {self.source_stage_arn} "
            f"to {self.destination_stage_arn}"
        )


@dataclass(frozen=True)
class ReplicationSpec:
    """A validated replication: its identity plus the settings Start takes."""

    key: ReplicationKey
    attributes: Mapping[str, str] = field(default_factory=dict)
    reconnect_window_seconds: int = 0
    # What a request does when the participant is not publishing (constants.MODES).
    when_not_publishing: str = c.MODE_FAIL
    wait_seconds: int = 0  # only with MODE_WAIT

    @property
    def follows(self) -> bool:
        return self.when_not_publishing == c.MODE_FOLLOW

    def settings_equal(self, other: ReplicationSpec) -> bool:
        """Equal in what IVS applies (the replication must restart if not)."""
        return (
            dict(self.attributes) == dict(other.attributes)
            and self.reconnect_window_seconds == other.reconnect_window_seconds
        )

    def mode_equal(self, other: ReplicationSpec) -> bool:
        return (self.when_not_publishing, self.wait_seconds) == (
            other.when_not_publishing,
            other.wait_seconds,
        )


def parse_properties(props: Mapping[str, object]) -> ReplicationSpec:
    """Validate ResourceProperties as CloudFormation delivers them (numbers arrive as strings).

    Raises InvalidPropertyError naming the custom-resource property (``ResourceProperties``
    itself when it is not a map).
    """
    source, destination = _checked_stages(props)
    participant_id = check_participant_id(
        c.PROP_PARTICIPANT_ID, _required(props, c.PROP_PARTICIPANT_ID, PARTICIPANT_ID_FORM)
    )
    mode = parse_when_not_publishing(props.get(c.PROP_WHEN_NOT_PUBLISHING))
    return ReplicationSpec(
        key=ReplicationKey(source, destination, participant_id),
        attributes=parse_attributes(props.get(c.PROP_ATTRIBUTES)),
        reconnect_window_seconds=parse_reconnect_window(props.get(c.PROP_RECONNECT_WINDOW_SECONDS)),
        when_not_publishing=mode,
        # Only a wait needs a length; other modes ignore the property (the construct sends 0).
        wait_seconds=parse_wait_seconds(props.get(c.PROP_WAIT_SECONDS))
        if mode == c.MODE_WAIT
        else 0,
    )


PROPERTIES_FORM = "a map of the replication's properties (SourceStageArn, DestinationStageArn, ...)"


def check_properties_map(name: str, props: object) -> Mapping[str, object]:
    """`props` if it is a map; raise InvalidPropertyError naming `name` (ResourceProperties or
    OldResourceProperties) otherwise, before any API call."""
    if not isinstance(props, Mapping):
        raise InvalidPropertyError(
            name, f"a {type(props).__name__} was given, not a map", PROPERTIES_FORM
        )
    return props


def _required(props: Mapping[str, object], name: str, allowed: str) -> object:
    if name not in props or props[name] is None:
        raise InvalidPropertyError(name, "the property is missing", allowed)
    return props[name]


def parse_reconnect_window(value: object) -> int:
    """Accept 30 and "30" (CloudFormation stringifies numbers); absent means the API default, 0."""
    if value is None or value == "":
        return 0
    return check_reconnect_window_seconds(
        c.PROP_RECONNECT_WINDOW_SECONDS, _whole_number(value, RECONNECT_WINDOW_MAX_SECONDS)
    )


def parse_when_not_publishing(value: object) -> str:
    """Absent means FAIL: a template written before the property existed was deployed by a
    handler that knew only fail, and its stack has no registry table that FOLLOW needs. FAIL is
    rollback-safe (an Update or rollback never fails for an absent publisher when nothing
    was running), so such stacks keep deploying."""
    if value is None or value == "":
        return c.MODE_FAIL
    return check_when_not_publishing(c.PROP_WHEN_NOT_PUBLISHING, value)


def parse_wait_seconds(value: object) -> int:
    """Accept 60 and "60"; required with WAIT."""
    if value is None or value == "":
        raise InvalidPropertyError(
            c.PROP_WAIT_SECONDS,
            f"it is missing while {c.PROP_WHEN_NOT_PUBLISHING} is WAIT",
            WAIT_SECONDS_FORM,
        )
    return check_wait_seconds(c.PROP_WAIT_SECONDS, _whole_number(value, c.WAIT_MAX_SECONDS))


def _whole_number(value: object, maximum: int) -> object:
    """A decimal string as an int (anything else unchanged, for the rule to reject).

    Strings of more digits than `maximum` become `maximum + 1`, out of range for the rule:
    int() would refuse thousands of digits with a bare ValueError.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    # isdecimal, not int(): int() would also take "+30", "3_0" and " 30 " silently.
    if not text.isascii() or not text.isdecimal() or text != value:
        return value
    digits = text.lstrip("0") or "0"
    return int(digits) if len(digits) <= len(str(maximum)) else maximum + 1


def parse_attributes(value: object) -> dict[str, str]:
    """Accept a map, or its JSON text (what a token or an older template may deliver)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
            raise InvalidPropertyError(
                c.PROP_ATTRIBUTES, "the text is not a JSON object", "a JSON object of strings"
            ) from error
    return check_attributes(c.PROP_ATTRIBUTES, value)


def parse_physical_id(physical_id: object) -> ReplicationKey | None:
    """The key a physical id names, or None when the id is not one of ours.

    Ids that are not ours include the provider framework's failed-create marker; deleting
    such a resource must succeed without any API call.
    """
    if not isinstance(physical_id, str):
        return None
    parts = physical_id.split(_ID_SEPARATOR)
    if len(parts) != 3:  # noqa: PLR2004 - source, destination, participant
        return None
    try:
        source = check_stage_arn(c.PROP_SOURCE_STAGE_ARN, parts[0])
        destination = check_stage_arn(c.PROP_DESTINATION_STAGE_ARN, parts[1])
        participant_id = check_participant_id(c.PROP_PARTICIPANT_ID, parts[2])
    except InvalidPropertyError:
        return None
    return ReplicationKey(source, destination, participant_id)


# --- Planning -------------------------------------------------------------------------------


class UpdateKind(Enum):
    """How an Update relates to what is deployed."""

    NO_CHANGE = "no-change"
    IN_PLACE = "in-place"  # same identity, new settings: Stop then Start, same physical id
    REPLACE = "replace"  # new identity: Start the new one; CloudFormation deletes the old id
    # The old properties describe another replication than the physical id (the rollback of
    # a failed replacement), or do not parse (the rollback of an Update that failed
    # validation). What runs under the id was never touched; only make sure it runs.
    ENSURE_RUNNING = "ensure-running"
    # Same replication and settings, another when-not-publishing mode: nothing to restart;
    # declare (or withdraw) it for the reconciler and make sure it runs.
    MODE_ONLY = "mode-only"


def plan_update(
    new: ReplicationSpec, physical_id: str, old_props: Mapping[str, object]
) -> UpdateKind:
    """Decide what an Update must do. The deployed identity comes from the physical id."""
    deployed_key = parse_physical_id(physical_id)
    if deployed_key != new.key:
        return UpdateKind.REPLACE
    old = try_parse_properties(old_props)
    if old is None:
        # Unparseable old properties are those of an Update that failed validation (its
        # rollback comes here), which changed nothing: what runs keeps running, untouched.
        return UpdateKind.ENSURE_RUNNING
    if old.key != new.key:
        return UpdateKind.ENSURE_RUNNING
    if not old.settings_equal(new):
        return UpdateKind.IN_PLACE
    return UpdateKind.NO_CHANGE if old.mode_equal(new) else UpdateKind.MODE_ONLY


def try_parse_properties(props: Mapping[str, object]) -> ReplicationSpec | None:
    """Old properties may come from an older, laxer version: unparseable means unknown."""
    try:
        return parse_properties(props)
    except InvalidPropertyError:
        return None


# --- Mirrors ---------------------------------------------------------------------------------

EVERY_PUBLISHER = c.EVERY_PUBLISHER


@dataclass(frozen=True)
class MirrorKey:
    """What identifies one mirror destination: a source stage mirrored into one stage."""

    source_stage_arn: str
    destination_stage_arn: str

    # The registry keys a mirror like a replication of EVERY_PUBLISHER.
    participant_id = EVERY_PUBLISHER

    def physical_id(self) -> str:
        """Deterministic and parseable back (`parse_mirror_physical_id`)."""
        return _ID_SEPARATOR.join(
            (self.source_stage_arn, self.destination_stage_arn, EVERY_PUBLISHER)
        )

    def describe(self) -> str:
        return f"the mirror of {self.source_stage_arn} into {self.destination_stage_arn}"

    def replication(self, participant_id: str) -> ReplicationKey:
        """The replication of one publisher of the source into the destination."""
        return ReplicationKey(self.source_stage_arn, self.destination_stage_arn, participant_id)


@dataclass(frozen=True)
class MirrorSpec:
    """A validated mirror destination: its key, the user ids it takes (None: every publisher),
    and the settings each of its replications starts with. Always in follow mode."""

    key: MirrorKey
    user_ids: tuple[str, ...] | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    reconnect_window_seconds: int = 0

    # Mirrors follow their publishers (a deploy never fails because nobody publishes).
    when_not_publishing = c.MODE_FOLLOW
    wait_seconds = 0
    follows = True

    def admits(self, user_id: str | None) -> bool:
        """Whether a publisher with this token user id is mirrored."""
        return self.user_ids is None or (user_id is not None and user_id in self.user_ids)

    def replication(self, participant_id: str) -> ReplicationSpec:
        """The declaration of one publisher's replication into the destination."""
        return ReplicationSpec(
            self.key.replication(participant_id),
            self.attributes,
            self.reconnect_window_seconds,
            c.MODE_FOLLOW,
        )

    def settings_equal(self, other: MirrorSpec | ReplicationSpec) -> bool:
        """Equal in what IVS applies to each replication."""
        return (
            dict(self.attributes) == dict(other.attributes)
            and self.reconnect_window_seconds == other.reconnect_window_seconds
        )


def _checked_stages(props: Mapping[str, object]) -> tuple[str, str]:
    """The source and destination stage ARNs of ResourceProperties (a map), both valid and
    distinct; raises InvalidPropertyError naming the property."""
    check_properties_map("ResourceProperties", props)
    source = check_stage_arn(
        c.PROP_SOURCE_STAGE_ARN, _required(props, c.PROP_SOURCE_STAGE_ARN, STAGE_ARN_FORM)
    )
    destination = check_stage_arn(
        c.PROP_DESTINATION_STAGE_ARN,
        _required(props, c.PROP_DESTINATION_STAGE_ARN, STAGE_ARN_FORM),
    )
    check_distinct_stages(
        c.PROP_SOURCE_STAGE_ARN, c.PROP_DESTINATION_STAGE_ARN, source, destination
    )
    return source, destination


def parse_mirror_properties(props: Mapping[str, object]) -> MirrorSpec:
    """Validate a StageMirror destination's ResourceProperties, as CloudFormation delivers them.

    Raises InvalidPropertyError naming the custom-resource property.
    """
    source, destination = _checked_stages(props)
    user_ids = props.get(c.PROP_USER_IDS)
    return MirrorSpec(
        MirrorKey(source, destination),
        None if user_ids is None or user_ids == "" else c.check_user_ids(c.PROP_USER_IDS, user_ids),
        parse_attributes(props.get(c.PROP_ATTRIBUTES)),
        parse_reconnect_window(props.get(c.PROP_RECONNECT_WINDOW_SECONDS)),
    )


def try_parse_mirror_properties(props: Mapping[str, object]) -> MirrorSpec | None:
    try:
        return parse_mirror_properties(props)
    except InvalidPropertyError:
        return None


def parse_mirror_physical_id(physical_id: object) -> MirrorKey | None:
    """The mirror a physical id names, or None when the id is not a mirror's (such as the
    provider framework's failed-create marker)."""
    if not isinstance(physical_id, str):
        return None
    parts = physical_id.split(_ID_SEPARATOR)
    if len(parts) != 3 or parts[2] != EVERY_PUBLISHER:  # noqa: PLR2004 - source, destination, *
        return None
    try:
        source = check_stage_arn(c.PROP_SOURCE_STAGE_ARN, parts[0])
        destination = check_stage_arn(c.PROP_DESTINATION_STAGE_ARN, parts[1])
    except InvalidPropertyError:
        return None
    return MirrorKey(source, destination)
