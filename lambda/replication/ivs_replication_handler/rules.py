"""Validation rules for a replication, defined once.

The CDK construct applies them at synth time to concrete values (naming its Python
properties); the handler applies them to the resolved CloudFormation properties (naming the
custom-resource properties). Limits come from botocore's service model for ``ivs-realtime``
(StartParticipantReplicationRequest). Pure Python: no boto3, no CDK.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .constants import MODES, WAIT_MAX_SECONDS

STAGE_ARN_MAX_LENGTH = 128
STAGE_ARN_PATTERN = re.compile(r"arn:aws:ivs:[a-z0-9-]+:[0-9]+:stage/[a-zA-Z0-9-]+")
STAGE_ARN_FORM = "arn:aws:ivs:<region>:<account>:stage/<id> (at most 128 characters)"

PARTICIPANT_ID_MAX_LENGTH = 64
PARTICIPANT_ID_PATTERN = re.compile(r"[a-zA-Z0-9_-]*")
PARTICIPANT_ID_FORM = "1-64 characters from A-Z, a-z, 0-9, '-' and '_'"

RECONNECT_WINDOW_MAX_SECONDS = 300
RECONNECT_WINDOW_FORM = f"a whole number of seconds from 0 to {RECONNECT_WINDOW_MAX_SECONDS}"

ATTRIBUTES_MAX_BYTES = 1024
ATTRIBUTES_FORM = (
    f"a map of string keys to string values, at most {ATTRIBUTES_MAX_BYTES} bytes "
    "of UTF-8 in keys and values together"
)

WHEN_NOT_PUBLISHING_FORM = f"{', '.join(MODES[:-1])} or {MODES[-1]}"
WAIT_SECONDS_FORM = (
    f"a whole number of seconds from 1 to {WAIT_MAX_SECONDS} ({WAIT_MAX_SECONDS // 60} minutes)"
)

# ARNs are echoed in messages, but cut short so a message always fits CloudFormation's Reason.
_ECHO_LIMIT = 160


class InvalidPropertyError(ValueError):
    """A replication property is missing or malformed; raised before any API call."""

    def __init__(self, prop: str, problem: str, allowed: str) -> None:
        self.prop = prop
        self.problem = problem
        self.allowed = allowed
        super().__init__(f"Invalid {prop}: {problem}. Expected {allowed}.")


def echo(value: object) -> str:
    """Quote a (possibly long) user value for an error message."""
    text = repr(value)
    return text if len(text) <= _ECHO_LIMIT else text[: _ECHO_LIMIT - 3] + "..."


def check_stage_arn(prop: str, value: object) -> str:
    """Return ``value`` if it is a stage ARN the IVS API accepts; raise InvalidPropertyError."""
    if not isinstance(value, str):
        raise InvalidPropertyError(prop, f"{echo(value)} is not a string", STAGE_ARN_FORM)
    if not value:
        raise InvalidPropertyError(prop, "the value is empty", STAGE_ARN_FORM)
    if len(value) > STAGE_ARN_MAX_LENGTH:
        raise InvalidPropertyError(
            prop, f"{echo(value)} is {len(value)} characters long", STAGE_ARN_FORM
        )
    if not STAGE_ARN_PATTERN.fullmatch(value):
        raise InvalidPropertyError(prop, f"{echo(value)} is not a stage ARN", STAGE_ARN_FORM)
    return value


def check_participant_id(prop: str, value: object) -> str:
    """Return ``value`` if it is a usable participant id; raise InvalidPropertyError."""
    if not isinstance(value, str):
        raise InvalidPropertyError(prop, f"{echo(value)} is not a string", PARTICIPANT_ID_FORM)
    # The model allows an empty id, but nothing can publish under one: reject it.
    if not value:
        raise InvalidPropertyError(prop, "the value is empty", PARTICIPANT_ID_FORM)
    if len(value) > PARTICIPANT_ID_MAX_LENGTH:
        raise InvalidPropertyError(
            prop, f"{echo(value)} is {len(value)} characters long", PARTICIPANT_ID_FORM
        )
    if not PARTICIPANT_ID_PATTERN.fullmatch(value):
        raise InvalidPropertyError(
            prop, f"{echo(value)} contains characters outside the allowed set", PARTICIPANT_ID_FORM
        )
    return value


def check_reconnect_window_seconds(prop: str, value: object) -> int:
    """Return ``value`` if it is a whole number of seconds in range; raise InvalidPropertyError."""
    # bool is an int subclass; True is not a window.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPropertyError(prop, f"{echo(value)} is not an integer", RECONNECT_WINDOW_FORM)
    if not 0 <= value <= RECONNECT_WINDOW_MAX_SECONDS:
        raise InvalidPropertyError(prop, f"{value} is out of range", RECONNECT_WINDOW_FORM)
    return value


def check_attributes(prop: str, value: object) -> dict[str, str]:
    """Return ``value`` as a plain dict if it is a small string map; raise InvalidPropertyError.

    Error messages name offending keys, never values: attributes are visible to every stage
    participant, but they are still not ours to copy into logs.
    """
    if not isinstance(value, Mapping):
        raise InvalidPropertyError(
            prop, f"a {type(value).__name__} was given, not a map", ATTRIBUTES_FORM
        )
    size = 0
    checked: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidPropertyError(prop, f"key {echo(key)} is not a string", ATTRIBUTES_FORM)
        if not isinstance(item, str):
            raise InvalidPropertyError(
                prop, f"the value of key {echo(key)} is a {type(item).__name__}", ATTRIBUTES_FORM
            )
        size += len(key.encode("utf-8")) + len(item.encode("utf-8"))
        checked[key] = item
    if size > ATTRIBUTES_MAX_BYTES:
        raise InvalidPropertyError(prop, f"the map holds {size} bytes", ATTRIBUTES_FORM)
    return checked


def check_distinct_stages(source_prop: str, destination_prop: str, source: str, dest: str) -> None:
    """Raise InvalidPropertyError when a replication would point a stage at itself."""
    if source == dest:
        raise InvalidPropertyError(
            destination_prop,
            f"it equals {source_prop} ({echo(source)})",
            "a stage other than the source stage",
        )


def check_when_not_publishing(prop: str, value: object) -> str:
    """Return ``value`` if it names a mode (FAIL, WAIT, FOLLOW); raise InvalidPropertyError."""
    if value not in MODES:
        raise InvalidPropertyError(prop, f"{echo(value)} is not a mode", WHEN_NOT_PUBLISHING_FORM)
    return str(value)


def check_wait_seconds(prop: str, value: object) -> int:
    """Return ``value`` if it is a usable wait for the publisher; raise InvalidPropertyError.

    The bound comes from the provider framework: it calls the handler synchronously from a
    function with a 15-minute timeout, and a request needs time beyond the wait to start.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPropertyError(prop, f"{echo(value)} is not an integer", WAIT_SECONDS_FORM)
    if not 1 <= value <= WAIT_MAX_SECONDS:
        raise InvalidPropertyError(prop, f"{value} is out of range", WAIT_SECONDS_FORM)
    return value
