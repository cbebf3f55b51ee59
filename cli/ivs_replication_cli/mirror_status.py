"""``status`` of the stack's stage mirrors: one verdict per mirror destination
(``Custom::IvsStageMirror``), from who publishes in its source now.

- ``ok``: every live publisher the mirror takes has a replica ACTIVE in the destination;
- ``waiting``: none of the publishers it takes is live (nothing to replicate now);
- ``drift``: some live publisher it takes has no ACTIVE replica there;
- ``not-created``: the resource's physical id is not a mirror's (its create failed).

A publisher is a participant connected to the source's active session that has published and
is not itself a replica (a mirror never replicates one); the mirror takes it when its token
user id is one of the mirror's user ids, or when the mirror names none. IVS is asked once per
source stage (GetStage, ListParticipants) and once per publisher (ListParticipantReplicas
lists every destination at once), however many destinations mirror that stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ivs_replication_cli.stack import DeclaredMirror, DeployedStack
from ivs_replication_cli.status import (
    DRIFT,
    NOT_CREATED,
    OK,
    WAITING,
    aligned,
    stage_id,
    stage_missing,
)
from ivs_replication_handler.errors import ServiceError
from ivs_replication_handler.ivs import IvsRealtime, Participant
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.spec import ACTIVE, MirrorKey

VERDICT_LABELS = {
    OK: "ok",
    WAITING: "waiting for a publisher",
    DRIFT: "drift",
    NOT_CREATED: "not created",
}
# The user ids of a mirror whose template leaves them to CloudFormation: (key) -> user ids in
# force (None: every publisher). The registry's declaration answers it (`commands`).
UserIdsLookup = Callable[[MirrorKey], tuple[str, ...] | None]


@dataclass(frozen=True)
class MirrorStatus:
    """``publishers``: the live publishers of the source the mirror takes; ``replicated``: those
    of them with a replica ACTIVE in the destination (participant ids, sorted)."""

    declared: DeclaredMirror
    user_ids: tuple[str, ...] | None
    publishers: tuple[str, ...]
    replicated: tuple[str, ...]
    verdict: str

    @property
    def missing(self) -> tuple[str, ...]:
        """The live publishers it takes that do not run in the destination."""
        return tuple(p for p in self.publishers if p not in self.replicated)

    def as_dict(self) -> dict[str, object]:
        key = self.declared.key
        return {
            "logicalId": self.declared.logical_id,
            "physicalId": self.declared.physical_id,
            "sourceStageArn": key.source_stage_arn if key else None,
            "destinationStageArn": key.destination_stage_arn if key else None,
            "userIds": list(self.user_ids) if self.user_ids is not None else None,
            "publishers": list(self.publishers),
            "replicated": list(self.replicated),
            "missing": list(self.missing),
            "verdict": self.verdict,
        }


def mirror_verdict(publishers: tuple[str, ...], replicated: tuple[str, ...]) -> str:
    """waiting when nobody it takes is live; otherwise ok unless one of them is missing."""
    if not publishers:
        return WAITING
    return OK if set(publishers) <= set(replicated) else DRIFT


class _SourceReads:
    """What IVS says about the sources, each asked once per command."""

    def __init__(self, ivs: IvsRealtime, deadline: Deadline) -> None:
        self._ivs = ivs
        self._deadline = deadline
        self._publishers: dict[str, list[Participant]] = {}
        self._replicas: dict[tuple[str, str], dict[str, str]] = {}

    def publishers(self, stage_arn: str) -> list[Participant]:
        """The stage's publishers that are not replicas; none when the stage is gone."""
        if stage_arn not in self._publishers:
            try:
                listed = self._ivs.publishers(stage_arn, self._deadline)
            except ServiceError as error:
                if not stage_missing(error):
                    raise
                listed = []
            self._publishers[stage_arn] = [p for p in listed if not p.is_replica]
        return self._publishers[stage_arn]

    def replica_state(self, key: MirrorKey, participant_id: str) -> str | None:
        """The state of the publisher's replica in the mirror's destination (None: no record);
        one ListParticipantReplicas per publisher answers for every destination."""
        publisher = (key.source_stage_arn, participant_id)
        if publisher not in self._replicas:
            self._replicas[publisher] = self._ivs.replica_states(
                key.source_stage_arn, participant_id, self._deadline
            )
        return self._replicas[publisher].get(key.destination_stage_arn)


def check_mirrors(
    stack: DeployedStack,
    ivs: IvsRealtime,
    deadline: Deadline,
    *,
    user_ids_in_force: UserIdsLookup | None = None,
) -> list[MirrorStatus]:
    """One status per mirror destination of the stack, in template order.

    ``user_ids_in_force`` Default: a mirror whose template leaves its user ids to
    CloudFormation is counted as taking every publisher.
    """
    reads = _SourceReads(ivs, deadline)
    statuses: list[MirrorStatus] = []
    for declared in stack.mirrors:
        key = declared.key
        if key is None:
            statuses.append(MirrorStatus(declared, declared.user_ids, (), (), NOT_CREATED))
            continue
        user_ids = declared.user_ids
        if not declared.user_ids_stated and user_ids_in_force is not None:
            user_ids = user_ids_in_force(key)
        statuses.append(_status(declared, key, user_ids, reads))
    return statuses


def _status(
    declared: DeclaredMirror,
    key: MirrorKey,
    user_ids: tuple[str, ...] | None,
    reads: _SourceReads,
) -> MirrorStatus:
    taken = sorted(
        p.participant_id
        for p in reads.publishers(key.source_stage_arn)
        if user_ids is None or p.user_id in user_ids
    )
    replicated = [
        participant_id
        for participant_id in taken
        if reads.replica_state(key, participant_id) == ACTIVE
    ]
    verdict = mirror_verdict(tuple(taken), tuple(replicated))
    return MirrorStatus(declared, user_ids, tuple(taken), tuple(replicated), verdict)


def as_mirror_table(statuses: list[MirrorStatus]) -> str:
    """One line per mirror destination under a header, columns aligned."""
    header = ("MIRROR", "USER IDS", "PUBLISHERS LIVE", "REPLICATED", "MISSING", "VERDICT")
    return aligned([header, *(_row(status) for status in statuses)])


def _row(status: MirrorStatus) -> tuple[str, ...]:
    key = status.declared.key
    what = status.declared.logical_id
    if key is None:
        return (what, "-", "-", "-", "-", VERDICT_LABELS[status.verdict])
    what += f" ({stage_id(key.source_stage_arn)} -> {stage_id(key.destination_stage_arn)})"
    return (
        what,
        "any" if status.user_ids is None else ",".join(status.user_ids),
        str(len(status.publishers)),
        str(len(status.replicated)),
        ",".join(status.missing) or "-",
        VERDICT_LABELS[status.verdict],
    )
