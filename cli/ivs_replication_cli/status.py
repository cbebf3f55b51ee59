"""``status``: is every declared replication running? One verdict per replication.

- ``ok``: IVS lists its replica ACTIVE;
- ``waiting``: not ACTIVE, and its publisher is not live (nothing to replicate now);
- ``drift``: not ACTIVE although its publisher is live;
- ``not-created``: the resource's physical id is not a replication's (its create failed).

The stage mirrors' verdicts (`mirror_status`) use the same names; the JSON document holds both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ivs_replication_cli.stack import DeclaredReplication, DeployedStack
from ivs_replication_handler.errors import ServiceError
from ivs_replication_handler.ivs import IvsRealtime
from ivs_replication_handler.registry import publisher_key
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.spec import ACTIVE, ReplicationKey

if TYPE_CHECKING:
    # Only a type: `mirror_status` builds on this module.
    from ivs_replication_cli.mirror_status import MirrorStatus

__all__ = [
    "DeployedStack",
    "ReplicationStatus",
    "aligned",
    "as_json",
    "as_table",
    "check",
    "drifts",
]

# The JSON document's layout; a change that removes or renames a field raises it.
JSON_VERSION = 1
OK = "ok"
WAITING = "waiting"
DRIFT = "drift"
NOT_CREATED = "not-created"
VERDICT_LABELS = {
    OK: "ok",
    WAITING: "waiting for the publisher",
    DRIFT: "drift",
    NOT_CREATED: "not created",
}
_NOT_FOUND = "ResourceNotFoundException"


@dataclass(frozen=True)
class ReplicationStatus:
    declared: DeclaredReplication
    publisher_live: bool | None
    replica_state: str | None
    verdict: str

    def as_dict(self) -> dict[str, object]:
        key = self.declared.key
        return {
            "logicalId": self.declared.logical_id,
            "physicalId": self.declared.physical_id,
            "sourceStageArn": key.source_stage_arn if key else None,
            "destinationStageArn": key.destination_stage_arn if key else None,
            "participantId": key.participant_id if key else None,
            "mode": self.declared.mode,
            "publisherLive": self.publisher_live,
            "replicaState": self.replica_state,
            "verdict": self.verdict,
        }


def verdict(publisher_live: bool, replica_state: str | None) -> str:
    """ok when ACTIVE; otherwise drift if the publisher is live, else waiting."""
    if replica_state == ACTIVE:
        return OK
    return DRIFT if publisher_live else WAITING


def check(stack: DeployedStack, ivs: IvsRealtime, deadline: Deadline) -> list[ReplicationStatus]:
    """Ask IVS once per publisher: its replicas, and whether it publishes now."""
    publishers: dict[str, tuple[bool, dict[str, str]]] = {}
    statuses: list[ReplicationStatus] = []
    for declared in stack.replications:
        key = declared.key
        if key is None:
            statuses.append(ReplicationStatus(declared, None, None, NOT_CREATED))
            continue
        publisher = publisher_key(key.source_stage_arn, key.participant_id)
        if publisher not in publishers:
            publishers[publisher] = _observe(ivs, key, deadline)
        live, states = publishers[publisher]
        state = states.get(key.destination_stage_arn)
        statuses.append(ReplicationStatus(declared, live, state, verdict(live, state)))
    return statuses


def _observe(
    ivs: IvsRealtime, key: ReplicationKey, deadline: Deadline
) -> tuple[bool, dict[str, str]]:
    try:
        states = ivs.replica_states(key.source_stage_arn, key.participant_id, deadline)
    except ServiceError as error:
        if not stage_missing(error):
            raise
        states = {}  # the source stage is gone: nothing replicates from it
    return publisher_live(ivs, key.source_stage_arn, key.participant_id, deadline), states


def publisher_live(
    ivs: IvsRealtime, stage_arn: str, participant_id: str, deadline: Deadline
) -> bool:
    """Whether `participant_id` publishes in the stage's active session now: the handler's
    own check (`IvsRealtime.is_publishing`), where a missing stage is not live either."""
    try:
        return ivs.is_publishing(stage_arn, participant_id, deadline)
    except ServiceError as error:
        if stage_missing(error):
            return False
        raise


def stage_missing(error: ServiceError) -> bool:
    """Whether IVS refused because the stage itself is gone (nothing runs from it)."""
    return error.code == _NOT_FOUND


def drifts(statuses: Sequence[ReplicationStatus | MirrorStatus]) -> bool:
    """Whether one of them drifts (a replication's or a mirror's verdict)."""
    return any(status.verdict == DRIFT for status in statuses)


def as_json(
    stack: DeployedStack,
    region: str | None,
    statuses: list[ReplicationStatus],
    mirrors: Sequence[MirrorStatus] = (),
) -> str:
    """The stable document: ``version``, ``stack``, ``region``, ``replications`` (one object
    per replication, see ``ReplicationStatus.as_dict``), ``summary`` (count per verdict of the
    replications), ``mirrors`` (one object per mirror destination, see
    ``MirrorStatus.as_dict``), ``mirrorSummary`` (count per verdict of the mirrors) and
    ``drift`` (true when a replication or a mirror drifts: the exit status is 1)."""
    document: dict[str, Any] = {
        "version": JSON_VERSION,
        "stack": stack.name,
        "region": region,
        "replications": [status.as_dict() for status in statuses],
        "summary": _count_verdicts(statuses),
        "mirrors": [mirror.as_dict() for mirror in mirrors],
        "mirrorSummary": _count_verdicts(mirrors),
        "drift": drifts(statuses) or drifts(mirrors),
    }
    return json.dumps(document, indent=2)


def _count_verdicts(statuses: Sequence[ReplicationStatus | MirrorStatus]) -> dict[str, int]:
    summary = dict.fromkeys(VERDICT_LABELS, 0)
    for status in statuses:
        summary[status.verdict] += 1
    return summary


def as_table(statuses: list[ReplicationStatus]) -> str:
    """One line per replication under a header, columns aligned."""
    header = ("REPLICATION", "MODE", "PUBLISHER LIVE", "REPLICA", "VERDICT")
    return aligned([header, *(_row(status) for status in statuses)])


def aligned(rows: Sequence[Sequence[str]]) -> str:
    """The rows as lines, each column as wide as its widest cell, trailing blanks cut."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _row(status: ReplicationStatus) -> tuple[str, str, str, str, str]:
    key = status.declared.key
    what = status.declared.logical_id
    if key is not None:
        what += (
            f" ({key.participant_id}: {stage_id(key.source_stage_arn)} -> "
            f"{stage_id(key.destination_stage_arn)})"
        )
    live = {True: "yes", False: "no", None: "-"}[status.publisher_live]
    return (
        what,
        status.declared.mode,
        live,
        status.replica_state or ("-" if key is None else "none"),
        VERDICT_LABELS[status.verdict],
    )


def stage_id(stage_arn: str) -> str:
    return stage_arn.rsplit("/", 1)[-1]
