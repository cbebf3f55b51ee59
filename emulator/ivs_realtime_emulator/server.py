"""``IvsRealtimeEmulator``: an HTTP server speaking the IVS real-time REST-JSON API on 127.0.0.1.

Every AWS operation is ``POST /<OperationName>`` with a JSON body, as in botocore's model, so
an unmodified boto3 ``ivs-realtime`` client works against it (``endpoint_url=`` or
``AWS_ENDPOINT_URL_IVS_REALTIME``). A separate control API under ``/_local/`` lets any process
publish participants, move the clock, inject faults and read the whole state.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self, cast
from urllib.parse import urlsplit

from ivs_realtime_emulator import assumptions
from ivs_realtime_emulator.clients import local_client
from ivs_realtime_emulator.control import CONTROL_PREFIX, control, json_object
from ivs_realtime_emulator.exceptions import IvsRealtimeError
from ivs_realtime_emulator.faults import Faults
from ivs_realtime_emulator.models import (
    IvsState,
    ReplicaRecord,
    ReplicationState,
    SystemClock,
    iso_timestamp,
    region_and_account,
)
from ivs_realtime_emulator.profiles import ServiceProfile, resolve_profile
from ivs_realtime_emulator.responses import OPERATIONS, request_region
from ivs_realtime_emulator.serving import endpoint_url_of, serve_in_thread, stop_serving
from ivs_realtime_emulator.validation import operation_names, validate_request

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from types import TracebackType

    from mypy_boto3_ivs_realtime import IvsrealtimeClient

    from ivs_realtime_emulator.models import Clock, StageEvent

logger = logging.getLogger(__name__)

Event = dict[str, Any]
START_OPERATION = "StartParticipantReplication"


class ServerNotRunningError(RuntimeError):
    """The server has not been started (or was stopped)."""


class _DropConnection(Exception):  # noqa: N818 - a signal, not an error
    """Close the socket without any response."""


class IvsRealtimeEmulator:
    """A local Amazon IVS real-time endpoint.

    ``host`` default "127.0.0.1"; ``port`` default 0 (a free port); ``clock`` default a
    ``SystemClock`` (pass a ``ManualClock`` to drive time from a test); ``profile`` default
    the project's guess: a ``ServiceProfile``, the name of a built-in one (``PROFILES``) or
    the path of a profile JSON file (raises ``ProfileError``). ``faults`` default a new
    ``Faults()``; the profile's own rate limits are installed in it (``Faults.limit``),
    refilling on the given faults' ``monotonic``, or by default on this emulator's clock. Use as
    a context manager, or call ``start()`` and ``stop()``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        faults: Faults | None = None,
        profile: ServiceProfile | str | Path | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._state = IvsState(
            clock if clock is not None else SystemClock(), resolve_profile(profile)
        )
        self._faults = faults if faults is not None else Faults()
        # Given faults bring the time their throttling refills on; otherwise the service's
        # own limits run on the emulator's clock, like its other delays.
        limits_clock = None if faults is not None else self._state.clock.now
        _install_service_limits(self._faults, self._state.profile, limits_clock)
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
    def profile(self) -> ServiceProfile:
        """The service profile: the answers chosen where IVS documents none."""
        return self._state.profile

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
        try:
            self._state.delete_stage(stage_arn)
        finally:
            self.announce_pending()

    def client(self) -> IvsrealtimeClient:
        """A new boto3 ``ivs-realtime`` client for this endpoint: dummy credentials, short
        timeouts and a single attempt (see ``local_client``)."""
        return cast("IvsrealtimeClient", local_client("ivs-realtime", self.endpoint_url))

    def publish(self, stage_arn: str, participant_id: str, *, user_id: str | None = None) -> str:
        """Make ``participant_id`` publish in the stage (joining it, and starting a session,
        if need be); returns the session id. ``user_id`` default None: none, or the one it
        joined the session with.

        Subscribers get "Participant Published" unless it was already publishing. Raises
        ``ResourceNotFoundError`` for an unknown stage, ``ServiceQuotaExceededError`` (402)
        when the stage already holds the profile's ``max_publishers_per_stage`` publishers
        (replicas included), ``ConflictError`` when a replica holds the id there, and
        ``ValidationError`` for a malformed id or a userId other than the one it joined with.
        """
        try:
            return self._state.publish(stage_arn, participant_id, user_id=user_id).session_id
        finally:
            self.announce_pending()

    def unpublish(self, stage_arn: str, participant_id: str) -> bool:
        """Make the participant stop publishing and leave; False if it was not publishing.

        Subscribers get "Participant Unpublished" when it was publishing.
        """
        try:
            return self._state.unpublish(stage_arn, participant_id) is not None
        finally:
            self.announce_pending()

    def join(self, stage_arn: str, participant_id: str, *, user_id: str | None = None) -> str:
        """Connect ``participant_id`` to the stage without publishing (a viewer), starting a
        session if none is active; returns the session id. ``user_id`` default None.

        Announces nothing; a later ``publish`` makes it publish. Raises as ``publish`` does,
        except that viewers take no publisher slot.
        """
        try:
            return self._state.join(stage_arn, participant_id, user_id=user_id).session_id
        finally:
            self.announce_pending()

    def leave(self, stage_arn: str, participant_id: str) -> bool:
        """Disconnect a connected participant, publishing or not; False if it was not
        connected. Subscribers get "Participant Unpublished" when it was publishing. A replica
        leaves by StopParticipantReplication instead (``ConflictError``)."""
        try:
            return self._state.leave(stage_arn, participant_id) is not None
        finally:
            self.announce_pending()

    def refresh(self) -> None:
        """Apply every time-driven change due by the clock (reconnect windows running out, late
        Stops landing, idle sessions ending, the 24-hour cut-off) and announce its events.

        Every request and call does this first anyway; call it after moving a ``ManualClock``
        to have the events of what the move made happen delivered at once.
        """
        try:
            self._state.refresh()
        finally:
            self.announce_pending()

    def replicas(
        self,
        *,
        source_stage_arn: str | None = None,
        participant_id: str | None = None,
        destination_stage_arn: str | None = None,
        state: ReplicationState | None = None,
    ) -> list[ReplicaRecord]:
        """Snapshots of the replicas matching every given filter."""
        try:
            return self._state.replicas(
                source_stage_arn=source_stage_arn,
                participant_id=participant_id,
                destination_stage_arn=destination_stage_arn,
                state=state,
            )
        finally:
            self.announce_pending()

    def snapshot(self) -> dict[str, Any]:
        """The whole state, JSON-ready (what ``GET /_local/state`` answers)."""
        try:
            return {**self._state.snapshot(), "calls": self.calls}
        finally:
            self.announce_pending()

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Deliver EventBridge-shaped "IVS Stage Update" events; returns an unsubscribe function.

        "Participant Published" / "Participant Unpublished" when a participant starts or stops
        publishing in a stage: a publisher, and (profile ``replica_events``) a replica in its
        destination stage. ``detail`` holds ``event_name``, ``participant_id``, ``session_id``
        and ``user_id`` ("" for none); ``resources[0]`` is the stage ARN. Callbacks run in the
        thread of the request or call that made (or, for time-driven changes, first observed)
        the change, after the state changed and before that request is answered.
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

    def announce_pending(self) -> None:
        """Deliver the events of every state change not announced yet to the subscribers.

        Outside the state's lock, so a callback may call the emulator.
        """
        events = self._state.take_events()
        if not events:
            return
        with self._subscribers_lock:
            subscribers = list(self._subscribers)
        for change in events:
            event = stage_update_event(change)
            for callback in subscribers:
                callback(event)


def stage_update_event(change: StageEvent) -> Event:
    """The EventBridge event IVS sends for a stage change (detail-type "IVS Stage Update")."""
    region, account = region_and_account(change.stage_arn)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "IVS Stage Update",
        "source": "aws.ivs",
        "account": account,
        "time": iso_timestamp(change.at),
        "region": region,
        "resources": [change.stage_arn],
        "detail": {
            "event_name": change.event_name,
            "participant_id": change.participant_id,
            "session_id": change.session_id,
            "user_id": change.user_id,
        },
    }


def _install_service_limits(
    faults: Faults, profile: ServiceProfile, clock: Callable[[], float] | None
) -> None:
    """The profile's own rate limits, as token buckets that faults' ``clear`` keeps, refilled
    on ``clock`` (None: the faults' own)."""
    rate = profile.start_calls_per_second
    if rate is not None:
        faults.limit(START_OPERATION, rate_per_second=rate, burst=profile.start_burst, clock=clock)


# --- HTTP -----------------------------------------------------------------------------------


class _LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        app: IvsRealtimeEmulator,
    ) -> None:
        self.app = app
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server_version = "IvsRealtimeEmulator/1"

    @property
    def app(self) -> IvsRealtimeEmulator:
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
            try:
                if path.startswith(CONTROL_PREFIX):
                    payload = control(self.app, method, self.path, body_bytes)
                else:
                    payload = self._aws_operation(method, path.strip("/"), body_bytes)
            finally:
                # Before the answer: its caller sees the events of what its call changed.
                self.app.announce_pending()
            self._send_json(200, payload)
        except _DropConnection:
            self.close_connection = True
        except IvsRealtimeError as error:
            self._send_error(error)
        except Exception as error:
            logger.exception("local IVS endpoint failed on %s %s", method, path)
            self._send_error(
                IvsRealtimeError(str(error), error_code="InternalServerException", status=500)
            )

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _aws_operation(self, method: str, operation: str, body_bytes: bytes) -> dict[str, Any]:
        app = self.app
        app.count_call(operation)
        handler = OPERATIONS.get(operation) if method == "POST" else None
        if handler is None:
            raise _unknown_operation(method, operation)
        self._apply_faults(operation)
        body = json_object(body_bytes)
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

    def _send_error(self, error: IvsRealtimeError) -> None:
        self._send_json(error.status, {"exceptionMessage": error.message}, error.error_code)


def _unknown_operation(method: str, operation: str) -> IvsRealtimeError:
    if method == "POST" and operation in operation_names():
        return IvsRealtimeError(
            f"{operation} is not implemented by the local IVS real-time endpoint",
            error_code=assumptions.NOT_IMPLEMENTED_ERROR_CODE,
            status=assumptions.NOT_IMPLEMENTED_STATUS,
        )
    return IvsRealtimeError(
        f"Unknown operation: {method} /{operation}",
        error_code=assumptions.UNKNOWN_OPERATION_ERROR_CODE,
        status=assumptions.UNKNOWN_OPERATION_STATUS,
    )
