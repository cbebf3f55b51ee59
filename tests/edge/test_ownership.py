"""Ownership: a replication keeps running, and stays declared, while any resource of the stack
still declares it, in every mode and under every service profile. CloudFormation's real
sequences: a construct renamed or moved gets a new logical id with the same physical id, so
CloudFormation creates the new resource, then deletes the old one (UPDATE_COMPLETE_CLEANUP);
a move whose stack update then fails deletes the new one in the rollback's cleanup; either
Delete may be delivered twice. A real removal (the last declaring resource) still stops it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ivs_replication_handler import contract as c
from ivs_replication_handler import messages
from ivs_replication_handler.errors import ReplicationFailedError, ServiceError
from ivs_replication_handler.registry import Ownership, Registry, describe_item
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.spec import ReplicationKey, ReplicationSpec
from tests.edge.follow_world import FollowWorld
from tests.edge_hooks import HookedIvs

MODES = {
    "follow": {},
    "fail": {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FAIL},
    "wait": {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_WAIT, c.PROP_WAIT_SECONDS: 5},
}


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> dict[str, object]:
    return MODES[str(request.param)]


def live_replication(world: FollowWorld, mode: dict[str, object]) -> tuple[str, dict[str, object]]:
    """Old's replication, created and running (its publisher live)."""
    main, side = world.stage("main"), world.stage("side")
    world.ivs_endpoint.publish(main, "encoder-1")
    world.ivs_endpoint.clock.advance(world.ivs_endpoint.profile.publish_propagation_seconds)
    props = world.props(main, side, **mode)
    physical_id = world.create(props, logical_id="Old")
    world.deliver_events()
    assert world.state(main, side) == "ACTIVE"
    return physical_id, props


def state(world: FollowWorld, props: dict[str, object]) -> str | None:
    return world.state(
        str(props[c.PROP_SOURCE_STAGE_ARN]), str(props[c.PROP_DESTINATION_STAGE_ARN])
    )


@pytest.mark.parametrize("twice", [False, True], ids=["once", "delivered-twice"])
def test_a_rename_keeps_the_replication_running_and_declared(
    world: FollowWorld, mode: dict[str, object], twice: bool
) -> None:
    """Create-new, then the cleanup's Delete of the old id (maybe delivered twice): the new
    resource still declares it, so it runs on, and (in follow mode) the reconciler still
    starts it whenever the publisher comes back."""
    physical_id, props = live_replication(world, mode)

    assert world.create(props, logical_id="New") == physical_id  # adopts what runs
    for _ in range(2 if twice else 1):
        world.delete(physical_id, props, logical_id="Old")

    assert state(world, props) == "ACTIVE"
    if not mode:  # follow mode: still declared for the reconciler
        assert len(world.declared()) == 1
    # The real removal, later: the last declaring resource goes.
    world.delete(physical_id, props, logical_id="New")
    assert state(world, props) == "STOPPED"
    assert world.declared() == []


def test_a_rename_with_the_same_settings_never_interrupts_the_replication(
    world: FollowWorld, mode: dict[str, object]
) -> None:
    """The old id's Delete withdraws an owner whose settings are the ones running: nothing is
    stopped or started (a restart would cut the replica out of its destination for a moment).
    The Delete answers with the id and the replication it was given."""
    physical_id, props = live_replication(world, mode)
    world.create(props, logical_id="New")
    world.ivs_endpoint.reset_calls()

    response = world.delete(physical_id, props, logical_id="Old")

    assert response == {
        "PhysicalResourceId": physical_id,
        "Data": {
            c.PROP_SOURCE_STAGE_ARN: props[c.PROP_SOURCE_STAGE_ARN],
            c.PROP_DESTINATION_STAGE_ARN: props[c.PROP_DESTINATION_STAGE_ARN],
            c.PROP_PARTICIPANT_ID: "encoder-1",
        },
    }
    assert "StopParticipantReplication" not in world.ivs_endpoint.calls
    assert "StartParticipantReplication" not in world.ivs_endpoint.calls
    assert state(world, props) == "ACTIVE"


def test_a_renames_create_adopts_what_runs_without_watching_for_a_stop(
    world: FollowWorld, mode: dict[str, object]
) -> None:
    """A replica another resource of the stack declares runs for good: the new resource's
    Create adopts it at once, rather than watching the listing for as long as a Stop may take
    to show (which a replica met by chance needs)."""
    _, props = live_replication(world, mode)
    world.ivs_endpoint.reset_calls()

    world.create(props, logical_id="New")

    assert world.ivs_endpoint.calls.get("ListParticipantReplicas", 0) <= 1
    assert state(world, props) == "ACTIVE"


def test_a_failed_moves_rollback_cleanup_keeps_the_old_resources_replication(
    world: FollowWorld, mode: dict[str, object]
) -> None:
    """Create-new, the stack update fails elsewhere, the rollback's cleanup deletes the new
    id (maybe twice): the old resource still declares it."""
    physical_id, props = live_replication(world, mode)
    world.create(props, logical_id="New")

    world.delete(physical_id, props, logical_id="New")
    world.delete(physical_id, props, logical_id="New")

    assert state(world, props) == "ACTIVE"
    world.delete(physical_id, props, logical_id="Old")
    assert state(world, props) == "STOPPED"


def test_a_rename_that_also_changes_the_settings_runs_the_new_ones(world: FollowWorld) -> None:
    """The declaration in force is the latest: the new resource's settings run once it is
    created; if the move is rolled back, the old resource's settings run again."""
    physical_id, old = live_replication(world, {})
    new = {**old, c.PROP_ATTRIBUTES: {"role": "cohost"}, c.PROP_RECONNECT_WINDOW_SECONDS: 30}

    world.create(new, logical_id="New")
    [replica] = [r for r in world.ivs_endpoint.replicas(state="ACTIVE") if not r.stopping]
    assert (replica.attributes, replica.reconnect_window_seconds) == ({"role": "cohost"}, 30)

    world.delete(physical_id, new, logical_id="New")  # the rollback's cleanup
    [replica] = [r for r in world.ivs_endpoint.replicas(state="ACTIVE") if not r.stopping]
    assert (replica.attributes, replica.reconnect_window_seconds) == ({}, 0)


@pytest.mark.parametrize("kept", ["fail", "wait"])
def test_a_delete_restarting_with_the_remaining_settings_ends_at_once_if_the_publisher_left(
    world: FollowWorld, kept: str
) -> None:
    """The rollback's cleanup deletes the new owner: the old one's settings are in force
    again, so the Delete stops the replica and starts it with them. The publisher leaves in
    between: whatever the remaining owner's mode, a Delete neither fails for that (it would
    stick the rollback) nor waits for the publisher (that wait belongs to deploying the
    remaining resource, not to removing another): nothing runs, as after any absence."""
    physical_id, old = live_replication(world, MODES[kept])
    new = {**old, c.PROP_ATTRIBUTES: {"role": "cohost"}}
    world.create(new, logical_id="New")
    main = str(old[c.PROP_SOURCE_STAGE_ARN])
    hooked = HookedIvs(world.ivs.client)
    hooked.sleep = world.ivs_endpoint.clock.advance
    hooked.after_stop = lambda: world.ivs_endpoint.unpublish(main, "encoder-1")
    world.ivs = hooked
    world.lambda_clock = world.ivs_endpoint.clock.now
    world.ivs_endpoint.reset_calls()

    response = world.delete(physical_id, new, logical_id="New")

    assert response["PhysicalResourceId"] == physical_id
    assert world.ivs_endpoint.calls.get("StartParticipantReplication", 0) <= 2
    assert state(world, old) != "ACTIVE"


def test_a_failed_create_of_the_new_id_leaves_the_old_ones_replication_running(
    world: FollowWorld,
) -> None:
    """The new resource (other settings) restarts the replication with its own, IVS refuses
    that Start (a quota, say): the Create fails, the old resource's settings are started
    again, and the new resource withdraws its own declaration only."""
    physical_id, props = live_replication(world, {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FAIL})
    new = {**props, c.PROP_ATTRIBUTES: {"role": "cohost"}}
    world.ivs_endpoint.faults.script_errors(
        "StartParticipantReplication", ["ServiceQuotaExceededException"]
    )

    with pytest.raises(ReplicationFailedError, match="runs again with its previous settings"):
        world.create(new, logical_id="New")

    [replica] = [r for r in world.ivs_endpoint.replicas(state="ACTIVE") if not r.stopping]
    assert replica.attributes == {}
    world.delete(physical_id, props, logical_id="Old")
    assert state(world, props) == "STOPPED"


class _RefusingRegistry(Registry):
    """The registry, refusing every withdrawal (a policy, a throttle that outlasts the run)."""

    def withdraw(self, key: ReplicationKey, owner: str, deadline: Deadline) -> Ownership:
        raise ServiceError("UpdateItem", "AccessDeniedException", 400, "not authorized")


class _UnwritableRegistry(Registry):
    """The registry, refusing every declaration."""

    def declare(self, spec: ReplicationSpec, owner: str, deadline: Deadline) -> Ownership:
        raise ServiceError("UpdateItem", "AccessDeniedException", 400, "not authorized")


class _SealedRegistry(_UnwritableRegistry, _RefusingRegistry):
    """The registry, refusing every declaration and every withdrawal."""


@pytest.mark.parametrize("withdrawal", ["withdrawn", "refused"])
def test_a_create_that_cannot_declare_starts_nothing_and_says_what_is_left_declared(
    world: FollowWorld, withdrawal: str
) -> None:
    """A refused declaration may still have been written (its answer lost): the Create
    withdraws it again before failing, since no Delete follows a failed Create. The Reason
    says whether that worked, and if not, which item to delete by hand."""
    main, side = world.stage("main"), world.stage("side")
    world.ivs_endpoint.publish(main, "encoder-1")
    registry = _UnwritableRegistry if withdrawal == "withdrawn" else _SealedRegistry
    world.registry = registry(world.registry.table_name, client=world.registry.client)

    with pytest.raises(ReplicationFailedError) as caught:
        world.create(world.props(main, side))

    key = ReplicationKey(main, side, "encoder-1")
    left = (
        "nothing was started or left declared. Deploy again."
        if withdrawal == "withdrawn"
        else f"nothing was started. {messages.stale_declaration_advice(describe_item(key))}"
    )
    assert str(caught.value) == (
        f"Could not declare {key.describe()} in the registry table; {left} Cause: UpdateItem: "
        "AccessDeniedException (400): not authorized"
    )
    assert "StartParticipantReplication" not in world.ivs_endpoint.calls


def test_an_update_that_cannot_declare_its_settings_changes_nothing(world: FollowWorld) -> None:
    """The registry holds what is in force (what a later Delete or rollback puts back): an
    Update that cannot record its settings fails before it stops anything."""
    physical_id, props = live_replication(world, {})
    world.registry = _UnwritableRegistry(world.registry.table_name, client=world.registry.client)
    world.ivs_endpoint.reset_calls()

    with pytest.raises(ReplicationFailedError) as caught:
        world.update(physical_id, {**props, c.PROP_RECONNECT_WINDOW_SECONDS: 30}, props, "Old")

    key = ReplicationKey(
        str(props[c.PROP_SOURCE_STAGE_ARN]), str(props[c.PROP_DESTINATION_STAGE_ARN]), "encoder-1"
    )
    assert str(caught.value) == (
        f"Could not declare {key.describe()} in the registry table; nothing was started. Deploy "
        "again. Cause: UpdateItem: AccessDeniedException (400): not authorized"
    )
    assert "StopParticipantReplication" not in world.ivs_endpoint.calls
    assert state(world, props) == "ACTIVE"


def test_a_delete_that_cannot_withdraw_stops_nothing_and_its_retry_does(
    world: FollowWorld,
) -> None:
    """The registry refuses the withdrawal: the Delete fails (CloudFormation retries it) and
    stops nothing, since another resource may still declare it; the retry stops it."""
    physical_id, props = live_replication(world, {})
    registry = world.registry
    world.registry = _RefusingRegistry(registry.table_name, client=registry.client)

    with pytest.raises(ReplicationFailedError) as caught:
        world.delete(physical_id, props, logical_id="Old")
    key = ReplicationKey(
        str(props[c.PROP_SOURCE_STAGE_ARN]), str(props[c.PROP_DESTINATION_STAGE_ARN]), "encoder-1"
    )
    assert str(caught.value) == (
        f"Could not withdraw {key.describe()} from the registry, so it was not stopped (it may "
        "still be declared, and the reconciler could restart it). Retry. Cause: UpdateItem: "
        "AccessDeniedException (400): not authorized"
    )
    assert state(world, props) == "ACTIVE"

    world.registry = registry
    world.delete(physical_id, props, logical_id="Old")
    assert state(world, props) == "STOPPED"


def test_a_failed_create_that_cannot_withdraw_says_which_item_stays_declared(
    world: FollowWorld, read_logs: Callable[[], list[dict[str, Any]]]
) -> None:
    """After a failed Create no Delete comes, so a declaration it cannot withdraw would stay
    (and a follow-mode one let the sweep start what nothing owns): the Reason leads with the
    registry item to delete by hand, and the log says why the withdrawal failed."""
    main, side = world.stage("main"), world.stage("side")
    world.ivs_endpoint.publish(main, "encoder-1")
    world.ivs_endpoint.clock.advance(world.ivs_endpoint.profile.publish_propagation_seconds)
    world.ivs_endpoint.faults.script_errors(
        "StartParticipantReplication", ["ServiceQuotaExceededException"]
    )
    registry = world.registry
    world.registry = _RefusingRegistry(registry.table_name, client=registry.client)
    props = world.props(main, side)

    with pytest.raises(ReplicationFailedError) as caught:
        world.create(props)

    item = describe_item(ReplicationKey(main, side, "encoder-1"))
    assert caught.value.advice.startswith(messages.stale_declaration_advice(item) + " ")
    [withdrawal] = [
        line
        for line in read_logs()
        if line["message"] == "Withdrawing after a failed request failed"
    ]
    assert withdrawal["reason"].startswith("Could not withdraw")
    assert "AccessDeniedException" in withdrawal["reason"]
    assert len(world.declared()) == 1  # what the advice is about
