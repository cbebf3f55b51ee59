"""StageMirror end to end (the real handler and reconciler, the local IVS endpoint under each
service profile, the registry in a local DynamoDB): every publisher of the source, and only
publishers (never a replica), held in each destination whenever they publish; a removal stops
what the mirror made and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from ivs_replication_handler import contract as c
from ivs_replication_handler import messages
from ivs_replication_handler.errors import (
    InvalidPropertyError,
    ReconcileError,
    ReplicationFailedError,
    ServiceError,
)
from ivs_replication_handler.ivs import IvsRealtime, make_client
from ivs_replication_handler.mirrors import MirrorRequests, paced_for_mirrors
from ivs_replication_handler.registry import Registry
from ivs_replication_handler.replicas import STOP_ATTEMPTS
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.settings import IvsSettings
from ivs_replication_handler.spec import (
    MirrorKey,
    MirrorSpec,
    ReplicationKey,
    parse_mirror_properties,
)
from tests.edge.follow_world import FollowWorld
from tests.edge.test_request_steps import ReadLogs
from tests.edge_hooks import HookedIvs
from tests.publishing import published_event

HOSTS = ("host-a", "host-b", "host-c")
START = "StartParticipantReplication"


def _publish_hosts(world: FollowWorld, stage: str, hosts: tuple[str, ...] = HOSTS) -> None:
    """Publish, for long enough that IVS replicates them (a profile's propagation delay)."""
    for host in hosts:
        world.ivs_endpoint.publish(stage, host, user_id=f"user-{host}")
    world.ivs_endpoint.clock.advance(world.ivs_endpoint.profile.publish_propagation_seconds)


def _settle(world: FollowWorld) -> None:
    """Let a profile's late Stops land (they end without anything else happening)."""
    world.ivs_endpoint.clock.advance(world.ivs_endpoint.profile.stop_effect_delay_seconds + 1)


def _explicit_and_mirror(
    world: FollowWorld, user_ids: list[str] | None
) -> tuple[str, str, str, dict[str, object]]:
    """host-a live in main, an explicit replication of it into audience, and a mirror of
    main into audience (every publisher, or `user_ids`'). Returns (main, audience, the
    explicit one's physical id, its properties)."""
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main, ("host-a",))
    explicit = world.props(main, audience, "host-a", Attributes={"role": "explicit"})
    explicit_id = world.create(explicit, "Explicit")
    world.create_mirror(
        world.mirror_props(main, audience, user_ids=user_ids, Attributes={"role": "audience"})
    )
    return main, audience, explicit_id, explicit


def _only_running_attributes(world: FollowWorld, audience: str) -> dict[str, str]:
    """The attributes of the one replica going on in `audience` (one whose Stop IVS answered
    is ending)."""
    [running] = [
        r
        for r in world.ivs_endpoint.replicas(destination_stage_arn=audience)
        if r.state == "ACTIVE" and not r.stopping
    ]
    return dict(running.attributes)


def test_a_create_replicates_every_current_publisher_into_the_destination(
    world: FollowWorld,
) -> None:
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main)
    world.ivs_endpoint.join(main, "viewer-1")  # connected, never published: not mirrored

    physical_id = world.create_mirror(world.mirror_props(main, audience))

    assert physical_id == f"{main}|{audience}|*"
    assert world.replica_ids(main, audience) == set(HOSTS)


def test_a_published_event_starts_that_publisher_into_every_destination(
    world: FollowWorld,
) -> None:
    main = world.stage("main")
    audiences = [world.stage(f"audience-{n}") for n in range(5)]
    for audience in audiences:
        world.create_mirror(world.mirror_props(main, audience), f"Mirror{audience[-6:]}")
    world.events.clear()

    world.ivs_endpoint.publish(main, "host-d", user_id="late-joiner")
    reports = world.deliver_events()

    started = [pid for report in reports for pid in report["started"]]
    assert sorted(started) == sorted(f"{main}|{a}|host-d" for a in audiences)
    for audience in audiences:
        assert world.replica_ids(main, audience) == {"host-d"}


def test_user_ids_take_only_their_publishers(world: FollowWorld) -> None:
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main)

    world.create_mirror(world.mirror_props(main, audience, user_ids=["user-host-b"]))
    world.ivs_endpoint.publish(main, "guest", user_id="someone-else")
    world.deliver_events()

    assert world.replica_ids(main, audience) == {"host-b"}


def test_vs_mode_shows_each_stages_own_publishers_and_never_a_replica_back(
    world: FollowWorld,
) -> None:
    """Two stages mirroring each other: no chains, no loops, whatever the events."""
    stage_a, stage_b = world.stage("a"), world.stage("b")
    world.ivs_endpoint.publish(stage_a, "alice", user_id="alice")
    world.create_mirror(world.mirror_props(stage_a, stage_b), "MirrorAB")
    world.create_mirror(world.mirror_props(stage_b, stage_a), "MirrorBA")
    world.ivs_endpoint.publish(stage_b, "bob", user_id="bob")
    for _ in range(3):  # replicas' own events too, under profiles that announce them
        world.deliver_events()
    world.sweep()

    assert world.replica_ids(stage_a, stage_b) == {"alice"}
    assert world.replica_ids(stage_b, stage_a) == {"bob"}
    # Nothing replicated a replica: every replica's source participant publishes itself.
    for record in world.ivs_endpoint.replicas():
        assert (record.source_stage_arn, record.participant_id) in {
            (stage_a, "alice"),
            (stage_b, "bob"),
        }


def test_a_replicas_own_event_in_a_mirrored_stage_starts_nothing(
    world: FollowWorld, read_logs: ReadLogs
) -> None:
    """A replica is never mirrored back (the stages would replicate each other's replicas
    forever); the run says why it did nothing, and logs the replica's source stage."""
    stage_a, stage_b = world.stage("a"), world.stage("b")
    world.ivs_endpoint.publish(stage_a, "alice", user_id="alice")
    world.create_mirror(world.mirror_props(stage_a, stage_b), "MirrorAB")
    world.create_mirror(world.mirror_props(stage_b, stage_a), "MirrorBA")
    world.ivs_endpoint.reset_calls()
    replica_event = {
        "source": c.EVENT_SOURCE,
        "detail-type": c.EVENT_DETAIL_TYPE,
        "resources": [stage_b],
        "detail": {"event_name": c.EVENT_PARTICIPANT_PUBLISHED, "participant_id": "alice"},
    }

    read_logs()
    report = world.reconcile(replica_event)

    assert report["started"] == []
    assert report["ignored"] == f"the participant is a replica (of {stage_a})"
    assert world.ivs_endpoint.calls.get(START, 0) == 0
    assert [
        line.get("replicated_from")
        for line in read_logs()
        if line["message"] == "A replica's event; mirrors never replicate a replica"
    ] == [stage_a]


def _published(stage: str, participant_id: str) -> dict[str, object]:
    """EventBridge's "Participant Published" event of a participant in `stage`."""
    return {
        "source": c.EVENT_SOURCE,
        "detail-type": c.EVENT_DETAIL_TYPE,
        "resources": [stage],
        "detail": {"event_name": c.EVENT_PARTICIPANT_PUBLISHED, "participant_id": participant_id},
    }


def test_an_event_of_a_publisher_gone_again_counts_as_not_publishing_for_each_mirror(
    world: FollowWorld,
) -> None:
    """Beside an explicit follow-mode declaration of the same publisher: every one counts."""
    main, audience, backstage, side = (
        world.stage(name) for name in ("main", "audience", "backstage", "side")
    )
    world.create_mirror(world.mirror_props(main, audience), "MirrorA")
    world.create_mirror(world.mirror_props(main, backstage), "MirrorB")
    world.create(world.props(main, side, "host-a"), "Explicit")

    report = world.reconcile(_published(main, "host-a"))

    assert report["declarations"] == 3
    assert sorted(report["not_publishing"]) == sorted(
        ReplicationKey(main, destination, "host-a").physical_id()
        for destination in (audience, backstage, side)
    )
    assert report["started"] == []


def test_a_late_event_of_an_earlier_session_counts_as_not_publishing_for_each_mirror(
    world: FollowWorld,
) -> None:
    """A mirror judges an event's publisher in the event's own session (who publishes there,
    and whether as a replica): a late event of a session that has ended starts nothing, even
    when the same participant id publishes in the stage's current session; that session's
    own event (or the sweep) mirrors it."""
    main, audience = world.stage("main"), world.stage("audience")
    world.create_mirror(world.mirror_props(main, audience))
    endpoint = world.ivs_endpoint
    ended = endpoint.publish(main, "host-a", user_id="user-host-a")
    endpoint.unpublish(main, "host-a")
    endpoint.clock.advance(endpoint.profile.session_end_delay_seconds + 1)
    current = endpoint.publish(main, "host-a", user_id="user-host-a")
    endpoint.clock.advance(endpoint.profile.publish_propagation_seconds)
    assert current != ended
    world.drop_events()
    endpoint.reset_calls()
    physical_id = ReplicationKey(main, audience, "host-a").physical_id()

    late = world.reconcile(published_event(main, "host-a", session_id=ended))

    assert late["not_publishing"] == [physical_id]
    assert late["started"] == []
    assert endpoint.calls.get(START, 0) == 0
    assert world.reconcile(published_event(main, "host-a", session_id=current))["started"] == [
        physical_id
    ]


@pytest.mark.parametrize("session_id", ["", 7], ids=["empty", "not-text"])
def test_an_event_whose_session_id_is_blank_or_not_text_names_no_session(
    world: FollowWorld, session_id: object
) -> None:
    """Such an event's publisher is looked for in whatever session is active, not in a
    session of that id, which none has: a live publisher is mirrored, not counted away."""
    main, audience = world.stage("main"), world.stage("audience")
    world.create_mirror(world.mirror_props(main, audience))
    _publish_hosts(world, main, ("host-a",))
    world.drop_events()
    event: dict[str, Any] = _published(main, "host-a")
    event["detail"]["session_id"] = session_id

    report = world.reconcile(event)

    assert report["started"] == [ReplicationKey(main, audience, "host-a").physical_id()]
    assert world.replica_ids(main, audience) == {"host-a"}


def test_an_event_whose_publisher_cannot_be_read_fails_the_run_naming_each_mirror(
    world: FollowWorld,
) -> None:
    """Lambda retries a failed run: the error names each mirror destination and the cause."""
    main, audience = world.stage("main"), world.stage("audience")
    mirror_id = world.create_mirror(world.mirror_props(main, audience))
    world.ivs_endpoint.faults.script_errors("GetStage", ["AccessDeniedException"])

    with pytest.raises(ReconcileError) as caught:
        world.reconcile(_published(main, "host-a"))

    assert str(caught.value).startswith(
        f"1 of 1 declarations failed: {mirror_id}: reading who publishes failed: GetStage: "
        "AccessDeniedException"
    )


@pytest.mark.parametrize("delivery", ["event", "sweep"])
def test_a_follow_declaration_beside_a_mirror_starts_once_with_its_own_settings(
    world: FollowWorld, delivery: str
) -> None:
    """An explicit follow-mode declaration of a publisher holds its destination in its own
    settings: when the publisher comes, a mirror of the same stages leaves that destination
    to it (one replica there, of the explicit attributes) and still starts it into the mirror's
    other destinations, whether an event or the sweep finds it."""
    main = world.stage("main")
    # The explicit declaration's destination is the first the registry lists (by ARN).
    held, other = sorted(world.stage(name) for name in ("audience", "backstage"))
    for destination in (held, other):
        world.create_mirror(
            world.mirror_props(main, destination, Attributes={"role": "audience"}),
            f"Mirror{destination[-6:]}",
        )
    explicit_id = world.create(
        world.props(main, held, "host-a", Attributes={"role": "explicit"}), "Explicit"
    )
    world.drop_events()
    _publish_hosts(world, main, ("host-a",))
    world.ivs_endpoint.reset_calls()

    reports = world.deliver_events() if delivery == "event" else [world.sweep()]

    mirrored_id = ReplicationKey(main, other, "host-a").physical_id()
    started = [pid for report in reports for pid in report["started"]]
    assert sorted(started) == sorted([explicit_id, mirrored_id])
    assert sum(int(str(report["declarations"])) for report in reports) == 2  # held once
    assert _only_running_attributes(world, held) == {"role": "explicit"}
    assert _only_running_attributes(world, other) == {"role": "audience"}


def test_a_sweep_that_cannot_read_the_registry_for_its_publishers_fails_naming_each_mirror(
    world: FollowWorld,
) -> None:
    """Which destinations explicit declarations hold cannot be read: nothing is started for
    those mirrors (a mirror's settings could overrun an explicit declaration's), and the run
    fails naming every one of them with the cause, so Lambda retries it."""
    stages = {name: world.stage(name) for name in ("main", "side", "audience")}
    mirror_ids = sorted(
        world.create_mirror(world.mirror_props(stages[name], stages["audience"]), f"Mirror{name}")
        for name in ("main", "side")
    )
    _publish_hosts(world, stages["main"], ("host-a",))
    _publish_hosts(world, stages["side"], ("host-b",))
    world.drop_events()
    world.ivs_endpoint.reset_calls()

    def refuse_queries(model: Any, **_: object) -> tuple[AWSResponse, dict[str, Any]] | None:
        if model.name != "Query":
            return None
        return AWSResponse("http://registry.invalid", 400, {}, None), {
            "Error": {"Code": "AccessDeniedException", "Message": "no Query"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    events = world.registry.client.meta.events  # the local DynamoDB's client, shared
    events.register_first("before-call.dynamodb", refuse_queries)
    try:
        with pytest.raises(ReconcileError) as caught:
            world.sweep()
    finally:
        events.unregister("before-call.dynamodb", refuse_queries)

    cause = "reading the registry failed: Query: AccessDeniedException (400): no Query"
    assert str(caught.value) == (
        f"2 of 2 declarations failed: {mirror_ids[0]}: {cause}; {mirror_ids[1]}: {cause}"
    )
    assert world.ivs_endpoint.calls.get(START, 0) == 0


def test_a_delete_stops_what_the_mirror_made_and_leaves_an_explicit_replication(
    world: FollowWorld,
) -> None:
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main)
    world.create(world.props(main, audience, "host-a"), "Explicit")
    props = world.mirror_props(main, audience)
    physical_id = world.create_mirror(props)

    world.delete_mirror(physical_id, props)
    _settle(world)

    assert world.replica_ids(main, audience) == {"host-a"}
    world.ivs_endpoint.publish(main, "host-d")
    world.deliver_events()
    assert world.replica_ids(main, audience) == {"host-a"}  # withdrawn: nothing restarts


def test_a_destination_removed_and_added_back_at_once_holds_every_publisher_again(
    world: FollowWorld,
) -> None:
    """A mirror Delete waits until the destination no longer lists the replicas it stopped:
    where IVS lists a stopped replica for a moment (late-stop), a Create right after it would
    otherwise count the replicas whose Stops are landing as running, and start none of them."""
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main)
    props = world.mirror_props(main, audience)
    world.delete_mirror(world.create_mirror(props), props)

    world.create_mirror(props)  # no time passes for IVS but what the handler waits
    _settle(world)

    assert world.replica_ids(main, audience) == set(HOSTS)


def test_a_delete_with_user_ids_leaves_replicas_it_did_not_take(world: FollowWorld) -> None:
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main)
    # Started by something else (an operator, another tool): not the mirror's to stop.
    world.ivs.client.start_participant_replication(
        sourceStageArn=main, destinationStageArn=audience, participantId="host-c"
    )
    props = world.mirror_props(main, audience, user_ids=["user-host-a"])
    physical_id = world.create_mirror(props)

    world.delete_mirror(physical_id, props)
    _settle(world)

    assert world.replica_ids(main, audience) == {"host-c"}


def test_deleting_an_explicit_replication_leaves_it_running_for_a_mirror(
    world: FollowWorld,
) -> None:
    """The ownership rule between a ParticipantReplication and a StageMirror: a replication
    the mirror takes keeps running, with the mirror's settings."""
    _, audience, explicit_id, explicit = _explicit_and_mirror(world, None)

    world.delete(explicit_id, explicit, "Explicit")
    _settle(world)

    assert _only_running_attributes(world, audience) == {"role": "audience"}


def test_deleting_an_explicit_replication_leaves_it_to_a_mirror_naming_its_user_id(
    world: FollowWorld,
) -> None:
    """A mirror with user ids holds the publishers whose user id it names: the explicit
    replication's Delete leaves that one running (with the mirror's settings)."""
    _, audience, explicit_id, explicit = _explicit_and_mirror(world, ["user-host-a"])

    world.delete(explicit_id, explicit, "Explicit")
    _settle(world)

    assert _only_running_attributes(world, audience) == {"role": "audience"}


def test_deleting_an_explicit_replication_a_mirror_does_not_take_stops_it(
    world: FollowWorld,
) -> None:
    """A mirror whose user ids leave the publisher out does not hold it: the explicit
    replication's Delete stops it, as if no mirror were there."""
    main, audience, explicit_id, explicit = _explicit_and_mirror(world, ["user-someone-else"])

    world.delete(explicit_id, explicit, "Explicit")
    _settle(world)

    assert world.replica_ids(main, audience) == set()


def test_deleting_an_explicit_replication_whose_publisher_left_succeeds_beside_a_mirror(
    world: FollowWorld,
) -> None:
    """The publisher has left (its replica ended with it): no mirror holds an absent
    publisher, and the Delete succeeds with nothing running."""
    main, audience, explicit_id, explicit = _explicit_and_mirror(world, None)
    world.ivs_endpoint.unpublish(main, "host-a")
    world.ivs_endpoint.clock.advance(world.ivs_endpoint.profile.stop_effect_delay_seconds + 1)

    response = world.delete(explicit_id, explicit, "Explicit")
    _settle(world)

    assert response["PhysicalResourceId"] == explicit_id
    assert world.replica_ids(main, audience) == set()


class _MirrorlessRegistry(Registry):
    """The registry, its mirror items unreadable (a policy without GetItem on them, say)."""

    def mirror(self, key: MirrorKey, deadline: Deadline) -> MirrorSpec | None:
        raise ServiceError("GetItem", "AccessDeniedException", 400, "not authorized")


def test_a_delete_that_cannot_tell_whether_a_mirror_holds_the_replication_stops_nothing(
    world: FollowWorld,
) -> None:
    """Stopping a replication a mirror takes would cut a live publisher out of its audience
    until its next event: a Delete that cannot read the mirror fails (CloudFormation retries
    it), naming both, and leaves the replication running."""
    main, audience, explicit_id, explicit = _explicit_and_mirror(world, None)
    registry = world.registry
    world.registry = _MirrorlessRegistry(registry.table_name, client=registry.client)

    with pytest.raises(ReplicationFailedError) as caught:
        world.delete(explicit_id, explicit, "Explicit")

    mirror = MirrorKey(main, audience).describe()
    replication = ReplicationKey(main, audience, "host-a").describe()
    assert str(caught.value) == (
        f"Could not tell whether {mirror} holds {replication}, so it was not stopped. Retry. "
        "Cause: GetItem: AccessDeniedException (400): not authorized"
    )
    assert world.replica_ids(main, audience) == {"host-a"}


def _failed_create_over_a_running_replica(world: FollowWorld) -> tuple[str, str, str]:
    """host-a replicated main -> audience by another caller (as a reconciler run may have
    started it meanwhile); a Create of it whose registry cannot read mirrors fails. Returns
    (main, audience, the failure's Reason)."""
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main, ("host-a",))
    world.ivs.client.start_participant_replication(
        sourceStageArn=main, destinationStageArn=audience, participantId="host-a"
    )
    registry = world.registry
    world.registry = _MirrorlessRegistry(registry.table_name, client=registry.client)
    props = world.props(main, audience, "host-a", WhenNotPublishing=c.MODE_FAIL)
    with pytest.raises(ReplicationFailedError) as caught:
        world.create(props, "Explicit")
    world.registry = registry
    _settle(world)
    return main, audience, str(caught.value)


def _could_not_read_the_mirror(main: str, audience: str) -> str:
    return (
        f"Could not read {MirrorKey(main, audience).describe()} from the registry. Deploy "
        "again. Cause: GetItem: AccessDeniedException (400): not authorized"
    )


def test_a_failed_create_that_cannot_tell_whether_a_mirror_holds_it_stops_what_runs(
    world: FollowWorld, read_logs: Callable[[], list[dict[str, Any]]]
) -> None:
    """After a failed Create no Delete comes: what runs that nothing declares is stopped, and
    a mirror that cannot be read counts as none (its replication comes back with its
    publisher's next event or a sweep; an undeclared one would run on). The Reason is the
    failure alone: nothing is left to stop by hand; the log says why it was stopped."""
    main, audience, reason = _failed_create_over_a_running_replica(world)

    assert reason == _could_not_read_the_mirror(main, audience)
    assert world.replica_ids(main, audience) == set()
    assert world.declared() == []
    logs = read_logs()
    [unsure] = [line for line in logs if line["level"] == "WARNING"]
    assert unsure["message"] == "Could not tell whether a mirror holds it"
    assert unsure["reason"].startswith(
        f"Could not tell whether {MirrorKey(main, audience).describe()}"
    )
    [failed] = [line for line in logs if line["message"] == "Request failed"]
    assert failed["steps"] == ["Replication stopped (reason=failed Create)"]


def test_a_failed_create_whose_listing_is_unreadable_still_stops_what_may_run(
    world: FollowWorld,
) -> None:
    """A state that cannot be read is taken for ACTIVE (the worst case): the Stop is sent."""
    world.ivs_endpoint.faults.script_errors("ListParticipantReplicas", ["AccessDeniedException"])

    main, audience, reason = _failed_create_over_a_running_replica(world)

    assert reason == _could_not_read_the_mirror(main, audience)
    assert world.replica_ids(main, audience) == set()


def test_a_failed_create_whose_clean_up_stop_is_refused_says_how_to_stop_it(
    world: FollowWorld,
) -> None:
    """The clean-up's Stop is refused while the replica is listed ACTIVE: the Reason leads
    with the manual stop command, then the failure."""
    world.ivs_endpoint.faults.script_errors(
        "StopParticipantReplication", ["AccessDeniedException"] * STOP_ATTEMPTS
    )

    main, audience, reason = _failed_create_over_a_running_replica(world)

    key = ReplicationKey(main, audience, "host-a")
    assert reason == (
        f"{messages.manual_stop_advice(key)} {_could_not_read_the_mirror(main, audience)}"
    )
    assert world.replica_ids(main, audience) == {"host-a"}


def test_an_explicit_replication_created_over_a_mirrors_replica_runs_its_own_settings(
    world: FollowWorld,
) -> None:
    """The latest declaration is in force: a ParticipantReplication created for a publisher a
    mirror already replicates restarts it with its own settings (a Start alone would adopt
    the mirror's)."""
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main, ("host-a",))
    world.create_mirror(world.mirror_props(main, audience, Attributes={"role": "audience"}))

    world.create(world.props(main, audience, "host-a", Attributes={"role": "explicit"}), "Explicit")
    _settle(world)

    assert _only_running_attributes(world, audience) == {"role": "explicit"}


def test_an_explicit_create_over_a_mirrors_replica_whose_start_is_refused_restores_the_mirrors(
    world: FollowWorld,
) -> None:
    """The Create stopped the mirror's replica to start its own settings, and IVS refused
    that Start: the mirror's settings run again (they were in force before the Create), and
    the Reason says so."""
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main, ("host-a",))
    world.create_mirror(world.mirror_props(main, audience, Attributes={"role": "audience"}))
    world.ivs_endpoint.faults.script_errors(
        "StartParticipantReplication", ["ServiceQuotaExceededException"]
    )

    with pytest.raises(ReplicationFailedError) as caught:
        world.create(
            world.props(main, audience, "host-a", Attributes={"role": "explicit"}), "Explicit"
        )
    _settle(world)

    assert "ServiceQuotaExceededException" in str(caught.value)
    assert "runs again with its previous settings" in str(caught.value)
    assert _only_running_attributes(world, audience) == {"role": "audience"}


@pytest.mark.parametrize("lose", [True, False], ids=["answer-lost", "answered"])
def test_a_mirror_created_right_after_a_reconciler_stopped_a_start_holds_that_publisher(
    world: FollowWorld, lose: bool
) -> None:
    """A reconciler run starts a publisher for a mirror deleted meanwhile, and stops it again
    (its re-read finds the mirror withdrawn; or the Start's answer is lost, and the failed
    run undoes it). A mirror created right after must find that publisher not running and
    start it: where IVS lists a stopped replica ACTIVE for a moment, it would otherwise count
    the replica whose Stop is landing as running, and the publisher would stay out of the
    audience until its next event or a sweep."""
    main, audience = world.stage("main"), world.stage("audience")
    props = world.mirror_props(main, audience)
    physical_id = world.create_mirror(props)
    _publish_hosts(world, main, ("host-a",))
    direct = world.ivs
    hooked = HookedIvs(direct.client)
    hooked.sleep = world.ivs_endpoint.clock.advance
    hooked.before_start = lambda: world.delete_mirror(physical_id, props)
    hooked.lose_start_answer = lose
    world.ivs = hooked
    if lose:
        with pytest.raises(ReconcileError):  # Lambda retries the run; it finds nothing declared
            world.deliver_events()
    else:
        world.deliver_events()
    world.ivs = direct

    world.create_mirror(props)
    _settle(world)

    assert world.replica_ids(main, audience) == {"host-a"}


def test_an_update_restarts_the_replicas_with_the_new_settings(world: FollowWorld) -> None:
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main)
    old = world.mirror_props(main, audience, Attributes={"tier": "1"})
    physical_id = world.create_mirror(old)

    new = world.mirror_props(main, audience, Attributes={"tier": "2"})
    assert world.update_mirror(physical_id, new, old) == physical_id
    _settle(world)

    running = [
        r
        for r in world.ivs_endpoint.replicas(destination_stage_arn=audience)
        if r.state == "ACTIVE" and not r.stopping
    ]
    assert sorted(r.participant_id for r in running) == sorted(HOSTS)
    assert all(r.attributes == {"tier": "2"} for r in running)


def test_narrowing_user_ids_stops_the_publishers_no_longer_taken(world: FollowWorld) -> None:
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main)
    old = world.mirror_props(main, audience)
    physical_id = world.create_mirror(old)

    world.update_mirror(
        physical_id, world.mirror_props(main, audience, user_ids=["user-host-a"]), old
    )
    _settle(world)

    assert world.replica_ids(main, audience) == {"host-a"}


def test_a_publisher_narrowed_out_and_taken_again_at_once_runs_again(world: FollowWorld) -> None:
    """An Update that narrows user ids waits until the destination no longer lists what it
    stopped: under late-stop, a mirror that takes the publisher again right after (another
    Update, or the destination removed and created again) would otherwise count the replica
    whose Stop is landing as running, and start nothing (found by the mirror state machine)."""
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main)
    every = world.mirror_props(main, audience)
    narrowed = world.mirror_props(main, audience, user_ids=["user-host-a"])
    physical_id = world.create_mirror(every)
    world.update_mirror(physical_id, narrowed, every)

    world.update_mirror(physical_id, every, narrowed)  # no time passes but what it waits
    _settle(world)

    assert world.replica_ids(main, audience) == set(HOSTS)


def test_a_renamed_mirror_keeps_its_replications_running(world: FollowWorld) -> None:
    """CloudFormation creates the new logical id, then deletes the old one."""
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main)
    props = world.mirror_props(main, audience)
    physical_id = world.create_mirror(props, "OldMirror")

    world.create_mirror(props, "NewMirror")
    world.delete_mirror(physical_id, props, "OldMirror")
    _settle(world)

    assert world.replica_ids(main, audience) == set(HOSTS)


def test_a_full_destination_is_recorded_not_retried_and_fails_nothing(
    world: FollowWorld, read_logs: ReadLogs
) -> None:
    """12 publishers in a stage, replicas included: IVS refuses one more. The run's warning
    names the replication and IVS's refusal (an operator's cue to make room)."""
    main, audience = world.stage("main"), world.stage("audience")
    for n in range(world.ivs_endpoint.profile.max_publishers_per_stage):
        world.ivs_endpoint.publish(audience, f"local-{n}")
    _publish_hosts(world, main, ("host-a",))
    world.create_mirror(world.mirror_props(main, audience))  # succeeds: recorded, logged
    world.drop_events()
    world.ivs_endpoint.reset_calls()

    _publish_hosts(world, main, ("host-b",))
    read_logs()
    [report] = world.deliver_events()

    assert report["over_quota"] == [f"{main}|{audience}|host-b"]
    assert report["failed"] == {}
    assert world.ivs_endpoint.calls.get(START, 0) == 1  # one Start, no storm
    assert world.replica_ids(main, audience) == set()
    [warning] = [line for line in read_logs() if line["level"] == "WARNING"]
    assert warning["message"] == (
        "The destination stage holds as many publishers as IVS allows; not started (the next "
        "event or sweep tries again)"
    )
    assert warning["physical_id"] == f"{main}|{audience}|host-b"
    assert warning["reason"].startswith(
        "StartParticipantReplication: ServiceQuotaExceededException"
    )


def test_the_sweep_starts_a_publisher_whose_event_was_lost(world: FollowWorld) -> None:
    main, audience = world.stage("main"), world.stage("audience")
    world.create_mirror(world.mirror_props(main, audience))
    _publish_hosts(world, main)
    world.drop_events()

    report = world.sweep()

    assert sorted(report["started"]) == sorted(f"{main}|{audience}|{h}" for h in HOSTS)
    assert world.replica_ids(main, audience) == set(HOSTS)


def test_a_failed_create_leaves_nothing_declared_or_running(world: FollowWorld) -> None:
    """No Delete follows a failed Create: what it started is stopped, its item withdrawn."""
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main)
    # The first Start succeeds, the next is refused for a reason that is no quota.
    hooked = HookedIvs()
    hooked.sleep = world.ivs_endpoint.clock.advance
    hooked.after_start = lambda: world.ivs_endpoint.faults.script_errors(
        START, ["AccessDeniedException"]
    )
    world.ivs = hooked

    with pytest.raises(ReplicationFailedError, match="AccessDenied"):
        world.create_mirror(world.mirror_props(main, audience))
    _settle(world)

    assert world.replica_ids(main, audience) == set()
    assert world.declared() == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({c.PROP_USER_IDS: []}, c.PROP_USER_IDS),
        ({c.PROP_USER_IDS: ["ok", "bad\n"]}, c.PROP_USER_IDS),
        ({c.PROP_USER_IDS: ["x" * 129]}, c.PROP_USER_IDS),
        ({c.PROP_USER_IDS: ["twice", "twice"]}, c.PROP_USER_IDS),
        ({c.PROP_RECONNECT_WINDOW_SECONDS: 301}, c.PROP_RECONNECT_WINDOW_SECONDS),
        ({c.PROP_ATTRIBUTES: {"k": "v" * 1100}}, c.PROP_ATTRIBUTES),
    ],
)
def test_invalid_mirror_properties_fail_before_any_call(
    world: FollowWorld, change: dict[str, object], named: str
) -> None:
    main, audience = world.stage("main"), world.stage("audience")
    world.ivs_endpoint.reset_calls()

    with pytest.raises(InvalidPropertyError, match=named):
        world.create_mirror({**world.mirror_props(main, audience), **change})

    assert world.ivs_endpoint.calls == {}
    assert world.declared() == []


def test_a_mirror_into_its_own_source_is_refused(world: FollowWorld) -> None:
    main = world.stage("main")
    with pytest.raises(InvalidPropertyError, match=c.PROP_DESTINATION_STAGE_ARN):
        world.create_mirror(world.mirror_props(main, main))


def test_mirror_creates_made_together_wait_their_spread_before_reading_any_stage(
    world: FollowWorld,
) -> None:
    # A stack's mirror destinations are created at once, each its own handler: unless each
    # waits its random part of a turn before its first read, their GetStage calls all land
    # at once, many times over IVS's rate (bench P6 without it: 129 GetStage for 40 reads).
    main, audience = world.stage("main"), world.stage("audience")
    _publish_hosts(world, main)
    world.ivs_endpoint.reset_calls()
    now = [0.0]
    waits: list[tuple[float, int]] = []  # (seconds, IVS calls made before the wait)

    def sleep(seconds: float) -> None:
        waits.append((seconds, sum(world.ivs_endpoint.calls.values())))
        now[0] += seconds
        world.ivs_endpoint.clock.advance(seconds)

    settings = IvsSettings(calls_per_second=5.0, stack_mirror_destinations=20)
    ivs = IvsRealtime(make_client(), sleep=sleep, clock=lambda: now[0], settings=settings)
    turn = 1.0 / settings.mirror_share_per_second
    requests = MirrorRequests(
        paced_for_mirrors(ivs),
        Deadline(lambda: 300_000),
        owner="Mirror",
        registry=world.registry,
        spread=lambda seconds: seconds / 2,
    )

    requests.create(parse_mirror_properties(world.mirror_props(main, audience)))

    assert waits[0] == (pytest.approx(turn / 2), 0)
    assert world.replica_ids(main, audience) == set(HOSTS)


def test_a_sweep_that_cannot_list_one_stages_publishers_still_mirrors_the_others(
    world: FollowWorld,
) -> None:
    """The first stage the sweep lists is refused: its mirror fails the run (Lambda retries
    it), and the other stage's publishers are mirrored all the same."""
    stages = {name: world.stage(name) for name in ("main", "side", "audience")}
    mirror_ids = {
        world.create_mirror(world.mirror_props(stages[name], stages["audience"]), f"Mirror{name}")
        for name in ("main", "side")
    }
    world.ivs_endpoint.publish(stages["main"], "host-a", user_id="host-a")
    world.ivs_endpoint.publish(stages["side"], "host-b", user_id="host-b")
    world.ivs_endpoint.clock.advance(world.ivs_endpoint.profile.publish_propagation_seconds)
    world.drop_events()  # the sweep is what starts them
    world.ivs_endpoint.faults.script_errors("ListParticipants", ["AccessDeniedException"])

    with pytest.raises(ReconcileError) as caught:
        world.sweep()

    head, _, cause = str(caught.value).partition(": listing who publishes failed: ")
    failed_id = head.removeprefix("1 of 2 declarations failed: ")
    assert failed_id in mirror_ids
    assert cause.startswith("ListParticipants: AccessDeniedException")
    running = {
        (source, host)
        for source in ("main", "side")
        for host in ("host-a", "host-b")
        if world.state(stages[source], stages["audience"], host) == "ACTIVE"
    }
    assert len(running) == 1  # the stage that could be listed, its one publisher
