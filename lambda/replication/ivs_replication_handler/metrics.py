"""CloudWatch metrics of both functions, in the embedded metric format (EMF).

One EMF document per custom-resource request and per reconciler run, written to stdout, where
Lambda's log pipeline turns it into metrics (no PutMetricData call, no extra IAM). The names
are in ``contract``, so the construct's alarms use the same ones:

- the handler: ``Requests`` (Count, 1 per request) with dimensions (service, Stack,
  RequestType, Outcome) and (service, Stack, Outcome); RequestType is Create, Update, Delete or
  Unknown;
- the reconciler: ``ReplicationsStarted``, ``ReplicationsAlreadyActive``,
  ``ReplicationsNotPublishing``, ``ReplicationsWithdrawn``, ``ReplicationsOverQuota`` (refused:
  the destination holds its 12 publishers), ``ReplicationsFailed`` with dimensions (service,
  Stack, Trigger); a sweep adds ``SweepDeclarations`` and ``SweepDrift``.

Namespace Default: ``IvsParticipantReplication``; service Default:
``ivs-participant-replication``; Stack: the name of the stack the function belongs to (every
dimension set has it, so two stacks of one account and region never write the same metric);
without a stack name, no Stack dimension. The deployed functions use what their environment
states (``IVS_REPLICATION_METRICS_NAMESPACE``, ``IVS_REPLICATION_METRICS_SERVICE``,
``IVS_REPLICATION_STACK_NAME``), read once at a cold start by `settings.FunctionSettings`. ARNs
and participant ids are never dimensions (they would make a metric per replication). Writing a
metric never fails a request: a broken metric is logged and dropped.

The documents are the ones Powertools' ``EphemeralMetrics`` writes (a test holds them equal),
built here directly: a Powertools metric set per request cost more than the rest of the
handler's own work on a warm request.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sized
from typing import Protocol

from aws_lambda_powertools import Logger

from . import contract as c
from .settings import FunctionSettings

logger = Logger(service=c.LOGGER_SERVICE, child=True)

_REQUEST_TYPES = ("Create", "Update", "Delete")


class ReconcileCounts(Protocol):
    """What a reconciler run reports (the reconciler's ``Report`` has this shape)."""

    @property
    def trigger(self) -> str: ...
    @property
    def declarations(self) -> int: ...
    @property
    def started(self) -> Sized: ...
    @property
    def already_active(self) -> Sized: ...
    @property
    def not_publishing(self) -> Sized: ...
    @property
    def withdrawn(self) -> Sized: ...
    @property
    def over_quota(self) -> Sized: ...
    @property
    def failed(self) -> Sized: ...


def sweep_drift(report: ReconcileCounts) -> int:
    """Declarations a sweep found not running although they should be: those it started
    (not ACTIVE while the publisher was live), those the destination's quota refused, and
    those it could not check or start. Mirrors' replications count like declarations."""
    return len(report.started) + len(report.over_quota) + len(report.failed)


def _print_line(document: str) -> None:
    # The stdout of the moment: Lambda reads EMF from it, and tests capture it.
    print(document, file=sys.stdout, flush=True)


class ReplicationMetrics:
    """Writes the functions' metrics as EMF documents.

    ``namespace`` Default: ``IvsParticipantReplication``; ``service`` Default:
    ``ivs-participant-replication``; ``stack`` Default: None (no Stack dimension); ``write``
    Default: one line on stdout per document.
    """

    def __init__(
        self,
        *,
        namespace: str = c.METRICS_NAMESPACE_DEFAULT,
        service: str = c.METRICS_SERVICE_DEFAULT,
        stack: str | None = None,
        write: Callable[[str], None] = _print_line,
    ) -> None:
        self.namespace = namespace
        self.service = service
        self.stack = stack
        # Every dimension set carries the stack: one stack's alarms never see another's.
        self._stack_dimension = {c.DIMENSION_STACK: stack} if stack else {}
        self._write = write

    @classmethod
    def of(
        cls, settings: FunctionSettings, *, write: Callable[[str], None] = _print_line
    ) -> ReplicationMetrics:
        """The metrics of a function with these settings (their namespace, service and
        stack)."""
        return cls(
            namespace=settings.metrics_namespace,
            service=settings.metrics_service,
            stack=settings.stack_name,
            write=write,
        )

    def record_request(self, request_type: object, *, succeeded: bool) -> None:
        """One custom-resource request and how it ended."""
        kind = request_type if request_type in _REQUEST_TYPES else "Unknown"
        outcome = c.OUTCOME_SUCCEEDED if succeeded else c.OUTCOME_FAILED
        self._emit(
            {c.METRIC_REQUESTS: 1},
            [
                {c.DIMENSION_REQUEST_TYPE: str(kind), c.DIMENSION_OUTCOME: outcome},
                {c.DIMENSION_OUTCOME: outcome},
            ],
        )

    def record_reconcile(self, report: ReconcileCounts) -> None:
        """One reconciler run: its counts by Trigger; a sweep's declarations and drift too."""
        values: dict[str, int] = {
            c.METRIC_STARTED: len(report.started),
            c.METRIC_ALREADY_ACTIVE: len(report.already_active),
            c.METRIC_NOT_PUBLISHING: len(report.not_publishing),
            c.METRIC_WITHDRAWN: len(report.withdrawn),
            c.METRIC_OVER_QUOTA: len(report.over_quota),
            c.METRIC_FAILED: len(report.failed),
        }
        if report.trigger == c.TRIGGER_SWEEP:
            values[c.METRIC_SWEEP_DECLARATIONS] = report.declarations
            values[c.METRIC_SWEEP_DRIFT] = sweep_drift(report)
        trigger = c.TRIGGER_SWEEP if report.trigger == c.TRIGGER_SWEEP else c.TRIGGER_EVENT
        self._emit(values, [{c.DIMENSION_TRIGGER: trigger}])

    def _emit(self, values: dict[str, int], dimension_sets: list[dict[str, str]]) -> None:
        sets = [{**dimension_set, **self._stack_dimension} for dimension_set in dimension_sets]
        try:
            self._write(self._document(values, sets))
        except Exception as error:  # a metric must never fail a replication
            logger.warning("Metrics not written", extra={"reason": str(error)})

    def _document(self, values: dict[str, int], dimension_sets: list[dict[str, str]]) -> str:
        return emf_document(
            self.namespace, self.service, values, dimension_sets, time.time_ns() // 1_000_000
        )


def emf_document(
    namespace: str,
    service: str,
    values: Mapping[str, int],
    dimension_sets: list[dict[str, str]],
    timestamp_ms: int,
) -> str:
    """One EMF document: `values` as Count metrics under each of `dimension_sets`, each set
    with the service dimension (first set: service last; the others: service first, as
    Powertools orders them)."""
    first, *more = dimension_sets
    sets = [{**first, c.DIMENSION_SERVICE: service}]
    sets += [{c.DIMENSION_SERVICE: service, **extra} for extra in more]
    dimensions: dict[str, str] = {}
    for dimension_set in sets:
        dimensions.update(dimension_set)
    directive = {
        "Namespace": namespace,
        "Dimensions": [list(dimension_set) for dimension_set in sets],
        "Metrics": [{"Name": name, "Unit": "Count"} for name in values],
    }
    document = {
        "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive]},
        **dimensions,
        **{name: [float(count)] for name, count in values.items()},
    }
    return json.dumps(document, separators=(",", ":"))
