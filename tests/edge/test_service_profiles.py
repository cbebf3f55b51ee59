"""Whatever IVS answers where it documents nothing, deploys do what the guide says: under
every service profile of the emulator (the `world` fixture is parametrized by
`service_profile`).

Publishing here is *right now*: under a profile whose IVS replicates a publisher only seconds
after it starts, the handler and the reconciler settle (their waits move the endpoint's
clock, see `world`).
"""

from __future__ import annotations

import pytest

from ivs_replication_handler import contract as c
from ivs_replication_handler.errors import ReplicationFailedError
from tests.edge.follow_world import FollowWorld
from tests.publishing import published_event
from tests.service_profiles import HISTORY_FIRST

START = "StartParticipantReplication"
STOP = "StopParticipantReplication"
PARTICIPANT = "encoder-1"


def _fail_mode(world: FollowWorld, source: str, destination: str) -> dict[str, object]:
    return world.props(source, destination, **{c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FAIL})


def test_follow_create_with_nobody_publishing_succeeds_and_starts_nothing(world: FollowWorld):
    main, side = world.stage("main"), world.stage("side")
    world.create(world.props(main, side))
    assert world.state(main, side) is None
    assert len(world.declared()) == 1


def test_publish_and_one_delivered_event_make_every_declared_destination_active(
    world: FollowWorld,
):
    main = world.stage("main")
    sides = [world.stage(f"side-{n}") for n in range(3)]
    for side in sides:
        world.create(world.props(main, side))
    world.ivs_endpoint.publish(main, PARTICIPANT)  # and the event goes out at once

    [report] = world.deliver_events()

    assert report["failed"] == {}
    assert [world.state(main, side) for side in sides] == ["ACTIVE"] * 3


def test_fail_mode_create_right_after_publishing_succeeds_and_never_undoes_its_start(
    world: FollowWorld,
):
    main, side = world.stage("main"), world.stage("side")
    world.ivs_endpoint.publish(main, PARTICIPANT)
    world.ivs_endpoint.reset_calls()

    world.create(_fail_mode(world, main, side))

    assert world.state(main, side) == "ACTIVE"
    assert world.ivs_endpoint.calls.get(STOP, 0) == 0


def test_fail_mode_create_with_nobody_publishing_says_the_participant_is_not_publishing(
    world: FollowWorld,
):
    main, side = world.stage("main"), world.stage("side")
    with pytest.raises(ReplicationFailedError, match=f"'{PARTICIPANT}' is not publishing"):
        world.create(_fail_mode(world, main, side))
    assert world.state(main, side) is None


def test_delete_and_a_repeated_delete_succeed(world: FollowWorld):
    main, side = world.stage("main"), world.stage("side")
    props = world.props(main, side)
    physical_id = world.create(props)
    world.ivs_endpoint.publish(main, PARTICIPANT)
    world.deliver_events()
    assert world.state(main, side) == "ACTIVE"

    world.delete(physical_id, props)
    world.delete(physical_id, props)  # a retried Delete: Stop of a STOPPED replica

    assert world.state(main, side) == "STOPPED"
    assert world.declared() == []


def test_a_sweep_repairs_a_live_publishers_stopped_replica(world: FollowWorld):
    main, side = world.stage("main"), world.stage("side")
    world.create(world.props(main, side))
    world.ivs_endpoint.publish(main, PARTICIPANT)
    world.deliver_events()
    # Stopped behind the stack's back; no event says so.
    world.stop_out_of_band(main, side, PARTICIPANT)
    assert world.state(main, side) == "STOPPED"

    report = world.sweep()

    assert report["failed"] == {}
    assert report["started"] == [f"{main}|{side}|{PARTICIPANT}"]
    assert world.state(main, side) == "ACTIVE"


# --- STOPPED history on earlier pages, the ACTIVE record last ------------------------------


def _with_history(world: FollowWorld) -> tuple[str, str]:
    """A live publisher whose replica to `side` was started and stopped twice before."""
    main, side = world.stage("main"), world.stage("side")
    world.ivs_endpoint.publish(main, PARTICIPANT)
    client = world.ivs.client
    for _ in range(2):
        client.start_participant_replication(
            sourceStageArn=main, destinationStageArn=side, participantId=PARTICIPANT
        )
        client.stop_participant_replication(
            sourceStageArn=main, destinationStageArn=side, participantId=PARTICIPANT
        )
        world.ivs_endpoint.clock.advance(1)
    return main, side


def _pages(world: FollowWorld, main: str) -> list[str]:
    states, token = [], None
    while True:
        extra = {"nextToken": token} if token else {}
        page = world.ivs.client.list_participant_replicas(
            sourceStageArn=main, participantId=PARTICIPANT, **extra
        )
        states += [r["replicationState"] for r in page["replicas"]]
        token = page.get("nextToken")
        if not token:
            return states


@pytest.mark.parametrize("service_profile", [HISTORY_FIRST], ids=[HISTORY_FIRST.name])
def test_create_update_and_delete_read_past_stopped_history_to_the_active_record_last(
    world: FollowWorld,
):
    main, side = _with_history(world)
    props = _fail_mode(world, main, side)

    physical_id = world.create(props)  # would undo its own start if it read the first record
    assert _pages(world, main) == ["STOPPED", "STOPPED", "ACTIVE"]

    changed = {**props, c.PROP_ATTRIBUTES: {"role": "side"}}
    world.update(physical_id, changed, props)  # in place: Stop, Start, confirm
    followed = {**changed, c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FOLLOW}
    world.ivs_endpoint.reset_calls()
    world.update(physical_id, followed, changed)  # mode only: ACTIVE already, no Start
    assert world.ivs_endpoint.calls.get(START, 0) == 0
    assert world.state(main, side) == "ACTIVE"

    world.delete(physical_id, followed)
    assert world.state(main, side) == "STOPPED"


@pytest.mark.parametrize("service_profile", [HISTORY_FIRST], ids=[HISTORY_FIRST.name])
def test_reconcile_and_sweep_see_the_active_record_behind_stopped_history(world: FollowWorld):
    main, side = _with_history(world)
    world.create(world.props(main, side))  # follow mode, publishing: started now
    world.events.clear()
    world.ivs_endpoint.publish(main, "someone-else")  # keeps the session; no event of ours
    world.events.clear()
    world.ivs_endpoint.reset_calls()
    reconciled = world.reconcile(published_event(main, PARTICIPANT))
    swept = world.sweep()

    physical_id = f"{main}|{side}|{PARTICIPANT}"
    assert reconciled["already_active"] == [physical_id]
    assert swept["already_active"] == [physical_id]
    assert reconciled["failed"] == swept["failed"] == {}
    assert world.ivs_endpoint.calls.get(START, 0) == 0  # nothing restarted
    assert world.state(main, side) == "ACTIVE"


@pytest.mark.parametrize("mode", [c.MODE_FAIL, c.MODE_FOLLOW])
@pytest.mark.parametrize(
    "changed", [{c.PROP_ATTRIBUTES: {"role": "b"}}, {c.PROP_RECONNECT_WINDOW_SECONDS: 30}]
)
def test_an_in_place_update_of_a_live_publisher_ends_with_one_active_replica_of_the_new_settings(
    world: FollowWorld, mode: str, changed: dict[str, object]
):
    """An in-place Update restarts the replication with the new settings even where IVS lists
    it ACTIVE for a while after its Stop (the late-stop profile): the handler waits for its own
    Stop to show before starting again, instead of reading the lingering replica as one that
    another caller started (and "restoring" to a replica that then stops)."""
    main, side = world.stage("main"), world.stage("side")
    world.ivs_endpoint.publish(main, PARTICIPANT)
    old = world.props(
        main, side, **{c.PROP_WHEN_NOT_PUBLISHING: mode, c.PROP_ATTRIBUTES: {"role": "a"}}
    )
    physical_id = world.create(old)
    world.deliver_events()
    new = {**old, **changed}

    assert world.update(physical_id, new, old) == physical_id
    world.ivs_endpoint.clock.advance(60)  # whatever Stop was landing has landed

    [replica] = world.ivs_endpoint.replicas(destination_stage_arn=side, state="ACTIVE")
    expected_attributes = new[c.PROP_ATTRIBUTES]
    expected_window = int(str(new.get(c.PROP_RECONNECT_WINDOW_SECONDS, 0)))
    assert replica.attributes == expected_attributes
    assert replica.reconnect_window_seconds == expected_window


def test_a_replication_removed_and_declared_again_at_once_runs_after_the_next_sweep(
    world: FollowWorld,
):
    """A Delete returns once IVS shows its Stop: where IVS lists a stopped replica ACTIVE for
    a moment (late-stop), a construct removed and added back at once, and the sweep after its
    publisher returns, would otherwise count the replica whose Stop is landing as running and
    start nothing (found by the follow state machine under the long profile)."""
    main, side = world.stage("main"), world.stage("side")
    # A reconnect window: the replica outlives its publisher's leaving while its Stop lands.
    props = world.props(main, side, **{c.PROP_RECONNECT_WINDOW_SECONDS: 10})
    physical_id = world.create(props)
    world.ivs_endpoint.publish(main, PARTICIPANT)
    world.deliver_events()
    world.delete(physical_id, props)
    world.ivs_endpoint.unpublish(main, PARTICIPANT)
    world.create(props)  # nobody publishes: follow mode starts nothing yet

    world.ivs_endpoint.publish(main, PARTICIPANT)
    world.drop_events()
    world.sweep()
    world.ivs_endpoint.clock.advance(60)  # whatever Stop was landing has landed

    assert world.state(main, side) == "ACTIVE"
