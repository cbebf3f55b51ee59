"""Follow mode: deploy succeeds with nobody publishing; replication holds whenever the
publisher is live, and nothing restarts it once the declaration is deleted."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import pytest

from ivs_replication.testing.cloudformation import LocalLambdaContext
from ivs_replication_handler import contract as c
from ivs_replication_handler import handler, reconciler
from ivs_replication_handler.errors import ReconcileError, ReplicationFailedError
from ivs_replication_handler.ivs import IvsRealtime, Pacer, make_client
from ivs_replication_handler.reconciler import handle_event as reconcile
from ivs_replication_handler.registry import Registry
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.settings import IvsSettings
from ivs_replication_handler.spec import ReplicationKey, ReplicationSpec
from tests.edge.conftest import write_logs_to
from tests.edge.follow_world import FollowWorld
from tests.edge.test_request_steps import ReadLogs
from tests.edge_hooks import HookedIvs
from tests.publishing import publish_for_a_while, published_event

WINDOW = 30
START = "StartParticipantReplication"
# How long a Start waits for the others at a barrier before the test fails; they all arrive
# at once when the reconciler runs them concurrently, so this is only a failure's bound.
BARRIER_SECONDS = 10


def test_declared_while_offline_it_starts_when_the_participant_publishes(
    world: FollowWorld, read_logs: ReadLogs
) -> None:
    """The run reports the start, and logs it with the replication's physical id, then its
    report."""
    main, side = world.stage("main"), world.stage("side")
    world.create(world.props(main, side))
    assert world.state(main, side) is None
    assert world.declared() == [{"publisher": f"{main}|encoder-1", "destination": side}]

    world.ivs_endpoint.publish(main, "encoder-1")
    read_logs()
    [report] = world.deliver_events()

    assert report["trigger"] == "event"
    assert report["ignored"] is None
    assert report["started"] == [f"{main}|{side}|encoder-1"]
    assert world.state(main, side) == "ACTIVE"
    logged = read_logs()
    assert [line["physical_id"] for line in logged if line["message"] == "Replication started"] == [
        f"{main}|{side}|encoder-1"
    ]
    assert [line["report"] for line in logged if line["message"] == "Reconciled"] == [report]


def test_an_absence_beyond_the_window_ends_it_and_the_next_publish_restarts_it(
    world: FollowWorld,
) -> None:
    main, side = world.stage("main"), world.stage("side")
    world.create(world.props(main, side, ReconnectWindowSeconds=WINDOW))
    world.ivs_endpoint.publish(main, "encoder-1")
    world.deliver_events()

    world.ivs_endpoint.unpublish(main, "encoder-1")
    world.ivs_endpoint.clock.advance(WINDOW + 1)
    world.deliver_events()  # "Participant Unpublished" does not match: nothing to do
    assert world.state(main, side) == "STOPPED"

    world.ivs_endpoint.publish(main, "encoder-1")
    world.deliver_events()
    assert world.state(main, side) == "ACTIVE"


def test_declared_while_publishing_it_starts_at_once(world: FollowWorld) -> None:
    main, side = world.stage("main"), world.stage("side")
    world.ivs_endpoint.publish(main, "encoder-1")
    world.drop_events()
    world.create(world.props(main, side))
    assert world.state(main, side) == "ACTIVE"


def test_delete_withdraws_then_stops_and_a_late_event_restarts_nothing(
    world: FollowWorld,
) -> None:
    main, side = world.stage("main"), world.stage("side")
    props = world.props(main, side)
    physical_id = world.create(props)
    world.ivs_endpoint.publish(main, "encoder-1")
    late = list(world.events)
    world.deliver_events()
    assert world.state(main, side) == "ACTIVE"

    world.delete(physical_id, props)
    assert world.declared() == []
    assert world.state(main, side) == "STOPPED"

    # An event EventBridge delivers late (or retries) after the rule is gone.
    report = world.reconcile(late[0])
    assert report["ignored"] == "no replication of this participant is declared"
    assert world.state(main, side) == "STOPPED"
    world.sweep()
    assert world.state(main, side) == "STOPPED"


def test_a_replication_another_caller_starts_just_before_the_runs_start_is_already_active(
    world: FollowWorld,
) -> None:
    """The run listed it not running; another caller (a duplicate delivery's run, a
    Create) started it just before the run's Start: the run adopts it and reports it as
    already active, not as started by itself - where IVS tells (a Conflict). Where IVS answers
    a Start of a running replication with success, the run cannot tell, and says started."""
    main, side = world.stage("main"), world.stage("side")
    world.create(world.props(main, side))
    publish_for_a_while(world.ivs_endpoint, main, "encoder-1")
    direct = world.ivs
    hooked = HookedIvs(direct.client)
    hooked.sleep = world.ivs_endpoint.clock.advance
    spec = ReplicationSpec(ReplicationKey(main, side, "encoder-1"), {}, 0, c.MODE_FOLLOW)
    hooked.before_start = lambda: direct.start_replication(spec, Deadline(lambda: 60_000))
    world.ivs = hooked

    [report] = world.deliver_events()

    physical_id = [f"{main}|{side}|encoder-1"]
    told = world.ivs_endpoint.profile.duplicate_start == "conflict"
    assert (report["already_active"], report["started"]) == (
        (physical_id, []) if told else ([], physical_id)
    )
    assert world.state(main, side) == "ACTIVE"


def test_duplicate_events_start_once(world: FollowWorld) -> None:
    main, side = world.stage("main"), world.stage("side")
    world.create(world.props(main, side))
    publish_for_a_while(world.ivs_endpoint, main, "encoder-1")
    world.events.extend(list(world.events))  # delivered twice
    world.ivs_endpoint.reset_calls()

    first, second = world.deliver_events()

    assert first["started"]
    assert not second["started"]
    assert second["already_active"] == [f"{main}|{side}|encoder-1"]
    assert world.ivs_endpoint.calls.get(START) == 1
    assert world.state(main, side) == "ACTIVE"


def test_an_old_event_arriving_after_the_publisher_left_is_harmless(world: FollowWorld) -> None:
    main, side = world.stage("main"), world.stage("side")
    world.create(world.props(main, side))
    world.ivs_endpoint.publish(main, "encoder-1")
    stale = list(world.events)
    world.drop_events()
    world.ivs_endpoint.unpublish(main, "encoder-1")
    world.drop_events()

    report = world.reconcile(stale[0])
    assert report["not_publishing"] == [f"{main}|{side}|encoder-1"]
    assert report["failed"] == {}
    assert world.state(main, side) is None

    world.ivs_endpoint.publish(main, "encoder-1")  # the newest event wins
    world.deliver_events()
    assert world.state(main, side) == "ACTIVE"


def test_events_of_other_participants_stages_or_kinds_start_nothing(world: FollowWorld) -> None:
    main, side, other = world.stage("main"), world.stage("side"), world.stage("other")
    world.create(world.props(main, side))
    world.ivs_endpoint.publish(main, "guest-7")  # another participant, same stage
    world.ivs_endpoint.publish(other, "encoder-1")  # same participant id, another stage
    world.ivs_endpoint.reset_calls()
    reports = world.deliver_events()

    assert [r["ignored"] for r in reports] == ["no replication of this participant is declared"] * 2
    not_ivs: dict[str, Any] = {"source": "aws.s3", "detail-type": "Object Created"}
    ignored = world.reconcile(not_ivs)
    assert ignored["ignored"] == "not a Participant Published event of IVS"
    assert ignored["trigger"] == "event"  # what the run was asked, even when it did nothing
    assert world.ivs_endpoint.calls.get(START) is None
    assert world.state(main, side) is None


def test_the_sweep_tells_apart_publishers_of_one_participant_id_in_two_stages(
    world: FollowWorld,
) -> None:
    """A publisher is a participant in a stage: the same id in two stages is two publishers,
    each with its own listing (one running already, the other started)."""
    main, other = world.stage("main"), world.stage("other")
    main_side, other_side = world.stage("main-side"), world.stage("other-side")
    world.create(world.props(main, main_side))
    world.create(world.props(other, other_side))
    publish_for_a_while(world.ivs_endpoint, main, "encoder-1")
    publish_for_a_while(world.ivs_endpoint, other, "encoder-1")
    world.reconcile(published_event(other, "encoder-1"))  # other's replication runs already
    world.drop_events()
    world.ivs_endpoint.reset_calls()

    report = world.sweep()

    assert report["started"] == [f"{main}|{main_side}|encoder-1"]
    assert report["already_active"] == [f"{other}|{other_side}|encoder-1"]
    assert world.ivs_endpoint.calls["ListParticipantReplicas"] == 2


def test_the_sweep_recovers_a_lost_event(world: FollowWorld) -> None:
    main, side = world.stage("main"), world.stage("side")
    world.create(world.props(main, side))
    world.ivs_endpoint.publish(main, "encoder-1")
    world.drop_events()
    assert world.state(main, side) is None

    report = world.sweep()

    assert report["trigger"] == "sweep"
    assert report["started"] == [f"{main}|{side}|encoder-1"]
    assert world.state(main, side) == "ACTIVE"


def _fan_out(world: FollowWorld, count: int) -> tuple[str, list[str]]:
    """Stage main's encoder-1, declared in follow mode into `count` stages, now publishing
    (its event announced). Returns main and the destinations."""
    main = world.stage("main")
    destinations = [world.stage(f"side-{n}") for n in range(count)]
    for destination in destinations:
        world.create(world.props(main, destination))
    world.ivs_endpoint.publish(main, "encoder-1")
    return main, destinations


def test_one_event_starts_every_destination_of_a_fan_out_with_one_list_call(
    world: FollowWorld,
) -> None:
    main, destinations = _fan_out(world, 3)
    world.ivs_endpoint.reset_calls()

    [report] = world.deliver_events()

    assert len(report["started"]) == 3  # type: ignore[arg-type]
    assert world.ivs_endpoint.calls.get("ListParticipantReplicas") == 1
    assert all(world.state(main, d) == "ACTIVE" for d in destinations)


class _StartsMeetingAtABarrier(IvsRealtime):
    """Each destination's first Start waits until `parties` of them are in flight at once:
    the run completes only if the reconciler keeps that many going together (a shortfall
    breaks the barrier). Retries, which some service profiles cause, pass straight through."""

    def __init__(self, parties: int, **options: Any) -> None:
        super().__init__(make_client(), **options)
        self._barrier = threading.Barrier(parties, timeout=BARRIER_SECONDS)
        self._arrived: set[str] = set()
        self._lock = threading.Lock()

    def start_replication(self, spec: ReplicationSpec, deadline: Deadline) -> None:
        with self._lock:
            first = spec.key.destination_stage_arn not in self._arrived
            self._arrived.add(spec.key.destination_stage_arn)
        if first:
            self._barrier.wait()
        super().start_replication(spec, deadline)


def test_a_fan_out_runs_as_many_starts_at_once_as_the_stated_rate_without_a_pacer(
    world: FollowWorld,
) -> None:
    """A caller's own `IvsRealtime` (no pacer) at 8 calls per second: a fan-out into 8 stages
    has its 8 Starts in flight together, not the default rate's 5."""
    main, destinations = _fan_out(world, 8)
    world.ivs = _StartsMeetingAtABarrier(
        8, settings=IvsSettings(calls_per_second=8), sleep=world.ivs_endpoint.clock.advance
    )

    [report] = world.deliver_events()

    assert report["failed"] == {}
    assert len(report["started"]) == 8  # type: ignore[arg-type]
    assert all(world.state(main, d) == "ACTIVE" for d in destinations)


def test_a_fan_out_into_two_stages_has_both_starts_in_flight_together(
    world: FollowWorld,
) -> None:
    """The smallest fan-out is concurrent too: two destinations, two Starts at once."""
    _fan_out(world, 2)
    world.ivs = _StartsMeetingAtABarrier(2, sleep=world.ivs_endpoint.clock.advance)

    [report] = world.deliver_events()

    assert report["failed"] == {}
    assert len(report["started"]) == 2  # type: ignore[arg-type]


def test_a_fan_out_runs_as_many_starts_at_once_as_its_pacers_rate(world: FollowWorld) -> None:
    """Given a pacer, its rate is the one kept (the settings' rate of 1 call a second would
    make the three Starts one after the other)."""
    _fan_out(world, 3)
    advance = world.ivs_endpoint.clock.advance
    unpaced = _StartsMeetingAtABarrier(3, settings=IvsSettings(calls_per_second=1), sleep=advance)
    world.ivs = unpaced.with_pacer(Pacer(3, sleep=advance))

    [report] = world.deliver_events()

    assert report["failed"] == {}
    assert len(report["started"]) == 3  # type: ignore[arg-type]


class _StartThreads(IvsRealtime):
    """Records the thread each Start is made on."""

    def __init__(self, **options: Any) -> None:
        super().__init__(make_client(), **options)
        self.threads: list[threading.Thread] = []

    def start_replication(self, spec: ReplicationSpec, deadline: Deadline) -> None:
        self.threads.append(threading.current_thread())
        super().start_replication(spec, deadline)


def test_at_one_call_a_second_a_fan_out_starts_one_destination_at_a_time(
    world: FollowWorld,
) -> None:
    """The stated rate of 1 call a second allows no second Start in flight: the run makes
    its Starts itself, one after the other (no pool of workers)."""
    _fan_out(world, 2)
    ivs = _StartThreads(
        settings=IvsSettings(calls_per_second=1), sleep=world.ivs_endpoint.clock.advance
    )
    world.ivs = ivs

    [report] = world.deliver_events()

    assert len(report["started"]) == 2  # type: ignore[arg-type]
    assert set(ivs.threads) == {threading.current_thread()}


def test_a_sweep_covers_200_declarations_with_one_list_per_publisher(world: FollowWorld) -> None:
    sources = [world.stage(f"main-{n}") for n in range(40)]
    # Each of 40 publishers into 5 of 20 stages: 10 replicas a stage (a stage holds 12).
    destinations = [world.stage(f"side-{n}") for n in range(20)]
    for n, source in enumerate(sources):
        participant = f"encoder-{n}"
        for k in range(5):
            world.create(world.props(source, destinations[(5 * n + k) % 20], participant))
        world.ivs_endpoint.publish(source, participant)
    world.drop_events()
    world.ivs_endpoint.reset_calls()

    report = world.sweep()

    assert report["declarations"] == 200
    assert len(report["started"]) == 200  # type: ignore[arg-type]
    assert world.ivs_endpoint.calls.get("ListParticipantReplicas") == 40
    again = world.sweep()
    assert len(again["already_active"]) == 200  # type: ignore[arg-type]
    assert again["started"] == []


def test_a_declaration_withdrawn_during_the_start_is_stopped_again(world: FollowWorld) -> None:
    """The custom resource's Delete withdraws, then stops; a reconciler run that read the
    declaration just before the withdrawal starts after that Stop. Its registry check after
    the Start must catch this."""
    main, side = world.stage("main"), world.stage("side")
    props = world.props(main, side)
    world.create(props)
    world.ivs_endpoint.publish(main, "encoder-1")
    racing = DeleteDuringStart(world.ivs, world.registry)

    report = _reconcile_with(world, racing)

    assert report["withdrawn"] == [f"{main}|{side}|encoder-1"]
    assert world.state(main, side) == "STOPPED"


class DeleteDuringStart(IvsRealtime):
    """IVS as seen by a reconciler racing a Delete: the declaration is withdrawn right
    after this Start reaches IVS."""

    def __init__(self, real: IvsRealtime, registry: Registry) -> None:
        super().__init__(real.client)
        self._registry = registry

    def start_replication(self, spec: ReplicationSpec, deadline: Deadline) -> None:
        super().start_replication(spec, deadline)
        self._registry.withdraw(spec.key, "Replication", deadline)  # the resource's Delete


def _reconcile_with(world: FollowWorld, ivs: IvsRealtime) -> dict[str, object]:
    [event] = world.events
    return reconcile(event, LocalLambdaContext(), ivs, world.registry)


def test_a_failed_create_leaves_nothing_declared(world: FollowWorld) -> None:
    main = world.stage("main")
    missing = main.rsplit("/", 1)[0] + "/NoSuchStage"
    world.ivs_endpoint.publish(main, "encoder-1")
    with pytest.raises(ReplicationFailedError, match="ResourceNotFoundException"):
        world.create(world.props(main, missing))
    assert world.declared() == []


def test_switching_modes_declares_and_withdraws_without_restarting(world: FollowWorld) -> None:
    main, side = world.stage("main"), world.stage("side")
    world.ivs_endpoint.publish(main, "encoder-1")
    failing = world.props(main, side, WhenNotPublishing=c.MODE_FAIL)
    physical_id = world.create(failing)
    following = world.props(main, side)
    world.ivs_endpoint.reset_calls()

    world.update(physical_id, following, failing)
    assert len(world.declared()) == 1
    world.update(physical_id, failing, following)
    assert world.declared() == []

    assert world.ivs_endpoint.calls.get("StopParticipantReplication") is None
    assert world.state(main, side) == "ACTIVE"


def test_an_in_place_update_while_offline_succeeds_and_applies_on_the_next_publish(
    world: FollowWorld,
) -> None:
    main, side = world.stage("main"), world.stage("side")
    old = world.props(main, side)
    physical_id = world.create(old)
    new = world.props(main, side, Attributes={"role": "cohost"})

    world.update(physical_id, new, old)
    world.ivs_endpoint.publish(main, "encoder-1")
    world.deliver_events()

    [replica] = world.ivs_endpoint.replicas(destination_stage_arn=side)
    assert replica.state == "ACTIVE"
    assert replica.attributes == {"role": "cohost"}


def test_the_reconciler_rides_out_throttling(world: FollowWorld) -> None:
    main, side = world.stage("main"), world.stage("side")
    world.create(world.props(main, side))
    publish_for_a_while(world.ivs_endpoint, main, "encoder-1")
    world.ivs_endpoint.faults.script_errors(START, [429, 500])
    world.ivs = IvsRealtime(world.ivs.client, sleep=lambda _: None)
    world.ivs_endpoint.reset_calls()

    [report] = world.deliver_events()

    assert report["failed"] == {}
    assert world.ivs_endpoint.calls.get(START) == 3
    assert world.state(main, side) == "ACTIVE"


def test_a_refused_start_fails_the_run_so_lambda_retries_the_event(world: FollowWorld) -> None:
    main, side = world.stage("main"), world.stage("side")
    world.create(world.props(main, side))
    world.ivs_endpoint.publish(main, "encoder-1")
    [event] = world.events
    world.ivs_endpoint.faults.script_errors(START, ["AccessDeniedException"])

    with pytest.raises(ReconcileError, match=r"1 of 1 declarations failed.*AccessDeniedException"):
        world.reconcile(event)
    assert world.state(main, side) is None

    world.reconcile(event)  # Lambda's asynchronous retry of the same event
    assert world.state(main, side) == "ACTIVE"


def test_the_reconciler_logs_json_with_the_publisher_but_never_attribute_values(
    world: FollowWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    main, side = world.stage("main"), world.stage("side")
    world.create(world.props(main, side, Attributes={"role": "s3cr3t-value"}))
    world.ivs_endpoint.publish(main, "encoder-1")
    # Powertools writes to the stdout of import time; have it write to capsys's for this run.
    assert reconciler.logger.registered_handler is handler.logger.registered_handler
    previous = write_logs_to(sys.stdout)
    try:
        capsys.readouterr()
        [report] = world.deliver_events()
        output = capsys.readouterr().out
    finally:
        write_logs_to(previous)

    assert report["started"]
    # EMF metric documents (with `_aws`) share stdout with the logs, as in Lambda.
    lines = [json.loads(line) for line in output.splitlines()]
    lines = [line for line in lines if "_aws" not in line]
    assert lines
    assert all(line["participant_id"] == "encoder-1" for line in lines)
    assert all(line["source_stage_arn"] == main for line in lines)
    assert "s3cr3t-value" not in output
