"""The handler side of P2/P3/P5: a started local endpoint, the handler module, quiet logs, and
stages laid out within IVS's per-stage quota."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
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


def source_stages(
    local: IvsRealtimeEmulator, participants: Sequence[str], *, prefix: str = "source"
) -> dict[str, str]:
    """A source stage for each participant to publish in, as few stages as IVS's fixed quota
    of publishers per stage (12, the emulator's profile) allows: ceil(n / 12) stages, the
    participants in order. Creates the stages only; the caller publishes."""
    per_stage = local.profile.max_publishers_per_stage
    stages: dict[str, str] = {}
    for index, participant in enumerate(participants):
        if index % per_stage == 0:
            stage = local.create_stage(f"{prefix}-{index // per_stage:02d}")
        stages[participant] = stage
    return stages


def require_room(local: IvsRealtimeEmulator, replicas: Iterable[tuple[str, str]]) -> None:
    """Refuse a benchmark whose (destination stage, participant id) replicas IVS would refuse:
    more replicas into a stage than it holds publishers (replicas take a publisher's slot),
    or one participant id twice in a stage."""
    replicas = list(replicas)
    per_stage = local.profile.max_publishers_per_stage
    crowded = [s for s, n in Counter(s for s, _ in replicas).items() if n > per_stage]
    repeated = [key for key, n in Counter(replicas).items() if n > 1]
    if crowded or repeated:
        raise ValueError(
            f"replicas IVS would refuse: more than {per_stage} into {crowded[:3]}, "
            f"a participant twice in a stage {repeated[:3]}"
        )


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
