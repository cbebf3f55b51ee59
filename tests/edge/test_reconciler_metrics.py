"""The reconciler's metrics from real runs (local IVS endpoint, registry in moto): an event
run counts what it started; a sweep counts its declarations and the drift it found, a
replication stopped out of band while its publisher stays live (declared, or a StageMirror's)."""

from __future__ import annotations

import json
from typing import Any

from ivs_replication.testing.cloudformation import LocalLambdaContext
from ivs_replication_handler import contract as c
from ivs_replication_handler.metrics import ReplicationMetrics
from ivs_replication_handler.reconciler import handle_event as reconcile
from tests.edge.follow_world import FollowWorld


def run(world: FollowWorld, event: dict[str, Any]) -> dict[str, Any]:
    written: list[str] = []
    reconcile(
        event,
        LocalLambdaContext(),
        world.ivs,
        world.registry,
        metrics=ReplicationMetrics(write=written.append),
    )
    [document] = [json.loads(text) for text in written]
    return document


def test_an_event_counts_the_start_and_a_sweep_counts_the_drift_it_repaired(world: FollowWorld):
    main, side, other = world.stage("main"), world.stage("side"), world.stage("other")
    world.create(world.props(main, side))
    world.create(world.props(main, other))
    world.ivs_endpoint.publish(main, "encoder-1")
    [published] = world.events
    world.drop_events()

    started = run(world, published)
    assert started[c.DIMENSION_TRIGGER] == c.TRIGGER_EVENT
    assert started[c.METRIC_STARTED] == [2.0]
    assert c.METRIC_SWEEP_DRIFT not in started

    quiet = run(world, {c.SWEEP_INPUT_KEY: True})
    assert quiet[c.METRIC_SWEEP_DECLARATIONS] == [2.0]
    assert quiet[c.METRIC_SWEEP_DRIFT] == [0.0]
    assert quiet[c.METRIC_ALREADY_ACTIVE] == [2.0]

    # Stopped out of band: declared, publisher live, not ACTIVE.
    world.stop_out_of_band(main, side)
    repaired = run(world, {c.SWEEP_INPUT_KEY: True})
    assert repaired[c.METRIC_SWEEP_DRIFT] == [1.0]
    assert repaired[c.METRIC_STARTED] == [1.0]
    assert world.state(main, side) == "ACTIVE"


def test_a_sweep_of_an_absent_publisher_finds_no_drift(world: FollowWorld):
    main, side = world.stage("main"), world.stage("side")
    world.create(world.props(main, side))

    document = run(world, {c.SWEEP_INPUT_KEY: True})

    assert document[c.METRIC_NOT_PUBLISHING] == [1.0]
    assert document[c.METRIC_SWEEP_DRIFT] == [0.0]


def test_a_mirror_replica_missing_while_its_publisher_is_live_is_sweep_drift(
    world: FollowWorld,
):
    """A mirror's replications count like declarations: one per live publisher it takes and
    destination; the one stopped out of band is drift, started again; a publisher the mirror
    does not take is neither a declaration nor drift."""
    main = world.stage("main")
    audiences = [world.stage("audience-1"), world.stage("audience-2")]
    for number, audience in enumerate(audiences, start=1):
        world.create_mirror(
            world.mirror_props(main, audience, user_ids=["host"]), f"Mirror{number}"
        )
    world.ivs_endpoint.publish(main, "host-1", user_id="host")
    world.ivs_endpoint.publish(main, "host-2", user_id="host")
    world.ivs_endpoint.publish(main, "viewer", user_id="not-a-host")
    world.ivs_endpoint.clock.advance(world.ivs_endpoint.profile.publish_propagation_seconds)
    world.deliver_events()
    assert world.replica_ids(main, audiences[1]) == {"host-1", "host-2"}

    world.stop_out_of_band(main, audiences[1], "host-2")
    document = run(world, {c.SWEEP_INPUT_KEY: True})

    assert document[c.METRIC_SWEEP_DECLARATIONS] == [4.0]
    assert document[c.METRIC_SWEEP_DRIFT] == [1.0]
    assert document[c.METRIC_STARTED] == [1.0]
    assert document[c.METRIC_ALREADY_ACTIVE] == [3.0]
    assert world.replica_ids(main, audiences[1]) == {"host-1", "host-2"}
