"""The handler side of P2/P3: a started local endpoint, the handler module, quiet logs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, cast

from ivs_realtime_emulator import IvsRealtimeEmulator
from ivs_replication.testing.cloudformation import LocalLambdaContext
from ivs_replication_handler import handler
from ivs_replication_handler.metrics import ReplicationMetrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

from bench.common import apply_environment

# The functions' EMF documents are formatted (a real cost in Lambda too) but not printed.
QUIET_METRICS = ReplicationMetrics(write=lambda _document: None)


def lambda_context(timeout_seconds: float = 300.0) -> LambdaContext:
    """A fresh invocation's context with a real, shrinking deadline (300 s as deployed)."""
    return cast("LambdaContext", LocalLambdaContext(timeout_seconds=timeout_seconds))


@contextmanager
def local_endpoint() -> Iterator[IvsRealtimeEmulator]:
    """A local IVS endpoint that every boto3 client of this process reaches via the env."""
    apply_environment()
    with IvsRealtimeEmulator() as local, _quiet_handler_logs():
        os.environ["AWS_ENDPOINT_URL_IVS_REALTIME"] = local.endpoint_url
        try:
            yield local
        finally:
            os.environ.pop("AWS_ENDPOINT_URL_IVS_REALTIME", None)


@contextmanager
def _quiet_handler_logs() -> Iterator[None]:
    """The handler still formats every JSON log line (a real cost in Lambda too), but writes
    it to /dev/null rather than to the terminal."""
    target = handler.logger.registered_handler
    with open(os.devnull, "w", encoding="utf-8") as sink:
        previous: IO[str] | None = getattr(target, "stream", None)
        target.setStream(sink)  # type: ignore[attr-defined]
        try:
            yield
        finally:
            if previous is not None:
                target.setStream(previous)  # type: ignore[attr-defined]
