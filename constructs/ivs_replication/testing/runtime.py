"""Run a stack's Lambda functions in-process, as a template deployment needs them.

A ``TemplateDeployment`` knows each ``AWS::Lambda::Function`` of its template as a ``LocalFunction``
(name, ARN, ``Handler``, timeout, resolved environment) and asks a ``FunctionRuntime`` for a
callable: a custom-resource handler for ``LocalDeployment``, or an event target for
``LocalEventBus``. ``HandlerRuntime`` runs this library's own handlers (the
``ivs_replication_handler`` package) with clients injected for the local endpoints: IVS
real-time and, when the function's environment names a registry table, DynamoDB. Each function
runs with the settings its own resolved environment states (the registry table, the stack's
replication count and IVS pace, the metrics' namespace and service), as the deployed function
reads them from its environment at a cold start (``FunctionSettings``); no environment variable
of the test process is read or changed for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

from ivs_realtime_emulator import ManualClock
from ivs_replication.testing.cloudformation import LocalLambdaContext
from ivs_replication_handler import handler, reconciler
from ivs_replication_handler.contract import (
    ENV_REGISTRY_TABLE,
    ON_EVENT_ENTRY_POINT,
    RECONCILER_ENTRY_POINT,
)
from ivs_replication_handler.ivs import IvsRealtime, paced
from ivs_replication_handler.metrics import ReplicationMetrics
from ivs_replication_handler.registry import Registry
from ivs_replication_handler.settings import FunctionSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from ivs_realtime_emulator import IvsRealtimeEmulator
    from ivs_replication.testing.deploy import Handler
    from ivs_replication.testing.dynamodb import LocalDynamoDB
    from ivs_replication.testing.events import EventTarget

LAMBDA_DEFAULT_TIMEOUT_SECONDS: Final = 3.0
RUNNABLE_ENTRY_POINTS: Final = (ON_EVENT_ENTRY_POINT, RECONCILER_ENTRY_POINT)


class NoLocalRuntimeError(ValueError):
    """A function the stack needs to run has a handler no local runtime knows."""


@dataclass(frozen=True)
class LocalFunction:
    """An ``AWS::Lambda::Function`` of a template deployment.

    ``environment`` is resolved only for the functions a template deployment runs (the handler and
    the reconciler of this library); it is empty for the others.
    """

    logical_id: str
    name: str
    arn: str
    handler: str | None
    timeout_seconds: float = LAMBDA_DEFAULT_TIMEOUT_SECONDS
    environment: Mapping[str, str] = field(default_factory=dict)

    def context(self, clock: Callable[[], float] = time.monotonic) -> LocalLambdaContext:
        """A fresh Lambda context for one invocation, with this function's timeout, measured
        on ``clock`` (Default: ``time.monotonic``)."""
        return LocalLambdaContext(
            clock=clock,
            timeout_seconds=self.timeout_seconds,
            function_name=self.name,
            invoked_function_arn=self.arn,
            log_group_name=f"/aws/lambda/{self.name}",
        )


class FunctionRuntime(Protocol):
    """Turns a stack's functions into callables."""

    def custom_resource_handler(self, function: LocalFunction) -> Handler:
        """The ``(event, context) -> response`` handler behind the stack's custom resources."""
        ...

    def event_target(self, function: LocalFunction) -> EventTarget:
        """The callable an EventBridge rule invokes with its event or constant input."""
        ...


class HandlerRuntime:
    """This library's Lambda handlers, in-process, talking to the local endpoints.

    ``ivs`` is the local IVS real-time endpoint; ``dynamodb`` (default None) the local
    DynamoDB endpoint, required once a function's environment names a registry table. Each
    function gets an IVS client of its own; DynamoDB clients are the endpoint's one shared
    ``LocalDynamoDB.client()``. The functions' metrics (EMF documents, one JSON text each, in
    each function's own namespace) are kept in ``metric_documents`` rather than printed.

    Time follows the emulator's clock: on a ``ManualClock`` the handlers' sleeps (backoff, a
    wait for the publisher) advance it and their Lambda deadline is measured on it, so a
    nine-minute wait takes milliseconds; on the system clock both are real.
    """

    def __init__(self, *, ivs: IvsRealtimeEmulator, dynamodb: LocalDynamoDB | None = None) -> None:
        self._ivs = ivs
        self._dynamodb = dynamodb
        simulated = isinstance(ivs.clock, ManualClock)
        self.sleep: Callable[[float], None] = ivs.clock.advance if simulated else time.sleep
        self.clock: Callable[[], float] = ivs.clock.now if simulated else time.monotonic
        self.metric_documents: list[str] = []

    def custom_resource_handler(self, function: LocalFunction) -> Handler:
        """``handler.handle_event(event, context, ivs, registry)``; the registry is None when
        the function's environment names no table (a stack without follow mode), and ``ivs``
        spreads a throttled burst over the window of the stack's replication count at its
        pace (``IvsSettings``)."""
        _require_entry_point(function, ON_EVENT_ENTRY_POINT)
        settings = FunctionSettings.from_environment(function.environment)
        ivs = self._ivs_realtime(settings)
        registry = self._registry(function, settings)
        metrics = ReplicationMetrics.of(settings, write=self.metric_documents.append)

        def handle(event: dict[str, object], context: Any) -> Mapping[str, object]:  # noqa: ANN401 - a Lambda context
            return handler.handle_event(event, context, ivs, registry, metrics=metrics)

        return handle

    def event_target(self, function: LocalFunction) -> EventTarget:
        """``reconciler.handle_event(payload, context, ivs, registry)``, with a fresh context
        per invocation and ``ivs`` paced at the function's IVS pace (``IvsSettings``); raises
        ``NoLocalRuntimeError`` for any other function."""
        _require_entry_point(function, RECONCILER_ENTRY_POINT)
        settings = FunctionSettings.from_environment(function.environment)
        ivs = paced(self._ivs_realtime(settings))  # as the deployed reconciler is
        registry = self._registry(function, settings)
        metrics = ReplicationMetrics.of(settings, write=self.metric_documents.append)
        if registry is None:
            raise NoLocalRuntimeError(
                f"function {function.logical_id} runs the reconciler but its environment has "
                f"no {ENV_REGISTRY_TABLE}"
            )

        def invoke(payload: object) -> object:
            if not isinstance(payload, Mapping):
                raise TypeError(f"the reconciler takes a JSON object, not {payload!r}")
            # A LocalLambdaContext has every member the reconciler reads.
            context = cast("LambdaContext", function.context(self.clock))
            return reconciler.handle_event(payload, context, ivs, registry, metrics=metrics)

        return invoke

    def _ivs_realtime(self, settings: FunctionSettings) -> IvsRealtime:
        """An IVS edge with the IVS settings a function's environment states (its stack's
        replication count and IVS pace)."""
        return IvsRealtime(
            client=self._ivs.client(), sleep=self.sleep, clock=self.clock, settings=settings.ivs
        )

    def _registry(self, function: LocalFunction, settings: FunctionSettings) -> Registry | None:
        table = settings.registry_table
        if not table:
            return None
        if self._dynamodb is None:
            raise NoLocalRuntimeError(
                f"function {function.logical_id} uses the registry table {table}: give the "
                "template deployment a LocalDynamoDB"
            )
        return Registry(table, client=self._dynamodb.client(), sleep=self.sleep)


def _require_entry_point(function: LocalFunction, entry_point: str) -> None:
    if function.handler != entry_point:
        raise NoLocalRuntimeError(
            f"function {function.logical_id} has Handler {function.handler!r}; locally only "
            f"{entry_point} runs here"
        )
