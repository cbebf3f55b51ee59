"""Rollback safety in fail mode, against the local IVS endpoint: no rollback or
continue-update-rollback fails through an absent publisher when nothing was running, and the
rollback of an Update that failed validation touches nothing.

CloudFormation rolls a failed Update back with one more Update (old and new properties
swapped, the physical id the deployed one) and retries it on continue-update-rollback. None
of these may fail because a publisher is away when the state restored was not running either;
the rollback of an Update that failed validation stops and restarts nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from ivs_replication.testing.cloudformation import LocalLambdaContext, custom_resource_event
from ivs_replication_handler.errors import InvalidPropertyError
from ivs_replication_handler.handler import handle_event

WINDOW_SECONDS = 0  # the replica ends the moment its publisher leaves
START = "StartParticipantReplication"
STOP = "StopParticipantReplication"


def send(event: dict[str, Any], ivs: Any) -> dict[str, object]:
    return handle_event(event, LocalLambdaContext(timeout_seconds=20), ivs)


@pytest.fixture
def ended(local_ivs, make_ivs):
    """A fail-mode replication created while "host" published; "host" then left beyond the
    reconnect window, so IVS ended it (a normal state). Returns (properties, id, ivs)."""
    source = local_ivs.create_stage("source")
    destination = local_ivs.create_stage("destination")
    local_ivs.publish(source, "host")
    ivs = make_ivs()
    props = {
        "SourceStageArn": source,
        "DestinationStageArn": destination,
        "ParticipantId": "host",
        "ReconnectWindowSeconds": WINDOW_SECONDS,
        "WhenNotPublishing": "FAIL",
    }
    physical_id = str(send(custom_resource_event("Create", props), ivs)["PhysicalResourceId"])
    local_ivs.unpublish(source, "host")
    assert local_ivs.replicas(state="ACTIVE") == []
    return props, physical_id, ivs


def update(new: dict[str, Any], old: dict[str, Any], physical_id: str) -> dict[str, Any]:
    return custom_resource_event("Update", new, physical_id=physical_id, old_properties=old)


@pytest.mark.parametrize(
    "change",
    [{"Attributes": {"role": "guest"}}, {"ParticipantId": "guest"}],
    ids=["in-place", "replacement"],
)
def test_updates_and_their_rollbacks_of_an_ended_replication_never_fail_for_absence(
    ended, local_ivs, change
):
    """Neither the Update, nor its rollback, nor a continue-update-rollback retry
    fails because the publisher is away: nothing was running before either."""
    props, physical_id, ivs = ended
    new = {**props, **change}

    forward = send(update(new, props, physical_id), ivs)
    rollback_id = str(forward["PhysicalResourceId"])
    for _ in range(2):  # the rollback Update, then continue-update-rollback's retry
        rolled_back = send(update(props, new, rollback_id), ivs)
        assert rolled_back["PhysicalResourceId"] == physical_id

    assert local_ivs.replicas(state="ACTIVE") == []


def test_the_rollback_of_a_failed_validation_update_succeeds_with_the_publisher_away(
    ended, local_ivs
):
    """No UPDATE_ROLLBACK_FAILED after an Update that made no API call."""
    props, physical_id, ivs = ended
    invalid = {**props, "ReconnectWindowSeconds": 301}
    with pytest.raises(InvalidPropertyError):
        send(update(invalid, props, physical_id), ivs)

    for _ in range(2):
        assert send(update(props, invalid, physical_id), ivs)["PhysicalResourceId"] == physical_id


def test_the_rollback_of_a_failed_validation_update_stops_and_restarts_nothing(local_ivs, make_ivs):
    """The failed Update touched nothing, so its rollback touches nothing either."""
    source = local_ivs.create_stage("source")
    destination = local_ivs.create_stage("destination")
    local_ivs.publish(source, "host")
    ivs = make_ivs()
    props = {"SourceStageArn": source, "DestinationStageArn": destination, "ParticipantId": "host"}
    physical_id = str(send(custom_resource_event("Create", props), ivs)["PhysicalResourceId"])
    (before,) = local_ivs.replicas(state="ACTIVE")
    invalid = {**props, "Attributes": {"k": "x" * 1100}}
    with pytest.raises(InvalidPropertyError):
        send(update(invalid, props, physical_id), ivs)
    local_ivs.reset_calls()

    send(update(props, invalid, physical_id), ivs)

    assert STOP not in local_ivs.calls
    assert START not in local_ivs.calls
    (after,) = local_ivs.replicas(state="ACTIVE")
    assert after.destination_session_id == before.destination_session_id
