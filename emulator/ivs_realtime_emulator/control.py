"""The control routes under ``/_local/``: what a test does to the emulator that no AWS
operation does (publish, unpublish, join and leave participants, move the clock, configure
faults, read the state and the call counts)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, urlsplit

from ivs_realtime_emulator import assumptions
from ivs_realtime_emulator.exceptions import IvsRealtimeError, MalformedBodyError, ValidationError
from ivs_realtime_emulator.faults import FaultPlan, FaultPlanError
from ivs_realtime_emulator.models import iso_timestamp

if TYPE_CHECKING:
    from ivs_realtime_emulator.server import IvsRealtimeEmulator

CONTROL_PREFIX: Final = "/_local/"


def control(
    app: IvsRealtimeEmulator, method: str, raw_path: str, body_bytes: bytes
) -> dict[str, Any]:
    parts = urlsplit(raw_path)
    route = (method, parts.path.removeprefix(CONTROL_PREFIX).strip("/"))
    action = _CONTROL_ROUTES.get(route)
    if action is None:
        raise IvsRealtimeError(
            f"Unknown control route: {method} {parts.path}",
            error_code="ResourceNotFoundException",
            status=404,
        )
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    return action(app, json_object(body_bytes), query)


def _control_unpublish(
    app: IvsRealtimeEmulator, body: dict[str, Any], _: dict[str, str]
) -> dict[str, Any]:
    stage_arn, participant_id = _text(body, "stageArn"), _text(body, "participantId")
    return {"unpublished": app.unpublish(stage_arn, participant_id)}


def _control_leave(
    app: IvsRealtimeEmulator, body: dict[str, Any], _: dict[str, str]
) -> dict[str, Any]:
    stage_arn, participant_id = _text(body, "stageArn"), _text(body, "participantId")
    return {"left": app.leave(stage_arn, participant_id)}


def _control_advance_clock(
    app: IvsRealtimeEmulator, body: dict[str, Any], _: dict[str, str]
) -> dict[str, Any]:
    app.clock.advance(_seconds(body))
    app.refresh()  # what the move made happen is announced now, not on the next request
    return {"now": iso_timestamp(app.clock.now())}


def _control_clear_faults(
    app: IvsRealtimeEmulator, _: dict[str, Any], query: dict[str, str]
) -> dict[str, Any]:
    app.faults.clear(query.get("operation"))
    return {}


def _control_release_hung(
    app: IvsRealtimeEmulator, _: dict[str, Any], __: dict[str, str]
) -> dict[str, Any]:
    app.faults.release_hung()
    return {}


def _control_state(
    app: IvsRealtimeEmulator, _: dict[str, Any], __: dict[str, str]
) -> dict[str, Any]:
    return app.snapshot()


def _control_calls(
    app: IvsRealtimeEmulator, _: dict[str, Any], __: dict[str, str]
) -> dict[str, Any]:
    return {"calls": app.calls}


def _control_reset_calls(
    app: IvsRealtimeEmulator, _: dict[str, Any], __: dict[str, str]
) -> dict[str, Any]:
    app.reset_calls()
    return {}


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"'{name}' must be a non-empty string")
    return value


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"'{name}' must be a string")
    return value


def _seconds(body: dict[str, Any]) -> float:
    seconds = body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValidationError("'seconds' must be a number >= 0")
    return float(seconds)


def _control_create_stage(
    app: IvsRealtimeEmulator, body: dict[str, Any], _: dict[str, str]
) -> dict[str, Any]:
    arn = app.create_stage(
        str(body.get("name") or ""),
        region=str(body.get("region") or assumptions.DEFAULT_REGION),
        account=str(body.get("account") or assumptions.DEFAULT_ACCOUNT),
        tags=body.get("tags"),
    )
    return {"arn": arn}


def _control_publish(
    app: IvsRealtimeEmulator, body: dict[str, Any], _: dict[str, str]
) -> dict[str, Any]:
    stage_arn, participant_id = _text(body, "stageArn"), _text(body, "participantId")
    session_id = app.publish(stage_arn, participant_id, user_id=_optional_text(body, "userId"))
    return {"stageArn": stage_arn, "participantId": participant_id, "sessionId": session_id}


def _control_join(
    app: IvsRealtimeEmulator, body: dict[str, Any], _: dict[str, str]
) -> dict[str, Any]:
    stage_arn, participant_id = _text(body, "stageArn"), _text(body, "participantId")
    session_id = app.join(stage_arn, participant_id, user_id=_optional_text(body, "userId"))
    return {"stageArn": stage_arn, "participantId": participant_id, "sessionId": session_id}


def _control_configure_faults(
    app: IvsRealtimeEmulator, body: dict[str, Any], _: dict[str, str]
) -> dict[str, Any]:
    operation = _text(body, "operation")
    try:
        plan = FaultPlan.from_json({k: v for k, v in body.items() if k != "operation"})
    except FaultPlanError as error:
        raise ValidationError(str(error)) from error
    app.faults.configure(operation, plan)
    return {"operation": operation}


_CONTROL_ROUTES: Final[
    dict[
        tuple[str, str],
        Callable[[IvsRealtimeEmulator, dict[str, Any], dict[str, str]], dict[str, Any]],
    ]
] = {
    ("POST", "stages"): _control_create_stage,
    ("POST", "publish"): _control_publish,
    ("POST", "unpublish"): _control_unpublish,
    ("POST", "join"): _control_join,
    ("POST", "leave"): _control_leave,
    ("POST", "clock/advance"): _control_advance_clock,
    ("POST", "faults"): _control_configure_faults,
    ("DELETE", "faults"): _control_clear_faults,
    ("POST", "faults/release"): _control_release_hung,
    ("GET", "state"): _control_state,
    ("GET", "calls"): _control_calls,
    ("DELETE", "calls"): _control_reset_calls,
}


def json_object(body_bytes: bytes) -> dict[str, Any]:
    if not body_bytes.strip():
        return {}
    try:
        body = json.loads(body_bytes)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedBodyError(f"Request body is not valid JSON: {error}") from error
    if not isinstance(body, dict):
        raise MalformedBodyError("Request body must be a JSON object")
    return body
