"""What CloudFormation and Lambda hand a custom-resource handler, for local runs and tests.

`custom_resource_event` builds the event the CDK provider framework passes to ``on_event``
(properties stringified the way CloudFormation delivers them), and `LocalLambdaContext` gives
the handler a shrinking deadline, on the wall clock or on a simulated one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

RequestType = Literal["Create", "Update", "Delete"]

LOCAL_STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/TemplateDeployment/"
    "00000000-0000-0000-0000-000000000000"
)
LOCAL_FRAMEWORK_FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:framework-onEvent"
# Pre-signed in real life; the handler must never log it, so tests look for this text.
LOCAL_RESPONSE_URL = "https://cloudformation-response.invalid/local?X-Amz-Signature=local-secret"


@dataclass
class LocalLambdaContext:
    """The parts of a Lambda context the handler and Powertools read.

    ``clock`` (seconds; Default: ``time.monotonic``) is what the remaining time is measured
    on: a local deployment on a ``ManualClock`` passes that clock's ``now``, so a handler that
    sleeps on the same clock sees its deadline approach without real time passing.
    """

    timeout_seconds: float = 300.0
    function_name: str = "local-ivs-replication-handler"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:local-ivs-replication-handler"
    )
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local-ivs-replication-handler"
    log_stream_name: str = "local"
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _started: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._started = self.clock()

    def get_remaining_time_in_millis(self) -> int:
        left = self._started + self.timeout_seconds - self.clock()
        return max(0, int(left * 1000))


def as_cloudformation_delivers(value: object) -> object:
    """CloudFormation passes every scalar property to a custom resource as a string."""
    if isinstance(value, Mapping):
        return {str(k): as_cloudformation_delivers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_cloudformation_delivers(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def custom_resource_event(
    request_type: RequestType,
    properties: Mapping[str, object],
    *,
    logical_id: str = "Replication",
    physical_id: str | None = None,
    old_properties: Mapping[str, object] | None = None,
    resource_type: str = "Custom::IvsParticipantReplication",
    service_token: str = LOCAL_FRAMEWORK_FUNCTION_ARN,
) -> dict[str, object]:
    """The event the provider framework hands ``on_event`` for one CloudFormation request."""
    event: dict[str, object] = {
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": LOCAL_RESPONSE_URL,
        "StackId": LOCAL_STACK_ID,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": as_cloudformation_delivers(
            {"ServiceToken": service_token, **properties}
        ),
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = as_cloudformation_delivers(
            {"ServiceToken": service_token, **old_properties}
        )
    return event
