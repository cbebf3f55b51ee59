"""Random follow-mode lives against the local IVS endpoint and a local registry table.

A Hypothesis state machine declares and deletes follow-mode replications of one encoder into
three stages, lets the encoder come and go (inside and beyond its reconnect window), and plays
EventBridge: it delivers "IVS Stage Update" events late, twice, in reverse order, or loses
them, and runs the sweep. Transient IVS faults are injected. The promises checked:

- whenever the publisher is live and a replication is declared, it is ACTIVE after one
  delivered "Participant Published" event or one sweep (before either, the model makes no
  promise: the event may still be on its way);
- a replication nobody declares is never ACTIVE: not after delete, not after a late or
  duplicate event, not after a sweep;
- an ACTIVE declared replication runs with the declared reconnect window;
- every CloudFormation request succeeds (follow mode never fails for an absent publisher);
  a reconciler run may fail only for a declaration whose Start answer was lost, and Lambda's
  retry of it succeeds; with throttling alone, or a stale read, it never fails.

Races are played at the AWS edge (`tests.edge_hooks`): a Delete while a reconciler's Start is
in flight and its answer lost, a second reconciler run inside the first, and an in-place
Update whose Stop is followed by a reconciler run that read the old declaration.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ivs_realtime_emulator import IvsRealtimeEmulator, ManualClock, ServiceProfile
from ivs_realtime_emulator.profiles import GUESS
from ivs_replication.testing.cloudformation import LocalLambdaContext, custom_resource_event
from ivs_replication_handler import contract as c
from ivs_replication_handler.errors import ReconcileError
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.reconciler import handle_event as reconcile
from ivs_replication_handler.registry import Registry
from tests.edge_hooks import HookedIvs, HookedRegistry
from tests.local_endpoint import (
    ATTEMPT_BUDGET_SECONDS,
    new_registry_table,
    registry_server,
    short_timeout_ivs,
)
from tests.publishing import publish_for_a_while, published_event
from tests.service_profiles import profiled_cases
from tests.state_machines import RecordedRuns, stateful_settings

PARTICIPANT = "encoder-1"
DESTINATIONS = 3
WINDOWS = (0, 10, 30)
CLOCK_STEPS = (0, 5, 11, 31)
START = "StartParticipantReplication"


class FollowMachine(RuleBasedStateMachine):
    # The emulator's answers where IVS documents none; one test case per profile below.
    profile: ServiceProfile = GUESS

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.server = IvsRealtimeEmulator(clock=self.clock, profile=self.profile).start()
        # Time passes for IVS while a function waits (its Stops land, its rate refills).
        self.ivs = short_timeout_ivs(self.server.endpoint_url, sleep=self.clock.advance)
        dynamodb = registry_server()
        table = new_registry_table("follow")
        self.registry = Registry(
            table,
            client=dynamodb.client(),
            sleep=lambda _: None,
            attempt_budget_seconds=ATTEMPT_BUDGET_SECONDS,
        )
        self.table = table
        self.source = self.server.create_stage("main")
        self.destinations = [self.server.create_stage(f"side-{n}") for n in range(DESTINATIONS)]
        self.window = 0
        self.pending: list[dict[str, Any]] = []
        self.server.subscribe(self.pending.append)
        # The model: declared destinations (index -> properties), the resource (logical id)
        # declaring each, and the publisher.
        self.declared: dict[int, dict[str, object]] = {}
        self.resources: dict[int, str] = {}
        self.renames = itertools.count()
        self.live = False
        # True from a publish until an event of it is delivered or a sweep runs.
        self.owed = False

    def teardown(self) -> None:
        self.server.stop()
        # moto keeps one store per process: leave no table for other tests to find.
        registry_server().delete_table(self.table)

    # --- CloudFormation ------------------------------------------------------------------

    def _props(self, index: int) -> dict[str, object]:
        return {
            c.PROP_SOURCE_STAGE_ARN: self.source,
            c.PROP_DESTINATION_STAGE_ARN: self.destinations[index],
            c.PROP_PARTICIPANT_ID: PARTICIPANT,
            c.PROP_RECONNECT_WINDOW_SECONDS: self.window,
            c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FOLLOW,
            c.PROP_WAIT_SECONDS: 0,
        }

    def _request(self, event: dict[str, object]) -> None:
        handle_event(event, LocalLambdaContext(timeout_seconds=20), self.ivs, self.registry)

    @rule(index=st.integers(0, DESTINATIONS - 1), window=st.sampled_from(WINDOWS))
    def declare(self, index: int, window: int) -> None:
        if index in self.declared:
            return
        self.window = window if not self.declared else self.window
        props = self._props(index)
        self.resources[index] = f"Replication{index}"
        self._request(custom_resource_event("Create", props, logical_id=self.resources[index]))
        self.declared[index] = props
        if self.live:
            # Declared while live: the Create itself started it, whatever the events did.
            assert self._active(index), "a follow-mode Create while live must start it"

    @precondition(lambda self: bool(self.declared))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        self._delete(data.draw(st.sampled_from(sorted(self.declared))))

    def _physical_id(self, index: int) -> str:
        return f"{self.source}|{self.destinations[index]}|{PARTICIPANT}"

    def _delete(self, index: int) -> None:
        props = self.declared.pop(index)
        event = custom_resource_event(
            "Delete",
            props,
            logical_id=self.resources.pop(index),
            physical_id=self._physical_id(index),
        )
        self._request(event)

    @precondition(lambda self: bool(self.declared))
    @rule(data=st.data(), window=st.sampled_from(WINDOWS), race=st.booleans())
    def change_window(self, data: st.DataObject, window: int, race: bool) -> None:
        """An in-place Update; with `race`, a reconciler run that read the old declaration
        starts the replication between the Update's Stop and its Start."""
        index = data.draw(st.sampled_from(sorted(self.declared)))
        old = self.declared[index]
        new = {**old, c.PROP_RECONNECT_WINDOW_SECONDS: window}
        handler_ivs = self._hooked()
        if race:
            stale = HookedRegistry(self.table, self.registry.client)
            stale.stale_declarations = self.registry.declarations_of(
                self.source, PARTICIPANT, _deadline()
            )
            handler_ivs.after_stop = lambda: self._reconcile_allowing_retry(
                published_event(self.source, PARTICIPANT), registry=stale
            )
        event = custom_resource_event(
            "Update",
            new,
            logical_id=self.resources[index],
            physical_id=self._physical_id(index),
            old_properties=old,
        )
        handle_event(event, LocalLambdaContext(timeout_seconds=20), handler_ivs, self.registry)
        self.declared[index] = new

    @precondition(lambda self: bool(self.declared))
    @rule(data=st.data(), rolled_back=st.booleans(), twice=st.booleans())
    def rename(self, data: st.DataObject, rolled_back: bool, twice: bool) -> None:
        """A construct renamed or moved: its new logical id is created (same physical id),
        then CloudFormation's cleanup deletes the old one; or the stack update fails and the
        rollback's cleanup deletes the new one. Either Delete may be delivered twice. The
        replication stays declared (and running whenever its publisher is live)."""
        index = data.draw(st.sampled_from(sorted(self.declared)))
        props = self.declared[index]
        old_id, new_id = self.resources[index], f"Renamed{next(self.renames)}"
        self._request(custom_resource_event("Create", props, logical_id=new_id))
        gone, kept = (new_id, old_id) if rolled_back else (old_id, new_id)
        cleanup = custom_resource_event(
            "Delete", props, logical_id=gone, physical_id=self._physical_id(index)
        )
        for _ in range(2 if twice else 1):
            self._request(cleanup)
        self.resources[index] = kept
        if self.live:
            assert self._active(index), "a rename stopped a declared replication"

    # --- lost answers and concurrent reconciler runs ------------------------------------------

    def _hooked(self) -> HookedIvs:
        hooked = HookedIvs(self.ivs.client, attempt_budget_seconds=ATTEMPT_BUDGET_SECONDS)
        hooked.sleep = self.clock.advance  # as `self.ivs`: time passes while it waits
        return hooked

    def _reconcile_allowing_retry(
        self,
        event: dict[str, Any],
        *,
        ivs: HookedIvs | None = None,
        registry: Registry | None = None,
    ) -> None:
        """One reconciler run. It may fail only for declarations whose Start answer `ivs` lost
        (the run cannot tell what that Start did: it fails, so Lambda retries); then Lambda's
        retry runs it again, plainly, and that must succeed. Any other failure fails the test."""
        runs = RecordedRuns()
        with contextlib.suppress(ReconcileError):  # its report says what failed, and why
            reconcile(
                event,
                LocalLambdaContext(),
                ivs or self.ivs,
                registry or self.registry,
                metrics=runs,
            )
        failed = runs.last.failed
        if not failed:
            return
        lost = {key.physical_id() for key in (ivs.lost_answers if ivs is not None else [])}
        assert set(failed) <= lost, f"a reconciler run failed with no answer lost: {failed}"
        note(f"reconciler run failed after a lost answer, Lambda retries: {failed}")
        report = reconcile(event, LocalLambdaContext(), self.ivs, self.registry)
        assert report["failed"] == {}, report

    @precondition(lambda self: self.live and bool(self.declared))
    @rule(data=st.data(), lose=st.booleans())
    def delete_while_a_reconciler_start_is_in_flight(self, data: st.DataObject, lose: bool) -> None:
        """The lost-answer interleaving: the stack deletes a declaration while the reconciler's
        Start is in flight; with `lose`, IVS acts but the answer never arrives."""
        index = data.draw(st.sampled_from(sorted(self.declared)))
        hooked = self._hooked()
        hooked.before_start = lambda: self._delete(index)
        hooked.lose_start_answer = lose
        self._reconcile_allowing_retry(published_event(self.source, PARTICIPANT), ivs=hooked)
        self.owed = False

    @precondition(lambda self: self.live)
    @rule(lose=st.booleans())
    def concurrent_reconciler_runs(self, lose: bool) -> None:
        """A second run (a duplicate event) runs entirely inside the first, right after the
        first's Start acted; with `lose`, the first's answer is lost."""
        hooked = self._hooked()
        hooked.after_start = lambda: self._reconcile_allowing_retry(
            published_event(self.source, PARTICIPANT)
        )
        hooked.lose_start_answer = lose
        self._reconcile_allowing_retry(published_event(self.source, PARTICIPANT), ivs=hooked)
        self.owed = False

    # --- the publisher -----------------------------------------------------------------------

    @precondition(lambda self: not self.live)
    @rule()
    def publish(self) -> None:
        # Under a profile where IVS replicates a publisher only some seconds after it starts,
        # "live" means publishing for that long (settling: tests/edge/test_service_profiles).
        publish_for_a_while(self.server, self.source, PARTICIPANT)
        self.live = True
        self.owed = True

    @precondition(lambda self: self.live)
    @rule()
    def unpublish(self) -> None:
        self.server.unpublish(self.source, PARTICIPANT)
        self.live = False

    @rule(seconds=st.sampled_from(CLOCK_STEPS))
    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # --- EventBridge and the sweep -----------------------------------------------------------

    @rule(
        policy=st.sampled_from(["deliver", "twice", "reversed", "lose"]),
        throttled=st.integers(0, 2),
    )
    def eventbridge(self, policy: str, throttled: int) -> None:
        batch, self.pending[:] = list(self.pending), []
        note(f"{policy}: {[e['detail']['event_name'] for e in batch]}")
        if policy == "lose":
            return
        batch = {"twice": batch * 2, "reversed": batch[::-1]}.get(policy, batch)
        self.server.faults.script_errors(START, [429] * throttled)
        for event in batch:
            if event["detail"]["event_name"] == c.EVENT_PARTICIPANT_PUBLISHED:
                report = reconcile(event, LocalLambdaContext(), self.ivs, self.registry)
                assert report["failed"] == {}, report
        self.server.faults.clear(START)
        # Only the publisher's own event is the one owed: a replica's in a destination stage
        # (IVS announces those too) starts nothing, rightly.
        if self.live and any(
            e["detail"]["event_name"] == c.EVENT_PARTICIPANT_PUBLISHED
            and e["resources"][0] == self.source
            for e in batch
        ):
            self.owed = False

    @rule()
    def sweep(self) -> None:
        report = reconcile({c.SWEEP_INPUT_KEY: True}, LocalLambdaContext(), self.ivs, self.registry)
        assert report["failed"] == {}, report
        if self.live:
            self.owed = False

    # --- promises ----------------------------------------------------------------------------

    def _active(self, index: int) -> bool:
        """ACTIVE and going on: a replica whose Stop IVS answered (a profile may list it ACTIVE
        for a moment longer) is ending."""
        return any(
            not replica.stopping
            for replica in self.server.replicas(
                destination_stage_arn=self.destinations[index], state="ACTIVE"
            )
        )

    @invariant()
    def live_and_declared_means_active_once_an_event_or_sweep_came(self) -> None:
        if not self.live or self.owed:
            return
        for index in self.declared:
            assert self._active(index), f"destination {index} is declared and live, not ACTIVE"

    @invariant()
    def active_replicas_run_the_declared_window(self) -> None:
        """What runs and goes on running runs the declared window (a replica whose Stop IVS
        answered may still be listed with an older one, for a moment)."""
        for index, props in self.declared.items():
            for replica in self.server.replicas(
                destination_stage_arn=self.destinations[index], state="ACTIVE"
            ):
                if replica.stopping:
                    continue
                declared = props[c.PROP_RECONNECT_WINDOW_SECONDS]
                assert replica.reconnect_window_seconds == declared, (index, replica)

    @invariant()
    def nothing_undeclared_is_active(self) -> None:
        for index in range(DESTINATIONS):
            if index not in self.declared:
                assert not self._active(index), f"destination {index} ACTIVE, not declared"


def _deadline() -> Any:
    from ivs_replication_handler.retries import Deadline

    return Deadline(LocalLambdaContext(timeout_seconds=20).get_remaining_time_in_millis)


globals().update(profiled_cases(FollowMachine, stateful_settings, "TestFollowStateful"))
