"""A local Amazon IVS real-time endpoint for tests and local development.

Nobody offers one (moto and LocalStack have no ivs-realtime), so this package serves the
replication-related part of the REST-JSON API on 127.0.0.1, validated against botocore's own
service model, with an in-process control API, a manual clock and fault injection::

    with LocalIvsRealtime(clock=ManualClock()) as ivs:
        client = boto3.client("ivs-realtime", endpoint_url=ivs.endpoint_url)

Follow mode's other pieces run locally too: ``LocalDynamoDB`` (moto's server, for the
registry table), ``LocalEventBus`` (EventBridge rules in-process, with best-effort delivery on
demand) and ``LocalStack`` (a whole synthesized stack deployed and deleted against them).

Only the standard library is imported here; botocore loads on the first request, moto when a
``LocalDynamoDB`` starts.
"""

from __future__ import annotations

from ivs_replication.local.assumptions import ASSUMPTIONS
from ivs_replication.local.dynamodb import LocalDynamoDB
from ivs_replication.local.events import Delivery, EventPatternError, LocalEventBus, RuleError
from ivs_replication.local.faults import ALL_OPERATIONS, FaultPlan, FaultPlanError, Faults
from ivs_replication.local.model import ResponseShapeError, ServiceError, validate_response
from ivs_replication.local.runtime import FunctionRuntime, HandlerRuntime, LocalFunction
from ivs_replication.local.server import SUPPORTED_OPERATIONS, LocalIvsRealtime
from ivs_replication.local.stack import (
    LocalIngestConfiguration,
    LocalStack,
    LocalStackError,
    StackEvent,
)
from ivs_replication.local.state import (
    ManualClock,
    ReplicaRecord,
    ResourceNotFoundError,
    SystemClock,
)

__all__ = [
    "ALL_OPERATIONS",
    "ASSUMPTIONS",
    "SUPPORTED_OPERATIONS",
    "Delivery",
    "EventPatternError",
    "FaultPlan",
    "FaultPlanError",
    "Faults",
    "FunctionRuntime",
    "HandlerRuntime",
    "LocalDynamoDB",
    "LocalEventBus",
    "LocalFunction",
    "LocalIngestConfiguration",
    "LocalIvsRealtime",
    "LocalStack",
    "LocalStackError",
    "ManualClock",
    "ReplicaRecord",
    "ResourceNotFoundError",
    "ResponseShapeError",
    "RuleError",
    "ServiceError",
    "StackEvent",
    "SystemClock",
    "validate_response",
]
