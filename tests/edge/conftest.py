"""Fixtures for the handler at its AWS edge: a real boto3 ivs-realtime client with botocore's
Stubber, a fake Lambda context, and custom-resource events shaped like the ones the CDK
provider framework's onEvent receives. No test here ever reaches AWS."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from typing import Any, ClassVar

import boto3
import pytest
from botocore.stub import Stubber

from ivs_replication_handler import handler
from ivs_replication_handler.ivs import IvsRealtime
from ivs_replication_handler.replicas import STOP_EFFECT_DELAYS
from tests.edge.follow_world import world
from tests.local_endpoint import make_ivs
from tests.service_profiles import local_ivs, service_profile

# Fixtures of the tests against the local endpoints: each such test runs under every profile.
__all__ = ["local_ivs", "make_ivs", "service_profile", "world"]

REGION = "us-east-1"
ACCOUNT = "123456789012"
SOURCE = f"arn:aws:ivs:{REGION}:{ACCOUNT}:stage/SourceStage01"
DESTINATION = f"arn:aws:ivs:{REGION}:{ACCOUNT}:stage/DestinationStage01"
OTHER_DESTINATION = f"arn:aws:ivs:{REGION}:{ACCOUNT}:stage/DestinationStage02"
PARTICIPANT = "host-1"
RESPONSE_URL = (
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/secret-presigned"
)
SERVICE_TOKEN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:Stack-ProviderframeworkonEvent"
STACK_ID = (
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/Stack/0a1b2c3d-1111-2222-3333-444455556666"
)
FAILED_CREATE_MARKER = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"


# A local port nothing listens on (the discard service's, never served here).
UNREACHABLE_ENDPOINT = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and a region: a client can be built, but nothing is signed for real."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_IVS_REALTIME"):
        monkeypatch.delenv(name, raising=False)
    # A client a test forgot to redirect or inject is refused locally, never sent to AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL", UNREACHABLE_ENDPOINT)
    # Would make Powertools log the whole event (ResponseURL included): not our default.
    monkeypatch.delenv("POWERTOOLS_LOGGER_LOG_EVENT", raising=False)


@dataclass
class StubbedIvs:
    """An `IvsRealtime` over a Stubber-backed client; `sleeps` records every backoff."""

    client: Any
    stubber: Stubber
    ivs: IvsRealtime
    sleeps: list[float] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    hooks: list[Any] = field(default_factory=list)

    def expect_start(
        self,
        source: str = SOURCE,
        destination: str = DESTINATION,
        participant: str = PARTICIPANT,
        *,
        attributes: dict[str, str] | None = None,
        window: int = 0,
    ) -> None:
        self.stubber.add_response(
            "start_participant_replication",
            {},
            start_params(source, destination, participant, attributes=attributes, window=window),
        )

    def expect_start_error(
        self,
        code: str,
        status: int,
        message: str = "",
        *,
        exception_message: str | None = None,
        destination: str = DESTINATION,
        attributes: dict[str, str] | None = None,
        window: int = 0,
    ) -> None:
        params = start_params(destination=destination, attributes=attributes, window=window)
        self._error(
            "start_participant_replication",
            code=code,
            status=status,
            message=message,
            exception_message=exception_message,
            params=params,
        )

    def expect_stop(
        self, source: str = SOURCE, destination: str = DESTINATION, participant: str = PARTICIPANT
    ) -> None:
        self.stubber.add_response(
            "stop_participant_replication",
            {},
            stop_params(source, destination, participant),
        )

    def expect_undo_stop(self, destination: str = DESTINATION) -> None:
        """The Stop of an undo, then the listing that shows it stopped: an undo returns once its
        Stop shows (`Replicas.stop_and_await`)."""
        self.expect_stop(destination=destination)
        self.expect_list({destination: "STOPPED"})

    def expect_stop_error(
        self, code: str, status: int, message: str = "", *, destination: str = DESTINATION
    ) -> None:
        params = stop_params(destination=destination)
        self._error(
            "stop_participant_replication",
            code=code,
            status=status,
            message=message,
            exception_message=None,
            params=params,
        )

    def expect_list(
        self,
        states: dict[str, str],
        *,
        source: str = SOURCE,
        participant: str = PARTICIPANT,
        token_in: str | None = None,
        token_out: str | None = None,
    ) -> None:
        """ListParticipantReplicas answering one replica per destination, with its state;
        `token_in` is the nextToken the request must carry, `token_out` the one returned."""
        self.expect_list_records(
            [(destination, state, "st-source-session") for destination, state in states.items()],
            source=source,
            participant=participant,
            token_in=token_in,
            token_out=token_out,
        )

    def expect_list_records(
        self,
        records: list[tuple[str, str, str]],
        *,
        source: str = SOURCE,
        participant: str = PARTICIPANT,
        token_in: str | None = None,
        token_out: str | None = None,
    ) -> None:
        """ListParticipantReplicas answering these (destination, state, source session id)
        records, several per destination if need be."""
        replicas = [
            {
                "sourceStageArn": source,
                "participantId": participant,
                "sourceSessionId": session,
                "destinationStageArn": destination,
                "destinationSessionId": "st-destination-session",
                "replicationState": state,
            }
            for destination, state, session in records
        ]
        response: dict[str, Any] = {"replicas": replicas}
        if token_out:
            response["nextToken"] = token_out
        params: dict[str, Any] = {"sourceStageArn": source, "participantId": participant}
        if token_in:
            params["nextToken"] = token_in
        self.stubber.add_response("list_participant_replicas", response, params)

    def expect_get_stage(self, session_id: str | None = None, *, stage: str = SOURCE) -> None:
        """GetStage answering the stage, with `session_id` as its active session (or none)."""
        shape: dict[str, Any] = {"arn": stage}
        if session_id:
            shape["activeSessionId"] = session_id
        self.stubber.add_response("get_stage", {"stage": shape}, {"arn": stage})

    def expect_get_participant(
        self,
        session_id: str,
        *,
        published: bool = True,
        state: str = "CONNECTED",
        stage: str = SOURCE,
        participant: str = PARTICIPANT,
    ) -> None:
        """GetParticipant answering the participant with `published` and `state`."""
        self.stubber.add_response(
            "get_participant",
            {"participant": {"participantId": participant, "published": published, "state": state}},
            {"stageArn": stage, "sessionId": session_id, "participantId": participant},
        )

    def expect_not_publishing_observed(self) -> None:
        """The source stage has no active session: nobody publishes."""
        self.expect_get_stage(None)

    def expect_publishing_observed(self, session_id: str = "st-source-session") -> None:
        """The source stage's active session is `session_id`, and the participant publishes
        in it."""
        self.expect_get_stage(session_id)
        self.expect_get_participant(session_id)

    def expect_listed_active_while_a_stop_is_watched(self, destination: str = DESTINATION) -> None:
        """Every listing of the watch for a Stop to show (`Replicas.await_stopped`, and the one
        after a refused Stop) lists the replica ACTIVE: it never shows."""
        for _ in range(1 + len(STOP_EFFECT_DELAYS)):
            self.expect_list({destination: "ACTIVE"})

    def fail_next(self, operation: str, error: Exception) -> None:
        """The next `operation` call fails without an HTTP answer (a transport error)."""
        pending = [error]

        def fail(model: Any, **_: Any) -> None:
            if model.name == operation and pending:
                raise pending.pop()

        # Raised while the request is built: the Stubber answers before any later hook runs.
        self.hooks.append(fail)  # botocore keeps only a weak reference to handlers
        self.client.meta.events.register("before-parameter-build.ivs-realtime", fail)

    def _error(
        self,
        method: str,
        *,
        code: str,
        status: int,
        message: str,
        exception_message: str | None,
        params: dict[str, Any],
    ) -> None:
        self.stubber.add_client_error(
            method,
            service_error_code=code,
            service_message=message,
            http_status_code=status,
            response_meta={"RequestId": "req-0000"},
            modeled_fields=(
                {"exceptionMessage": exception_message} if exception_message is not None else None
            ),
            expected_params=params,
        )


def start_params(
    source: str = SOURCE,
    destination: str = DESTINATION,
    participant: str = PARTICIPANT,
    *,
    attributes: dict[str, str] | None = None,
    window: int = 0,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "sourceStageArn": source,
        "destinationStageArn": destination,
        "participantId": participant,
        "reconnectWindowSeconds": window,
    }
    if attributes:
        params["attributes"] = attributes
    return params


def stop_params(
    source: str = SOURCE, destination: str = DESTINATION, participant: str = PARTICIPANT
) -> dict[str, Any]:
    return {
        "sourceStageArn": source,
        "destinationStageArn": destination,
        "participantId": participant,
    }


@pytest.fixture
def stubbed(context: FakeLambdaContext) -> Any:
    """A real ivs-realtime client under a Stubber, wrapped in `IvsRealtime` whose sleep only
    records the delay and advances the fake Lambda clock (so deadlines still come).

    `calls` lists every operation the handler attempted, in order; on leaving, every
    expected call must have been made.
    """
    client = boto3.client("ivs-realtime", region_name=REGION)
    stubber = Stubber(client)
    fake = StubbedIvs(client=client, stubber=stubber, ivs=None)  # type: ignore[arg-type]

    def sleep(seconds: float) -> None:
        fake.sleeps.append(seconds)
        context.elapsed_ms += int(seconds * 1000)

    fake.ivs = IvsRealtime(client=client, sleep=sleep)

    def record(model: Any, **_: Any) -> None:
        fake.calls.append(model.name)

    client.meta.events.register("before-parameter-build.ivs-realtime", record)
    with stubber:
        yield fake
        stubber.assert_no_pending_responses()


@dataclass
class FakeLambdaContext:
    """What the handler and Powertools read from a Lambda context; `remaining_ms` is settable
    and shrinks by `elapsed_ms` (which the recorded sleeps advance)."""

    remaining_ms: int = 900_000
    function_name: str = "Stack-ReplicationOnEvent"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:Stack-ReplicationOnEvent"
    )
    aws_request_id: str = "5f0c8a52-0000-4000-8000-000000000001"
    elapsed_ms: int = 0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.remaining_ms - self.elapsed_ms)


@pytest.fixture
def context() -> FakeLambdaContext:
    return FakeLambdaContext()


class CfnEvents:
    """Custom-resource events as the provider framework's onEvent receives them."""

    source = SOURCE
    destination = DESTINATION
    other_destination = OTHER_DESTINATION
    participant = PARTICIPANT
    physical_id = f"{SOURCE}|{DESTINATION}|{PARTICIPANT}"
    # How a Reason names the replication of `physical_id`.
    key_description = f"participant '{PARTICIPANT}' from {SOURCE} to {DESTINATION}"
    # The Data a request about `physical_id` answers with (what `Fn::GetAtt` reads).
    data: ClassVar[dict[str, str]] = {
        "SourceStageArn": SOURCE,
        "DestinationStageArn": DESTINATION,
        "ParticipantId": PARTICIPANT,
    }
    marker = FAILED_CREATE_MARKER
    response_url = RESPONSE_URL
    logical_id = "HostReplicationA1B2C3D4"

    def props(self, **overrides: object) -> dict[str, object]:
        """ResourceProperties as CloudFormation delivers them: strings; None drops a key."""
        props: dict[str, object] = {
            "ServiceToken": SERVICE_TOKEN,
            "SourceStageArn": SOURCE,
            "DestinationStageArn": DESTINATION,
            "ParticipantId": PARTICIPANT,
        }
        props.update(overrides)
        return {key: value for key, value in props.items() if value is not None}

    def _base(self, request_type: str, props: dict[str, object]) -> dict[str, Any]:
        return {
            "RequestType": request_type,
            "ServiceToken": SERVICE_TOKEN,
            "ResponseURL": RESPONSE_URL,
            "StackId": STACK_ID,
            "RequestId": "0b7f7a1e-2222-4333-8444-555566667777",
            "LogicalResourceId": self.logical_id,
            "ResourceType": "Custom::IvsParticipantReplication",
            "ResourceProperties": props,
        }

    def create(self, props: dict[str, object] | None = None) -> dict[str, Any]:
        return self._base("Create", props if props is not None else self.props())

    def update(
        self,
        props: dict[str, object],
        old_props: dict[str, object],
        physical_id: str | None = None,
    ) -> dict[str, Any]:
        event = self._base("Update", props)
        event["OldResourceProperties"] = old_props
        event["PhysicalResourceId"] = physical_id or self.physical_id
        return event

    def delete(
        self, physical_id: str | None = None, props: dict[str, object] | None = None
    ) -> dict[str, Any]:
        event = self._base("Delete", props if props is not None else self.props())
        event["PhysicalResourceId"] = physical_id or self.physical_id
        return event


@pytest.fixture
def cfn() -> CfnEvents:
    return CfnEvents()


class _CurrentStdout:
    """A stream that writes to the `sys.stdout` of the moment."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def log_lines(text: str) -> list[dict[str, Any]]:
    """Powertools writes one JSON object per line; EMF metric documents (with `_aws`) share
    stdout with the logs, as in Lambda, and are left out."""
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" not in line]


@pytest.fixture
def read_logs(capsys: pytest.CaptureFixture[str]) -> Any:
    """Everything the handler logged since the last read, as Powertools' JSON lines.

    Powertools binds its stream handler to the `sys.stdout` of import time; let it write to
    whatever `sys.stdout` is when it logs (capsys's, during the test), and restore it after.
    """
    previous = write_logs_to(_CurrentStdout())

    def read() -> list[dict[str, Any]]:
        return log_lines(capsys.readouterr().out)

    yield read
    write_logs_to(previous)


def write_logs_to(stream: Any) -> Any:
    """Have the functions' Powertools logger write to `stream`; return the stream it wrote to.
    Not `setStream`, which flushes the old stream first: a test runner that captured the
    import-time stdout (mutmut does) may have closed it since."""
    stream_handler = handler.logger.registered_handler
    assert isinstance(stream_handler, logging.StreamHandler)
    previous, stream_handler.stream = stream_handler.stream, stream
    return previous
