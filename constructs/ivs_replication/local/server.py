"""``LocalIvsRealtime``: an HTTP server speaking the IVS real-time REST-JSON API on 127.0.0.1.

Every AWS operation is ``POST /<OperationName>`` with a JSON body, as in botocore's model, so
an unmodified boto3 ``ivs-realtime`` client works against it (``endpoint_url=`` or
``AWS_ENDPOINT_URL_IVS_REALTIME``). A separate control API under ``/_local/`` lets any process
publish participants, move the clock, inject faults and read the whole state.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final, Self, cast
from urllib.parse import parse_qs, urlsplit

from ivs_replication.local import assumptions
from ivs_replication.local.clients import local_client
from ivs_replication.local.faults import FaultPlan, FaultPlanError, Faults
from ivs_replication.local.model import (
    MalformedBodyError,
    ServiceError,
    ValidationError,
    default_page_size,
    operation_names,
    validate_request,
)
from ivs_replication.local.serving import endpoint_url_of, serve_in_thread, stop_serving
from ivs_replication.local.state import (
    IvsState,
    ReplicaRecord,
    ReplicationState,
    SystemClock,
    iso_timestamp,
    paginate,
    region_and_account,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from mypy_boto3_ivs_realtime import IvsrealtimeClient

    from ivs_replication.local.state import Clock, PublishChange

logger = logging.getLogger(__name__)

Event = dict[str, Any]
_CONTROL_PREFIX: Final = "/_local/"
_CREDENTIAL_SCOPE: Final = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[a-z0-9-]+)/")
_LIST_FILTERS: Final = (
    "filterByUserId",
    "filterByPublished",
    "filterByState",
    "filterByRecordingState",
)


class ServerNotRunningError(RuntimeError):
    """The server has not been started (or was stopped)."""


class _DropConnection(Exception):  # noqa: N818 - a signal, not an error
    """Close the socket without any response."""


class LocalIvsRealtime:
    """A local Amazon IVS real-time endpoint.

    ``host`` default "127.0.0.1"; ``port`` default 0 (a free port); ``clock`` default a
    ``SystemClock`` (pass a ``ManualClock`` to drive time from a test). Use as a context
    manager, or call ``start()`` and ``stop()``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        faults: Faults | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._state = IvsState(clock if clock is not None else SystemClock())
        self._faults = faults if faults is not None else Faults()
        self._calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        self._subscribers: list[Callable[[Event], None]] = []
        self._subscribers_lock = threading.Lock()
        self._httpd: _LocalHttpServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind the port and serve in a daemon thread. Starting twice is a no-op."""
        if self._httpd is not None:
            return self
        self._faults.reopen()
        httpd = _LocalHttpServer((self._host, self._port), _Handler, app=self)
        self._httpd, self._thread = httpd, serve_in_thread(httpd, "local-ivs-realtime")
        return self

    def stop(self) -> None:
        """Stop serving: hung and delayed calls end at once. Stopping twice is a no-op."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._faults.close()
        stop_serving(httpd, thread)
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``; raises ``ServerNotRunningError`` before ``start()``."""
        if self._httpd is None:
            raise ServerNotRunningError("start() the server before asking for its endpoint_url")
        return endpoint_url_of(self._httpd)

    # --- control API -------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The clock every time-driven behaviour (reconnect windows, sessions) reads."""
        return self._state.clock

    @property
    def faults(self) -> Faults:
        """The per-operation fault configuration."""
        return self._faults

    @property
    def calls(self) -> dict[str, int]:
        """How many requests each AWS operation received (faulted ones included)."""
        with self._calls_lock:
            return dict(self._calls)

    def reset_calls(self) -> None:
        """Forget the call counters."""
        with self._calls_lock:
            self._calls.clear()

    def create_stage(
        self,
        name: str = "",
        *,
        region: str = assumptions.DEFAULT_REGION,
        account: str = assumptions.DEFAULT_ACCOUNT,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Create a stage directly; returns its ARN."""
        stage = self._state.create_stage(name=name, tags=tags, region=region, account=account)
        return str(stage["arn"])

    def delete_stage(self, stage_arn: str) -> None:
        """Delete a stage directly, as DeleteStage does (its replicas stop).

        Raises ``ResourceNotFoundError`` for an unknown stage.
        """
        self._state.delete_stage(stage_arn)

    def client(self) -> IvsrealtimeClient:
        """A new boto3 ``ivs-realtime`` client for this endpoint: dummy credentials, short
        timeouts and a single attempt (see ``local_client``)."""
        return cast("IvsrealtimeClient", local_client("ivs-realtime", self.endpoint_url))

    def publish(self, stage_arn: str, participant_id: str) -> str:
        """Make ``participant_id`` publish in the stage; returns the session id.

        Subscribers get "Participant Published" unless it was already publishing. Raises
        ``ResourceNotFoundError`` for an unknown stage.
        """
        change = self._state.publish(stage_arn, participant_id)
        if change.changed:
            self._announce(change, "Participant Published")
        return change.session_id

    def unpublish(self, stage_arn: str, participant_id: str) -> bool:
        """Make the participant stop publishing and leave; False if it was not publishing.

        Subscribers get "Participant Unpublished" when it was publishing.
        """
        change = self._state.unpublish(stage_arn, participant_id)
        if change is None:
            return False
        self._announce(change, "Participant Unpublished")
        return True

    def replicas(
        self,
        *,
        source_stage_arn: str | None = None,
        participant_id: str | None = None,
        destination_stage_arn: str | None = None,
        state: ReplicationState | None = None,
    ) -> list[ReplicaRecord]:
        """Snapshots of the replicas matching every given filter."""
        return self._state.replicas(
            source_stage_arn=source_stage_arn,
            participant_id=participant_id,
            destination_stage_arn=destination_stage_arn,
            state=state,
        )

    def snapshot(self) -> dict[str, Any]:
        """The whole state, JSON-ready (what ``GET /_local/state`` answers)."""
        return {**self._state.snapshot(), "calls": self.calls}

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Deliver EventBridge-shaped "IVS Stage Update" events; returns an unsubscribe function.

        Callbacks run in the thread that published, after the state changed.
        """
        with self._subscribers_lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._subscribers_lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    # --- used by the request handler -----------------------------------------------------------

    @property
    def state(self) -> IvsState:
        """The in-memory state behind the endpoint."""
        return self._state

    def count_call(self, operation: str) -> None:
        """Record one request for ``operation``."""
        with self._calls_lock:
            self._calls[operation] += 1

    def _announce(self, change: PublishChange, event_name: str) -> None:
        event = _stage_update_event(change, event_name, self.clock.now())
        with self._subscribers_lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback(event)


def _stage_update_event(change: PublishChange, event_name: str, now: float) -> Event:
    region, account = region_and_account(change.stage_arn)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "IVS Stage Update",
        "source": "aws.ivs",
        "account": account,
        "time": iso_timestamp(now),
        "region": region,
        "resources": [change.stage_arn],
        "detail": {
            "event_name": event_name,
            "participant_id": change.participant_id,
            "session_id": change.session_id,
        },
    }


# --- AWS operations -------------------------------------------------------------------------


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


_OPERATIONS: Final[dict[str, Callable[[IvsState, dict[str, Any], str], dict[str, Any]]]] = {
    "StartParticipantReplication": _start_participant_replication,
    "StopParticipantReplication": _stop_participant_replication,
    "ListParticipantReplicas": _list_participant_replicas,
    "GetParticipant": _get_participant,
    "ListParticipants": _list_participants,
    "ListStageSessions": _list_stage_sessions,
    "GetStage": _get_stage,
    "CreateStage": _create_stage,
    "DeleteStage": _delete_stage,
}
SUPPORTED_OPERATIONS: Final = frozenset(_OPERATIONS)


def request_region(authorization: str | None) -> str:
    """The region of a SigV4 Authorization header's credential scope (default us-east-1)."""
    found = _CREDENTIAL_SCOPE.search(authorization or "")
    return assumptions.DEFAULT_REGION if found is None else found["region"]


# --- HTTP -----------------------------------------------------------------------------------


class _LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        app: LocalIvsRealtime,
    ) -> None:
        self.app = app
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server_version = "LocalIvsRealtime/1"

    @property
    def app(self) -> LocalIvsRealtime:
        return cast("_LocalHttpServer", self.server).app

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s - " + format, self.address_string(), *args)

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        try:
            body_bytes = self._read_body()
            if path.startswith(_CONTROL_PREFIX):
                self._send_json(200, _control(self.app, method, self.path, body_bytes))
            else:
                self._send_json(200, self._aws_operation(method, path.strip("/"), body_bytes))
        except _DropConnection:
            self.close_connection = True
        except ServiceError as error:
            self._send_error(error)
        except Exception as error:
            logger.exception("local IVS endpoint failed on %s %s", method, path)
            self._send_error(
                ServiceError(str(error), error_code="InternalServerException", status=500)
            )

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _aws_operation(self, method: str, operation: str, body_bytes: bytes) -> dict[str, Any]:
        app = self.app
        app.count_call(operation)
        handler = _OPERATIONS.get(operation) if method == "POST" else None
        if handler is None:
            raise _unknown_operation(method, operation)
        self._apply_faults(operation)
        body = _json_object(body_bytes)
        validate_request(operation, body)
        return handler(app.state, body, request_region(self.headers.get("Authorization")))

    def _apply_faults(self, operation: str) -> None:
        faults = self.app.faults
        decision = faults.decide(operation)
        faults.sleep(decision.latency_seconds)
        if decision.drop:
            raise _DropConnection
        if decision.hang and not faults.wait_while_hung():
            raise _DropConnection
        if decision.error is not None:
            raise decision.error

    def _send_json(
        self, status: int, payload: dict[str, Any], error_type: str | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error_type is not None:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, error: ServiceError) -> None:
        self._send_json(error.status, {"exceptionMessage": error.message}, error.error_code)


def _unknown_operation(method: str, operation: str) -> ServiceError:
    if method == "POST" and operation in operation_names():
        return ServiceError(
            f"{operation} is not implemented by the local IVS real-time endpoint",
            error_code=assumptions.NOT_IMPLEMENTED_ERROR_CODE,
            status=assumptions.NOT_IMPLEMENTED_STATUS,
        )
    return ServiceError(
        f"Unknown operation: {method} /{operation}",
        error_code=assumptions.UNKNOWN_OPERATION_ERROR_CODE,
        status=assumptions.UNKNOWN_OPERATION_STATUS,
    )


def _json_object(body_bytes: bytes) -> dict[str, Any]:
    if not body_bytes.strip():
        return {}
    try:
        body = json.loads(body_bytes)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedBodyError(f"Request body is not valid JSON: {error}") from error
    if not isinstance(body, dict):
        raise MalformedBodyError("Request body must be a JSON object")
    return body


# --- control routes -------------------------------------------------------------------------


def _control(
    app: LocalIvsRealtime, method: str, raw_path: str, body_bytes: bytes
) -> dict[str, Any]:
    parts = urlsplit(raw_path)
    route = (method, parts.path.removeprefix(_CONTROL_PREFIX).strip("/"))
    action = _CONTROL_ROUTES.get(route)
    if action is None:
        raise ServiceError(
            f"Unknown control route: {method} {parts.path}",
            error_code="ResourceNotFoundException",
            status=404,
        )
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    return action(app, _json_object(body_bytes), query)


def _control_unpublish(
    app: LocalIvsRealtime, body: dict[str, Any], _: dict[str, str]
) -> dict[str, Any]:
    stage_arn, participant_id = _text(body, "stageArn"), _text(body, "participantId")
    return {"unpublished": app.unpublish(stage_arn, participant_id)}


def _control_advance_clock(
    app: LocalIvsRealtime, body: dict[str, Any], _: dict[str, str]
) -> dict[str, Any]:
    app.clock.advance(_seconds(body))
    return {"now": iso_timestamp(app.clock.now())}


def _control_clear_faults(
    app: LocalIvsRealtime, _: dict[str, Any], query: dict[str, str]
) -> dict[str, Any]:
    app.faults.clear(query.get("operation"))
    return {}


def _control_release_hung(
    app: LocalIvsRealtime, _: dict[str, Any], __: dict[str, str]
) -> dict[str, Any]:
    app.faults.release_hung()
    return {}


def _control_state(app: LocalIvsRealtime, _: dict[str, Any], __: dict[str, str]) -> dict[str, Any]:
    return app.snapshot()


def _control_calls(app: LocalIvsRealtime, _: dict[str, Any], __: dict[str, str]) -> dict[str, Any]:
    return {"calls": app.calls}


def _control_reset_calls(
    app: LocalIvsRealtime, _: dict[str, Any], __: dict[str, str]
) -> dict[str, Any]:
    app.reset_calls()
    return {}


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"'{name}' must be a non-empty string")
    return value


def _seconds(body: dict[str, Any]) -> float:
    seconds = body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValidationError("'seconds' must be a number >= 0")
    return float(seconds)


def _control_create_stage(
    app: LocalIvsRealtime, body: dict[str, Any], _: dict[str, str]
) -> dict[str, Any]:
    arn = app.create_stage(
        str(body.get("name") or ""),
        region=str(body.get("region") or assumptions.DEFAULT_REGION),
        account=str(body.get("account") or assumptions.DEFAULT_ACCOUNT),
        tags=body.get("tags"),
    )
    return {"arn": arn}


def _control_publish(
    app: LocalIvsRealtime, body: dict[str, Any], _: dict[str, str]
) -> dict[str, Any]:
    stage_arn, participant_id = _text(body, "stageArn"), _text(body, "participantId")
    session_id = app.publish(stage_arn, participant_id)
    return {"stageArn": stage_arn, "participantId": participant_id, "sessionId": session_id}


def _control_configure_faults(
    app: LocalIvsRealtime, body: dict[str, Any], _: dict[str, str]
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
        Callable[[LocalIvsRealtime, dict[str, Any], dict[str, str]], dict[str, Any]],
    ]
] = {
    ("POST", "stages"): _control_create_stage,
    ("POST", "publish"): _control_publish,
    ("POST", "unpublish"): _control_unpublish,
    ("POST", "clock/advance"): _control_advance_clock,
    ("POST", "faults"): _control_configure_faults,
    ("DELETE", "faults"): _control_clear_faults,
    ("POST", "faults/release"): _control_release_hung,
    ("GET", "state"): _control_state,
    ("GET", "calls"): _control_calls,
    ("DELETE", "calls"): _control_reset_calls,
}
