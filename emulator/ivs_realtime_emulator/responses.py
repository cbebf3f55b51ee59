"""The AWS operations: a request body (already validated against botocore's model) in, the
model's answer out, shaped as the service's output. ``OPERATIONS`` routes an operation name
(every operation is ``POST /<OperationName>``) to its response function."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from ivs_realtime_emulator import assumptions
from ivs_realtime_emulator.exceptions import ValidationError
from ivs_realtime_emulator.models import IvsState, paginate, region_and_account
from ivs_realtime_emulator.validation import default_page_size

_CREDENTIAL_SCOPE: Final = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[a-z0-9-]+)/")
_LIST_FILTERS: Final = (
    "filterByUserId",
    "filterByPublished",
    "filterByState",
    "filterByRecordingState",
)


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    return None if value is None else int(value)


def _with_token(result: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token is not None:
        result["nextToken"] = token
    return result


def _page(
    operation: str, items: list[dict[str, Any]], body: dict[str, Any]
) -> tuple[list[dict[str, Any]], str | None]:
    return paginate(
        items,
        max_results=_optional_int(body, "maxResults"),
        next_token=body.get("nextToken") or None,
        default=default_page_size(operation) or len(items) or 1,
    )


def _start_participant_replication(state: IvsState, body: dict[str, Any], _: str) -> dict[str, Any]:
    state.start_replication(
        source_stage_arn=body["sourceStageArn"],
        destination_stage_arn=body["destinationStageArn"],
        participant_id=body["participantId"],
        reconnect_window_seconds=_optional_int(body, "reconnectWindowSeconds") or 0,
        attributes=body.get("attributes"),
    )
    return {}


def _stop_participant_replication(state: IvsState, body: dict[str, Any], _: str) -> dict[str, Any]:
    state.stop_replication(
        source_stage_arn=body["sourceStageArn"],
        destination_stage_arn=body["destinationStageArn"],
        participant_id=body["participantId"],
    )
    return {}


def _list_participant_replicas(state: IvsState, body: dict[str, Any], _: str) -> dict[str, Any]:
    replicas = state.list_replicas(body["sourceStageArn"], body["participantId"])
    if body.get("maxResults") is None and state.profile.replicas_page_size is not None:
        body = {**body, "maxResults": state.profile.replicas_page_size}
    page, token = _page("ListParticipantReplicas", list(replicas), body)
    return _with_token({"replicas": page}, token)


def _get_participant(state: IvsState, body: dict[str, Any], _: str) -> dict[str, Any]:
    participant = state.get_participant(body["stageArn"], body["sessionId"], body["participantId"])
    return {"participant": participant}


def _list_participants(state: IvsState, body: dict[str, Any], _: str) -> dict[str, Any]:
    given = [name for name in _LIST_FILTERS if body.get(name) is not None]
    if len(given) > 1:
        raise ValidationError(
            "Only one of filterByUserId, filterByPublished, filterByState, or "
            f"filterByRecordingState can be provided per request; got {', '.join(given)}"
        )
    participants = state.list_participants(body["stageArn"], body["sessionId"])
    filtered = [p for p in participants if _passes_filter(p, body, given)]
    page, token = _page("ListParticipants", filtered, body)
    return _with_token({"participants": page}, token)


def _passes_filter(participant: dict[str, Any], body: dict[str, Any], given: list[str]) -> bool:
    if not given:
        return True
    name = given[0]
    field = {
        "filterByUserId": "userId",
        "filterByPublished": "published",
        "filterByState": "state",
        "filterByRecordingState": "recordingState",
    }[name]
    return bool(participant.get(field) == body[name])


def _list_stage_sessions(state: IvsState, body: dict[str, Any], _: str) -> dict[str, Any]:
    sessions = state.list_stage_sessions(body["stageArn"])
    page, token = _page("ListStageSessions", sessions, body)
    return _with_token({"stageSessions": page}, token)


def _get_stage(state: IvsState, body: dict[str, Any], _: str) -> dict[str, Any]:
    return {"stage": state.get_stage(body["arn"])}


def _create_stage(state: IvsState, body: dict[str, Any], region: str) -> dict[str, Any]:
    stage = state.create_stage(name=body.get("name") or "", tags=body.get("tags"), region=region)
    return {"stage": stage}


def _delete_stage(state: IvsState, body: dict[str, Any], _: str) -> dict[str, Any]:
    state.delete_stage(body["arn"])
    return {}


def _create_ingest_configuration(
    state: IvsState, body: dict[str, Any], region: str
) -> dict[str, Any]:
    stage_arn = body.get("stageArn")
    if not stage_arn:
        raise ValidationError("stageArn is required by the local endpoint")
    account = region_and_account(stage_arn)[1]
    config = state.create_ingest_configuration(
        stage_arn=stage_arn,
        protocol=body["ingestProtocol"],
        name=body.get("name") or "",
        region=region,
        account=account,
    )
    return {"ingestConfiguration": config}


def _get_ingest_configuration(state: IvsState, body: dict[str, Any], _: str) -> dict[str, Any]:
    return {"ingestConfiguration": state.get_ingest_configuration(body["arn"])}


def _delete_ingest_configuration(state: IvsState, body: dict[str, Any], _: str) -> dict[str, Any]:
    state.delete_ingest_configuration(body["arn"])
    return {}


OPERATIONS: Final[dict[str, Callable[[IvsState, dict[str, Any], str], dict[str, Any]]]] = {
    "StartParticipantReplication": _start_participant_replication,
    "StopParticipantReplication": _stop_participant_replication,
    "ListParticipantReplicas": _list_participant_replicas,
    "GetParticipant": _get_participant,
    "ListParticipants": _list_participants,
    "ListStageSessions": _list_stage_sessions,
    "GetStage": _get_stage,
    "CreateStage": _create_stage,
    "DeleteStage": _delete_stage,
    "CreateIngestConfiguration": _create_ingest_configuration,
    "GetIngestConfiguration": _get_ingest_configuration,
    "DeleteIngestConfiguration": _delete_ingest_configuration,
}
SUPPORTED_OPERATIONS: Final = frozenset(OPERATIONS)


def request_region(authorization: str | None) -> str:
    """The region of a SigV4 Authorization header's credential scope (default us-east-1)."""
    found = _CREDENTIAL_SCOPE.search(authorization or "")
    return assumptions.DEFAULT_REGION if found is None else found["region"]
