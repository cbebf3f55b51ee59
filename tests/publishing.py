"""A publisher as the tests play it: publishing at the local IVS endpoint for a while, and the
"Participant Published" event EventBridge hands the reconciler."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ivs_replication_handler import contract as c

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator


def publish_for_a_while(ivs: IvsRealtimeEmulator, stage_arn: str, participant_id: str) -> None:
    """Publish, and let the profile's propagation delay pass (IVS replicates it at once now):
    for tests of other things than settling right after publishing."""
    ivs.publish(stage_arn, participant_id)
    ivs.clock.advance(ivs.profile.publish_propagation_seconds)


def published_event(
    source_stage_arn: str, participant_id: str, session_id: str | None = None
) -> dict[str, Any]:
    """IVS's "Participant Published" event of this publisher, as the follow rule delivers it
    (Default: without a session id)."""
    detail = {"event_name": c.EVENT_PARTICIPANT_PUBLISHED, "participant_id": participant_id}
    if session_id is not None:
        detail["session_id"] = session_id
    return {
        "source": c.EVENT_SOURCE,
        "detail-type": c.EVENT_DETAIL_TYPE,
        "resources": [source_stage_arn],
        "detail": detail,
    }
