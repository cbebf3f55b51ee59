"""The one line a request logs lists what it did, in order (`steps`): an operator reads there
why a replication was stopped, restarted or left alone, with no DEBUG logging switched on.
Each test pins the steps of one kind of request, under every service profile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ivs_replication_handler import contract as c
from tests.edge.follow_world import FollowWorld

ReadLogs = Callable[[], list[dict[str, Any]]]
LIVE_CREATE = ["Replication ACTIVE"]


def steps_of_the_last_request(read_logs: ReadLogs) -> list[str]:
    [*_, last] = [line for line in read_logs() if line["message"].startswith("Request ")]
    steps: list[str] = last["steps"]
    return steps


def live(world: FollowWorld, **mode: object) -> tuple[str, dict[str, object]]:
    """A replication created by resource Old, its publisher live."""
    main, side = world.stage("main"), world.stage("side")
    world.ivs_endpoint.publish(main, "encoder-1")
    world.ivs_endpoint.clock.advance(world.ivs_endpoint.profile.publish_propagation_seconds)
    props = world.props(main, side, **mode)
    return world.create(props, logical_id="Old"), props


def test_a_create_says_it_confirmed_the_replica_active(
    world: FollowWorld, read_logs: ReadLogs
) -> None:
    live(world)
    assert steps_of_the_last_request(read_logs) == LIVE_CREATE


def test_a_follow_mode_create_of_an_absent_publisher_says_the_reconciler_starts_it(
    world: FollowWorld, read_logs: ReadLogs
) -> None:
    main, side = world.stage("main"), world.stage("side")
    world.create(world.props(main, side))
    assert steps_of_the_last_request(read_logs) == [
        "Participant not publishing; the reconciler starts the replication when it publishes"
    ]


def test_a_delete_of_an_id_that_is_not_ours_says_there_is_nothing_to_stop(
    world: FollowWorld, read_logs: ReadLogs
) -> None:
    main, side = world.stage("main"), world.stage("side")
    world.delete("AWSCDK::CustomResourceProviderFramework::CREATE_FAILED", world.props(main, side))
    assert steps_of_the_last_request(read_logs) == [
        "Physical id is not a replication id; nothing to stop"
    ]


def test_a_delete_says_it_stopped_the_replication(world: FollowWorld, read_logs: ReadLogs) -> None:
    physical_id, props = live(world)
    world.delete(physical_id, props, logical_id="Old")
    assert steps_of_the_last_request(read_logs) == ["Replication stopped (reason=Delete)"]


def test_a_delete_of_an_ended_replication_says_nothing_ran(
    world: FollowWorld, read_logs: ReadLogs
) -> None:
    physical_id, props = live(world)
    world.stop_out_of_band(
        str(props[c.PROP_SOURCE_STAGE_ARN]), str(props[c.PROP_DESTINATION_STAGE_ARN])
    )
    world.delete(physical_id, props, logical_id="Old")
    # IVS does not document its answer to a Stop of what does not run: a profile that
    # accepts it shows a Stop like any other.
    said = (
        "Replication stopped (reason=Delete)"
        if world.ivs_endpoint.profile.stop_stopped == "ok"
        else "Replication not running; nothing to stop (reason=Delete)"
    )
    assert steps_of_the_last_request(read_logs) == [said]


def test_a_delete_of_one_owner_names_the_owners_left(
    world: FollowWorld, read_logs: ReadLogs
) -> None:
    physical_id, props = live(world)
    world.create(props, logical_id="New")
    world.delete(physical_id, props, logical_id="Old")
    assert steps_of_the_last_request(read_logs) == [
        "Still declared by other resources; not stopped (owners=['New'])"
    ]


def test_a_delete_of_the_owner_in_force_says_it_restarted_with_the_settings_left(
    world: FollowWorld, read_logs: ReadLogs
) -> None:
    physical_id, props = live(world)
    new = {**props, c.PROP_ATTRIBUTES: {"role": "cohost"}}
    world.create(new, logical_id="New")
    world.delete(physical_id, new, logical_id="New")
    assert steps_of_the_last_request(read_logs) == [
        "Still declared by other resources; not stopped (owners=['Old'])",
        "Settings now in force differ; restarting with them",
        "Replication stopped (reason=Delete of one owner)",
        *LIVE_CREATE,
    ]


def test_a_delete_of_a_replication_a_mirror_takes_names_the_mirror(
    world: FollowWorld, read_logs: ReadLogs
) -> None:
    physical_id, props = live(world)
    main, side = str(props[c.PROP_SOURCE_STAGE_ARN]), str(props[c.PROP_DESTINATION_STAGE_ARN])
    world.create_mirror(world.mirror_props(main, side))
    world.delete(physical_id, props, logical_id="Old")
    assert steps_of_the_last_request(read_logs) == [
        "Still declared by other resources; not stopped (owners=['a StageMirror'])"
    ]


def test_an_in_place_update_says_it_stopped_and_started_again(
    world: FollowWorld, read_logs: ReadLogs
) -> None:
    physical_id, props = live(world)
    world.update(physical_id, {**props, c.PROP_RECONNECT_WINDOW_SECONDS: 30}, props, "Old")
    assert steps_of_the_last_request(read_logs) == [
        "Update planned (update_kind=in-place)",
        "Replication stopped (reason=Update)",
        *LIVE_CREATE,
    ]
