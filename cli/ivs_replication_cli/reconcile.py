"""``reconcile``: the stack's follow-mode sweep, now: in Lambda (Invoke of its reconciler, with
the sweep's input), or here with the reconciler's own code (``--local``)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from ivs_replication_cli.errors import EXIT_NO_RECONCILER, CliError
from ivs_replication_cli.stack import DeployedStack
from ivs_replication_handler import contract as c
from ivs_replication_handler import reconciler
from ivs_replication_handler.errors import ReconcileError
from ivs_replication_handler.ivs import IvsRealtime
from ivs_replication_handler.metrics import ReplicationMetrics
from ivs_replication_handler.registry import Registry
from ivs_replication_handler.retries import Deadline

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

SWEEP_INPUT = {c.SWEEP_INPUT_KEY: True}
# The lists of a reconciler report, in the order they are printed.
REPORT_LISTS = ("started", "already_active", "not_publishing", "withdrawn")


@dataclass(frozen=True)
class SweepResult:
    """A sweep's report (the reconciler's ``Report.as_dict()``), or why it failed."""

    report: Mapping[str, Any] | None
    error: str | None = None


def require_reconciler(stack: DeployedStack) -> str:
    if stack.reconciler_function is None:
        raise CliError(
            EXIT_NO_RECONCILER,
            f"stack {stack.name!r} has no reconciler: only follow-mode replications "
            "(WhenNotPublishing.follow(), or a ReplicationSweep) are reconciled",
        )
    return stack.reconciler_function


def invoke_sweep(lambda_client: Any, function_name: str) -> SweepResult:  # noqa: ANN401 - boto3
    """Invoke the reconciler synchronously with the sweep's input."""
    response = lambda_client.invoke(
        FunctionName=function_name,
        InvocationType="RequestResponse",
        Payload=json.dumps(SWEEP_INPUT).encode(),
    )
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        message = payload.get("errorMessage") if isinstance(payload, Mapping) else None
        return SweepResult(None, str(message or payload))
    return SweepResult(payload if isinstance(payload, Mapping) else {})


class _CommandContext:
    """The part of a Lambda context the reconciler reads: the time left."""

    def __init__(self, deadline: Deadline) -> None:
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return int(self._deadline.seconds_left() * 1000)


def run_sweep_here(
    stack: DeployedStack,
    ivs: IvsRealtime,
    dynamodb: DynamoDBClient,
    deadline: Deadline,
) -> SweepResult:
    """The reconciler's own sweep, in this process, on the stack's registry table. Its logs
    (warnings and errors only) go to stderr; its metrics are not written: this is no Lambda."""
    require_reconciler(stack)
    if stack.registry_table is None:
        raise CliError(EXIT_NO_RECONCILER, f"stack {stack.name!r} has no registry table")
    registry = Registry(stack.registry_table, client=dynamodb)
    context = cast("LambdaContext", _CommandContext(deadline))
    try:
        with _logs_on_stderr_warnings_only():
            report = reconciler.handle_event(
                SWEEP_INPUT, context, ivs, registry, metrics=ReplicationMetrics(write=_discard)
            )
    except ReconcileError as error:
        return SweepResult(None, str(error))
    return SweepResult(report)


def _discard(_: str) -> None:
    return None


@contextmanager
def _logs_on_stderr_warnings_only() -> Iterator[None]:
    """The reconciler's JSON logs, warnings and errors only, on stderr while the sweep runs
    (stdout is the command's own output); restored after."""
    functions_logger = logging.getLogger(c.LOGGER_SERVICE)
    level = functions_logger.level
    streams = [h for h in functions_logger.handlers if isinstance(h, logging.StreamHandler)]
    previous = [h.setStream(sys.stderr) for h in streams]
    functions_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        functions_logger.setLevel(level)
        for log_handler, stream in zip(streams, previous, strict=True):
            if stream is not None:
                log_handler.setStream(stream)


def describe(result: SweepResult, stack: DeployedStack, where: str) -> str:
    """What the sweep did, one line per kind, the started ones by physical id."""
    if result.report is None:
        return f"Sweep of stack {stack.name} ({where}) failed: {result.error}"
    report = result.report
    lines = [f"Sweep of stack {stack.name} ({where}): {report.get('declarations', 0)} declarations"]
    for name in REPORT_LISTS:
        items = list(report.get(name) or [])
        lines.append(f"{name.replace('_', ' ')}: {len(items)}")
        if name == "started":
            lines.extend(f"  {physical_id}" for physical_id in items)
    failed = report.get("failed") or {}
    lines.append(f"failed: {len(failed)}")
    lines.extend(f"  {pid}: {why}" for pid, why in sorted(failed.items()))
    return "\n".join(lines)
