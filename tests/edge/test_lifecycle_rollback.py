"""CloudFormation's rollback of a failed replacement, against the local IVS endpoint.

When an Update that replaces a replication (new participant or destination) fails,
CloudFormation rolls back with one more Update: ResourceProperties are the old properties,
OldResourceProperties the failed ones, and PhysicalResourceId is still the old id. The
replication under that id was never touched, so the rollback has nothing to do.
"""

from __future__ import annotations

import pytest

from ivs_replication.testing.cloudformation import LocalLambdaContext, custom_resource_event
from ivs_replication_handler.errors import ReplicationFailedError
from ivs_replication_handler.handler import handle_event
from tests.publishing import publish_for_a_while

WINDOW_SECONDS = 60


@pytest.fixture
def failed_replacement(local_ivs, make_ivs):
    """A replication of "host" (publishing, 60 s window) whose replacement by "guest" (not
    publishing) just failed; returns (rollback event, old physical id, ivs)."""
    source = local_ivs.create_stage("source")
    destination = local_ivs.create_stage("destination")
    publish_for_a_while(local_ivs, source, "host")
    ivs = make_ivs()
    old = {
        "SourceStageArn": source,
        "DestinationStageArn": destination,
        "ParticipantId": "host",
        "ReconnectWindowSeconds": WINDOW_SECONDS,
    }
    new = {**old, "ParticipantId": "guest"}
    created = handle_event(
        custom_resource_event("Create", old), LocalLambdaContext(timeout_seconds=20), ivs
    )
    physical_id = created["PhysicalResourceId"]
    update = custom_resource_event("Update", new, physical_id=physical_id, old_properties=old)
    with pytest.raises(ReplicationFailedError, match="guest' is not publishing"):
        handle_event(update, LocalLambdaContext(timeout_seconds=20), ivs)
    rollback = custom_resource_event("Update", old, physical_id=physical_id, old_properties=new)
    return rollback, physical_id, ivs


def test_rollback_of_a_failed_replacement_does_not_restart_the_replication(
    local_ivs, failed_replacement
):
    rollback, physical_id, ivs = failed_replacement
    (before,) = local_ivs.replicas(state="ACTIVE")
    local_ivs.reset_calls()

    result = handle_event(rollback, LocalLambdaContext(timeout_seconds=20), ivs)

    assert result["PhysicalResourceId"] == physical_id
    assert "StopParticipantReplication" not in local_ivs.calls
    (after,) = local_ivs.replicas(state="ACTIVE")
    assert after.destination_session_id == before.destination_session_id
    assert after.started_at == before.started_at


def test_rollback_of_a_failed_replacement_keeps_a_reconnecting_publishers_replication(
    local_ivs, failed_replacement
):
    rollback, physical_id, ivs = failed_replacement
    # The host's connection drops; its replica waits for it for WINDOW_SECONDS.
    source = rollback["ResourceProperties"]["SourceStageArn"]
    assert local_ivs.unpublish(source, "host")
    assert len(local_ivs.replicas(state="ACTIVE")) == 1

    result = handle_event(rollback, LocalLambdaContext(timeout_seconds=20), ivs)

    assert result["PhysicalResourceId"] == physical_id
    assert len(local_ivs.replicas(state="ACTIVE")) == 1


def test_rollback_of_a_failed_replacement_keeps_the_replication_running(
    local_ivs, failed_replacement
):
    rollback, physical_id, ivs = failed_replacement

    result = handle_event(rollback, LocalLambdaContext(timeout_seconds=20), ivs)

    assert result["PhysicalResourceId"] == physical_id
    (replica,) = local_ivs.replicas(state="ACTIVE")
    assert replica.participant_id == "host"
    assert replica.reconnect_window_seconds == WINDOW_SECONDS
