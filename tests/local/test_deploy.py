"""LocalDeployment: CloudFormation's custom-resource requests through the real handler, whose
boto3 client reaches the local endpoint over HTTP; plus the bookkeeping with plain handlers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

from ivs_replication.testing.cloudformation import LocalLambdaContext
from ivs_replication.testing.deploy import LocalDeployment, LocalDeploymentError
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.ivs import IvsRealtime
from ivs_replication_handler.spec import ReplicationKey

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator

LOGICAL_ID = "HostIntoSideStage"
PARTICIPANT = "host-1"


@pytest.fixture
def deployment(local_ivs: IvsRealtimeEmulator) -> LocalDeployment:
    """The real handler logic, with a client of its own for this test's endpoint."""
    ivs = IvsRealtime()  # boto3 client from the environment the fixture set, on first use
    return LocalDeployment(lambda event, context: handle_event(event, context, ivs))


@pytest.fixture
def stages(local_ivs: IvsRealtimeEmulator) -> dict[str, str]:
    return {name: local_ivs.create_stage(name) for name in ("main", "side", "extra")}


@pytest.fixture
def properties(local_ivs: IvsRealtimeEmulator, stages: dict[str, str]) -> dict[str, object]:
    local_ivs.publish(stages["main"], PARTICIPANT)
    return {
        "SourceStageArn": stages["main"],
        "DestinationStageArn": stages["side"],
        "ParticipantId": PARTICIPANT,
        "Attributes": {"role": "cohost"},
        "ReconnectWindowSeconds": 30,
    }


def states(local_ivs: IvsRealtimeEmulator, destination: str) -> list[str]:
    return [r.state for r in local_ivs.replicas(destination_stage_arn=destination)]


def request_types(deployment: LocalDeployment) -> list[tuple[str, str | None]]:
    return [(r.request_type, r.physical_id) for r in deployment.history]


def test_create_starts_the_replication_and_records_the_handlers_id(
    local_ivs: IvsRealtimeEmulator,
    deployment: LocalDeployment,
    properties: dict[str, object],
    stages: dict[str, str],
) -> None:
    resource = deployment.create(LOGICAL_ID, properties)

    expected = ReplicationKey(stages["main"], stages["side"], PARTICIPANT).physical_id()
    assert resource.physical_id == expected
    assert deployment.physical_id(LOGICAL_ID) == expected
    assert resource.data["ParticipantId"] == PARTICIPANT
    assert states(local_ivs, stages["side"]) == ["ACTIVE"]
    [replica] = local_ivs.replicas()
    assert replica.reconnect_window_seconds == 30
    assert replica.attributes == {"role": "cohost"}


def test_update_of_attributes_restarts_in_place_with_the_same_id(
    local_ivs: IvsRealtimeEmulator,
    deployment: LocalDeployment,
    properties: dict[str, object],
    stages: dict[str, str],
) -> None:
    created = deployment.create(LOGICAL_ID, properties)
    local_ivs.reset_calls()

    updated = deployment.update(
        LOGICAL_ID, {**properties, "Attributes": {"role": "cohost", "mood": "updated"}}
    )

    assert updated.physical_id == created.physical_id
    assert local_ivs.calls["StopParticipantReplication"] == 1
    assert local_ivs.calls["StartParticipantReplication"] == 1
    [replica] = local_ivs.replicas()
    assert (replica.state, replica.attributes["mood"]) == ("ACTIVE", "updated")
    assert [t for t, _ in request_types(deployment)] == ["Create", "Update"]


def test_update_to_another_destination_replaces_it_and_deletes_the_old_id(
    local_ivs: IvsRealtimeEmulator,
    deployment: LocalDeployment,
    properties: dict[str, object],
    stages: dict[str, str],
) -> None:
    old_id = deployment.create(LOGICAL_ID, properties).physical_id

    new = deployment.update(LOGICAL_ID, {**properties, "DestinationStageArn": stages["extra"]})

    assert new.physical_id != old_id
    assert deployment.physical_id(LOGICAL_ID) == new.physical_id
    assert request_types(deployment) == [
        ("Create", None),
        ("Update", old_id),
        ("Delete", old_id),
    ]
    assert states(local_ivs, stages["extra"]) == ["ACTIVE"]
    assert states(local_ivs, stages["side"]) == ["STOPPED"]


def test_delete_stops_the_replication_and_forgets_the_resource(
    local_ivs: IvsRealtimeEmulator,
    deployment: LocalDeployment,
    properties: dict[str, object],
    stages: dict[str, str],
) -> None:
    physical_id = deployment.create(LOGICAL_ID, properties).physical_id

    deployment.delete(LOGICAL_ID)

    assert deployment.resources == {}
    assert request_types(deployment)[-1] == ("Delete", physical_id)
    assert states(local_ivs, stages["side"]) == ["STOPPED"]


def test_a_failed_create_records_nothing_and_sends_no_delete(
    local_ivs: IvsRealtimeEmulator,
    deployment: LocalDeployment,
    properties: dict[str, object],
    stages: dict[str, str],
) -> None:
    local_ivs.unpublish(stages["main"], PARTICIPANT)

    with pytest.raises(LocalDeploymentError) as raised:
        deployment.create(LOGICAL_ID, properties)

    assert raised.value.request_type == "Create"
    assert PARTICIPANT in raised.value.reason
    assert "publishing" in raised.value.reason
    assert deployment.resources == {}
    assert [(r.request_type, r.succeeded) for r in deployment.history] == [("Create", False)]
    assert local_ivs.replicas() == []


# --- bookkeeping, with plain handlers --------------------------------------------------------


class RecordingHandler:
    """Answers with the ids it is given, or none, and keeps every event and context."""

    def __init__(self, *ids: str | None, fail_on: str | None = None) -> None:
        self.ids = list(ids)
        self.fail_on = fail_on
        self.calls: list[tuple[dict[str, object], Any]] = []

    def __call__(self, event: dict[str, object], context: Any) -> Mapping[str, object]:
        self.calls.append((event, context))
        if event["RequestType"] == self.fail_on:
            raise RuntimeError(f"{self.fail_on} refused")
        physical_id = self.ids.pop(0) if self.ids else None
        return {} if physical_id is None else {"PhysicalResourceId": physical_id}


def test_events_carry_what_cloudformation_sends_and_each_call_gets_a_fresh_context() -> None:
    handler = RecordingHandler("id-1", "id-1")
    deployment = LocalDeployment(handler, timeout_seconds=120)

    deployment.create("R", {"Window": 30})
    deployment.update("R", {"Window": 45})

    (create, first), (update, second) = handler.calls
    assert create["ResourceProperties"] == {"ServiceToken": create["ServiceToken"], "Window": "30"}
    assert "PhysicalResourceId" not in create
    assert update["PhysicalResourceId"] == "id-1"
    assert update["OldResourceProperties"] == {
        "ServiceToken": update["ServiceToken"],
        "Window": "30",
    }
    assert isinstance(first, LocalLambdaContext)
    assert first is not second
    assert first.timeout_seconds == 120
    assert first.aws_request_id != second.aws_request_id


def test_without_a_returned_id_create_uses_the_request_id_and_update_keeps_the_old_one() -> None:
    handler = RecordingHandler(None, None)
    deployment = LocalDeployment(handler)

    created = deployment.create("R", {"A": "1"})
    updated = deployment.update("R", {"A": "2"})

    assert created.physical_id == handler.calls[0][0]["RequestId"]
    assert updated.physical_id == created.physical_id
    assert updated.properties == {"A": "2"}


def test_a_failed_update_keeps_the_previous_record() -> None:
    deployment = LocalDeployment(RecordingHandler("id-1", fail_on="Update"))
    created = deployment.create("R", {"A": "1"})

    with pytest.raises(LocalDeploymentError, match=r"Update of R failed: Update refused"):
        deployment.update("R", {"A": "2"})

    assert deployment.resources["R"] == created


def test_a_failed_cleanup_delete_raises_after_recording_the_replacement() -> None:
    deployment = LocalDeployment(RecordingHandler("id-1", "id-2", fail_on="Delete"))
    deployment.create("R", {"A": "1"})

    with pytest.raises(LocalDeploymentError, match=r"Delete of R failed"):
        deployment.update("R", {"A": "2"})

    assert deployment.physical_id("R") == "id-2"


def test_delete_all_deletes_newest_first() -> None:
    handler = RecordingHandler("id-a", "id-b")
    deployment = LocalDeployment(handler)
    deployment.create("A", {})
    deployment.create("B", {})

    deployment.delete_all()

    assert request_types(deployment)[2:] == [("Delete", "id-b"), ("Delete", "id-a")]
    assert deployment.resources == {}


def test_creating_a_deployed_resource_again_is_refused() -> None:
    deployment = LocalDeployment(RecordingHandler("id-1"))
    deployment.create("R", {})

    with pytest.raises(ValueError, match=r"already deployed"):
        deployment.create("R", {})
