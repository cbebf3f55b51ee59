"""Follow mode's races, played deterministically: nothing undeclared stays ACTIVE past the run
that started it, a run that leaves a declared replication not running fails, the declared
settings win over a stale run, and a failed Create leaves nothing declared.

Each test hooks the AWS edge - an `IvsRealtime` or `Registry` subclass - to reorder what
happens at the service or to lose an answer after the service acted, and runs the other
party (the handler or the reconciler) inside the hook, at exactly the moment of the race.
No sleeps: every interleaving is fixed by the hooks (where a party must pause halfway, as the
reconciler between its Start and its re-read, it runs in a thread that waits on an event the
other party's hook sets).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from ivs_realtime_emulator import IvsRealtimeEmulator
from ivs_replication.testing.cloudformation import LocalLambdaContext, custom_resource_event
from ivs_replication.testing.dynamodb import LocalDynamoDB
from ivs_replication_handler import contract as c
from ivs_replication_handler.errors import ReconcileError, ReplicationFailedError, ServiceError
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.ivs import IvsRealtime, make_client
from ivs_replication_handler.reconciler import handle_event as reconcile
from ivs_replication_handler.registry import Registry
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.spec import ReplicationKey, parse_properties
from tests.edge_hooks import FirstStartAnswerLost, HookedIvs, HookedRegistry
from tests.publishing import published_event

PARTICIPANT = "encoder-1"
_tables = iter(range(10**6))


@pytest.fixture
def table(dynamodb: LocalDynamoDB) -> str:
    return dynamodb.create_registry_table(f"races-{next(_tables)}")


@pytest.fixture
def stages(local_ivs: IvsRealtimeEmulator) -> tuple[str, str]:
    return local_ivs.create_stage("main"), local_ivs.create_stage("side")


def props(stages: tuple[str, str], **extra: object) -> dict[str, object]:
    return {
        c.PROP_SOURCE_STAGE_ARN: stages[0],
        c.PROP_DESTINATION_STAGE_ARN: stages[1],
        c.PROP_PARTICIPANT_ID: PARTICIPANT,
        c.PROP_ATTRIBUTES: {"role": "old"},
        c.PROP_RECONNECT_WINDOW_SECONDS: 0,
        c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FOLLOW,
        c.PROP_WAIT_SECONDS: 0,
        **extra,
    }


def key_of(stages: tuple[str, str]) -> ReplicationKey:
    return ReplicationKey(stages[0], stages[1], PARTICIPANT)


def request(
    request_type: str,
    properties: Mapping[str, object],
    ivs: IvsRealtime,
    registry: Registry,
    **event: Any,
) -> dict[str, object]:
    cfn_event = custom_resource_event(request_type, properties, **event)
    return handle_event(cfn_event, LocalLambdaContext(timeout_seconds=60), ivs, registry)


def active(local_ivs: IvsRealtimeEmulator) -> list[Any]:
    return local_ivs.replicas(state="ACTIVE")


@pytest.fixture
def registry(table: str, dynamodb: LocalDynamoDB) -> HookedRegistry:
    return HookedRegistry(table, dynamodb.client())


def plain_registry(registry: Registry) -> Registry:
    return Registry(registry.table_name, client=registry.client, sleep=lambda _: None)


def test_a_start_whose_answer_is_lost_while_the_resource_is_deleted_leaves_nothing(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """Nothing undeclared stays ACTIVE past the run that started it, even when the Start's
    answer is lost and the Delete (withdraw + Stop) ran while the Start was in flight."""
    delete = declared_live_and_deletable(local_ivs, stages, registry)
    reconciler_ivs = HookedIvs()
    # The Start is in flight: the stack deletes the resource first (its Stop finds nothing),
    # then IVS carries the Start out, and its answer never reaches the reconciler.
    reconciler_ivs.before_start = delete
    reconciler_ivs.lose_start_answer = True

    with pytest.raises(ReconcileError):
        reconcile(
            published_event(stages[0], PARTICIPANT), LocalLambdaContext(), reconciler_ivs, registry
        )

    assert active(local_ivs) == [], "an undeclared replication outlived the run that started it"
    report = reconcile({c.SWEEP_INPUT_KEY: True}, LocalLambdaContext(), reconciler_ivs, registry)
    assert report["declarations"] == 0
    assert active(local_ivs) == []


def test_an_unreadable_registry_after_a_start_fails_the_run_and_the_retry_restarts_it(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """A run that leaves a declared replication not running fails, so Lambda retries it."""
    request("Create", props(stages), IvsRealtime(make_client()), registry)
    local_ivs.publish(stages[0], PARTICIPANT)
    registry.refuse_reads = True

    with pytest.raises(ReconcileError, match="registry check after the start failed"):
        reconcile(
            published_event(stages[0], PARTICIPANT), LocalLambdaContext(), HookedIvs(), registry
        )

    registry.refuse_reads = False  # Lambda's retry of the failed run
    report = reconcile(
        published_event(stages[0], PARTICIPANT), LocalLambdaContext(), HookedIvs(), registry
    )
    assert report["started"] == [key_of(stages).physical_id()]
    [replica] = active(local_ivs)
    assert replica.attributes == {"role": "old"}


def test_a_reconciler_holding_old_settings_cannot_win_over_an_in_place_update(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """After the Update, the declared (new) attributes run, whoever started last."""
    local_ivs.publish(stages[0], PARTICIPANT)
    old = props(stages)
    new = props(stages, **{c.PROP_ATTRIBUTES: {"role": "new"}})
    handler_ivs = HookedIvs()
    physical_id = str(request("Create", old, handler_ivs, registry)["PhysicalResourceId"])
    # A reconciler run read the old declaration before the Update wrote the new one...
    stale = plain_registry(registry).declarations_of(stages[0], PARTICIPANT, deadline())
    reconciler_registry = HookedRegistry(str(registry.table_name), registry.client)
    reconciler_registry.stale_declarations = stale

    # ...and starts the replication between the Update's Stop and its Start.
    def reconciler_run() -> None:
        reconcile(
            published_event(stages[0], PARTICIPANT),
            LocalLambdaContext(),
            HookedIvs(),
            reconciler_registry,
        )

    handler_ivs.after_stop = reconciler_run
    request("Update", new, handler_ivs, registry, physical_id=physical_id, old_properties=old)

    [replica] = active(local_ivs)
    assert replica.attributes == {"role": "new"}, "the old settings won the race"


def test_a_registry_write_applied_but_unanswered_leaves_no_declaration(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """A failed follow-mode Create leaves nothing declared: no Delete follows it, and a
    leftover item would let the sweep start a replication no stack declares."""
    registry.lose_put_answer = True

    with pytest.raises(ReplicationFailedError, match="nothing was started"):
        request("Create", props(stages), IvsRealtime(make_client()), registry)

    assert plain_registry(registry).declaration(key_of(stages), deadline()) is None
    local_ivs.publish(stages[0], PARTICIPANT)
    reconcile({c.SWEEP_INPUT_KEY: True}, LocalLambdaContext(), HookedIvs(), registry)
    assert active(local_ivs) == []


def deadline() -> Deadline:
    return Deadline(LocalLambdaContext(timeout_seconds=60).get_remaining_time_in_millis)


def test_the_hooks_parse_what_the_handler_sends(stages: tuple[str, str]) -> None:
    """The properties these tests use are valid follow-mode properties."""
    assert parse_properties(props(stages)).follows


def deleted_while_starting(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: Registry
) -> FirstStartAnswerLost:
    """A declared replication whose publisher is live, and the reconciler's IVS: its first
    Start is carried out and its answer lost, and the stack deletes the resource (withdraw,
    then Stop, which finds nothing) just before that Start reaches IVS."""
    reconciler_ivs = FirstStartAnswerLost()
    reconciler_ivs.before = declared_live_and_deletable(local_ivs, stages, registry)
    return reconciler_ivs


def declared_live_and_deletable(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: Registry
) -> Callable[[], object]:
    """Create the follow-mode replication (nobody publishing yet), make its publisher live,
    and return the stack's Delete of it (withdraw, then Stop), for a hook to run."""
    handler_ivs = IvsRealtime(make_client(), sleep=lambda _: None)
    created = request("Create", props(stages), handler_ivs, registry)
    physical_id = str(created["PhysicalResourceId"])
    local_ivs.publish(stages[0], PARTICIPANT)
    return lambda: request("Delete", props(stages), handler_ivs, registry, physical_id=physical_id)


def test_a_start_retried_after_its_lost_answer_and_adopted_is_still_checked_against_the_registry(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """Nothing undeclared stays ACTIVE: the reconciler's first Start is carried out but its
    answer lost, its retry finds the replication running (its own) and adopts it; the Delete
    had withdrawn and stopped before that Start, so the adopted replication must be stopped."""
    reconciler_ivs = deleted_while_starting(local_ivs, stages, registry)

    report = reconcile(
        published_event(stages[0], PARTICIPANT), LocalLambdaContext(), reconciler_ivs, registry
    )

    assert active(local_ivs) == [], "an adopted, undeclared replication outlived the run"
    assert report["withdrawn"] == [key_of(stages).physical_id()]


def test_a_refused_retry_after_a_lost_start_answer_stops_what_the_lost_attempt_started(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """Nothing undeclared stays ACTIVE past the run that started it: the resource is deleted
    just before the reconciler's Start reaches IVS, IVS carries that Start out, its answer is
    lost, and the retry meets a final refusal (no state is read): the replication the lost
    attempt started is stopped, and the run fails so Lambda retries it."""
    reconciler_ivs = deleted_while_starting(local_ivs, stages, registry)
    reconciler_ivs.after = lambda: local_ivs.faults.script_errors(
        "StartParticipantReplication", ["ServiceQuotaExceededException"]
    )

    with pytest.raises(ReconcileError, match="ServiceQuotaExceededException"):
        reconcile(
            published_event(stages[0], PARTICIPANT), LocalLambdaContext(), reconciler_ivs, registry
        )

    assert active(local_ivs) == [], "an undeclared replication outlived the run that started it"


def test_a_refused_retry_after_a_lost_start_answer_leaves_a_declared_replication_running(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """A declared replication whose publisher is live is ACTIVE: what the lost attempt started
    is declared with these settings, so the refusal of the retry does not stop it."""
    request("Create", props(stages), IvsRealtime(make_client()), registry)
    local_ivs.publish(stages[0], PARTICIPANT)
    reconciler_ivs = FirstStartAnswerLost()
    reconciler_ivs.after = lambda: local_ivs.faults.script_errors(
        "StartParticipantReplication", ["ServiceQuotaExceededException"]
    )

    with pytest.raises(ReconcileError):
        reconcile(
            published_event(stages[0], PARTICIPANT), LocalLambdaContext(), reconciler_ivs, registry
        )

    [replica] = active(local_ivs)
    assert replica.attributes == {"role": "old"}


def test_a_failed_follow_mode_create_leaves_nothing_a_reconciler_started_meanwhile(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """Nothing undeclared stays ACTIVE, and nothing is orphaned by a failed Create (after
    which CloudFormation deletes only the marker id): the handler's Start succeeds, its
    confirmation fails, and its undo stops the replication; before it withdraws the
    declaration, a reconciler run (the publisher's event) starts it again and, finding it
    still declared, keeps it. The handler must still leave nothing running."""
    local_ivs.publish(stages[0], PARTICIPANT)
    handler_ivs = HookedIvs()
    # The confirmation's List is refused once (permanently): the handler undoes its Start.
    handler_ivs.after_start = lambda: local_ivs.faults.script_errors(
        "ListParticipantReplicas", ["AccessDeniedException"]
    )
    reconciler_ivs = IvsRealtime(make_client(), sleep=lambda _: None)
    # Right after the undo's Stop, while the declaration still exists, the reconciler runs.
    handler_ivs.after_stop = lambda: reconcile(
        published_event(stages[0], PARTICIPANT), LocalLambdaContext(), reconciler_ivs, registry
    )

    with pytest.raises(ReplicationFailedError):
        request("Create", props(stages), handler_ivs, registry)

    assert active(local_ivs) == [], "a failed Create left a replication running undeclared"
    report = reconcile({c.SWEEP_INPUT_KEY: True}, LocalLambdaContext(), reconciler_ivs, registry)
    assert report["declarations"] == 0


class _StartLandsAfterTheRefusedStop(IvsRealtime):
    """The handler's IVS: right after its first Stop is refused, `after_refused_stop` runs (a
    reconciler whose Start lands then); every listing then sets `listed`."""

    def __init__(self, after_refused_stop: Callable[[], None]) -> None:
        super().__init__(make_client(), sleep=lambda _: None)
        self.after_refused_stop: Callable[[], None] | None = after_refused_stop
        self.listed = threading.Event()

    def stop_replication(self, key: ReplicationKey, deadline: Deadline) -> None:
        try:
            super().stop_replication(key, deadline)
        except ServiceError:
            hook, self.after_refused_stop = self.after_refused_stop, None
            if hook is not None:
                hook()
            raise

    def replica_states(self, *args: Any, **options: Any) -> dict[str, str]:
        try:
            return super().replica_states(*args, **options)
        finally:
            self.listed.set()


def test_a_reconciler_start_landing_between_a_refused_stop_and_its_listing_sticks_no_delete(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """No stack sticks, and nothing undeclared stays ACTIVE: the Delete withdraws, its Stop is
    refused (nothing runs yet), a reconciler run that read the declaration before the
    withdrawal lands its Start, and only then does the Delete read the listing (ACTIVE). The
    Delete must not fail for that (DELETE_FAILED); the run re-reads, finds it withdrawn, and
    stops it. The run is paused by hooks (events, no sleeps) between its Start and re-read."""
    handler_ivs = IvsRealtime(make_client(), sleep=lambda _: None)
    created = request("Create", props(stages), handler_ivs, registry)
    local_ivs.publish(stages[0], PARTICIPANT)
    local_ivs.faults.script_errors("StopParticipantReplication", ["ResourceNotFoundException"])
    registry.stale_declarations = [parse_properties(props(stages))]  # read before withdrawal
    started = threading.Event()
    reconciler_ivs = HookedIvs()
    outcome: dict[str, object] = {}

    def run_the_reconciler() -> None:
        try:
            outcome["report"] = reconcile(
                published_event(stages[0], PARTICIPANT),
                LocalLambdaContext(),
                reconciler_ivs,
                registry,
            )
        except Exception as error:  # reported by the assertion below
            outcome["error"] = error

    def start_lands_then_pause() -> None:
        started.set()
        assert deleting_ivs.listed.wait(30), "the Delete never read the listing"

    def reconciler_starts_it() -> None:
        reconciler.start()
        assert started.wait(30), "the reconciler never started it"

    reconciler_ivs.after_start = start_lands_then_pause
    reconciler = threading.Thread(target=run_the_reconciler)
    deleting_ivs = _StartLandsAfterTheRefusedStop(reconciler_starts_it)

    try:
        request(
            "Delete",
            props(stages),
            deleting_ivs,
            registry,
            physical_id=str(created["PhysicalResourceId"]),
        )
    finally:
        deleting_ivs.listed.set()
        reconciler.join(30)

    assert "error" not in outcome, f"the reconciler run failed: {outcome.get('error')}"
    assert active(local_ivs) == [], "an undeclared replication outlived the run that started it"


def test_a_duplicate_in_place_update_whose_restart_fails_restores_what_was_declared(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """The declaration holds, with the declared settings, across duplicate deliveries: the
    in-place Update to new attributes succeeded (CloudFormation keeps that answer), then its
    duplicate's Start fails after its Stop. The duplicate's restore must start what was
    declared when it began (the new attributes), not the event's old properties: the stack
    says "new", and no later request would put them back."""
    local_ivs.publish(stages[0], PARTICIPANT)
    old = props(stages)
    new = props(stages, **{c.PROP_ATTRIBUTES: {"role": "new"}})
    handler_ivs = IvsRealtime(make_client(), sleep=lambda _: None)
    physical_id = str(request("Create", old, handler_ivs, registry)["PhysicalResourceId"])
    update = {"physical_id": physical_id, "old_properties": old}
    request("Update", new, handler_ivs, registry, **update)

    local_ivs.faults.script_errors("StartParticipantReplication", ["AccessDeniedException"])
    with pytest.raises(ReplicationFailedError, match="runs again with its previous settings"):
        request("Update", new, handler_ivs, registry, **update)  # the duplicate

    [replica] = active(local_ivs)
    assert replica.attributes == {"role": "new"}, "the duplicate restored the undeclared settings"
    declared = plain_registry(registry).declaration(key_of(stages), deadline())
    assert declared is not None
    assert dict(declared.attributes) == {"role": "new"}


def test_a_delete_withdraws_before_it_stops_so_a_run_right_after_its_stop_starts_nothing(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """Nothing undeclared stays ACTIVE after a Delete: the Delete withdraws the declaration,
    then stops. A reconciler run (the publisher's event) that lands right after the Delete's
    Stop finds nothing declared and starts nothing. Were the Stop first, that run would find
    the replication still declared, start it and keep it, and the withdrawal after it would
    leave it running with nothing declaring it, for good."""
    handler_ivs = HookedIvs()
    created = request("Create", props(stages), handler_ivs, registry)
    local_ivs.publish(stages[0], PARTICIPANT)
    event = published_event(stages[0], PARTICIPANT)
    reconcile(event, LocalLambdaContext(), HookedIvs(), registry)  # the publisher's first event
    assert len(active(local_ivs)) == 1
    runs: list[dict[str, object]] = []
    handler_ivs.after_stop = lambda: runs.append(
        reconcile(event, LocalLambdaContext(), HookedIvs(), registry)
    )

    request(
        "Delete", props(stages), handler_ivs, registry, physical_id=created["PhysicalResourceId"]
    )

    assert len(runs) == 1, "the run between the Stop and the end of the Delete never ran"
    assert active(local_ivs) == [], "a run between the Delete's steps restarted it undeclared"
    assert runs[0]["started"] == []
