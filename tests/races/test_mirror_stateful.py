"""Random StageMirror lives: the follow state machine's world with mirrors, hosts who join,
leave and come back, against the local IVS endpoint (every service profile) and a local
registry table.

A Hypothesis state machine creates, updates (attributes, user ids), renames and deletes the
mirrors of one source stage into two destinations, sometimes declares one host explicitly into
the first destination, lets four hosts (two user ids each) publish and leave, and plays
EventBridge (events delivered late, twice, in reverse order, or lost) and the sweep; a mirror
may be deleted while the reconciler's Start of one of its hosts is in flight. The promises:

- a live host that a declared mirror takes is ACTIVE in its destination once one of its
  "Participant Published" events was delivered, or a sweep ran (or the mirror was created or
  changed since it published), with the mirror's attributes (an explicit declaration's
  attributes where one names it);
- nothing runs in a destination that nothing declares: a replica is of a host a declared
  mirror takes, or explicitly declared;
- no replica is ever replicated (no chains), whatever the events;
- every CloudFormation request succeeds; a reconciler run fails only after a lost answer.
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
from tests.edge_hooks import HookedIvs
from tests.local_endpoint import (
    ATTEMPT_BUDGET_SECONDS,
    new_registry_table,
    registry_server,
    short_timeout_ivs,
)
from tests.publishing import published_event
from tests.service_profiles import profiled_cases
from tests.state_machines import RecordedRuns, stateful_settings

HOSTS = ("host-0", "host-1", "host-2", "host-3")
USER_OF = {host: f"user-{index % 2}" for index, host in enumerate(HOSTS)}
DESTINATIONS = 2
FILTERS = (None, ("user-0",), ("user-1",))
TIERS = ("gold", "silver")
EXPLICIT_HOST = "host-0"  # declared explicitly into destination 0 by the `explicit` rule
CLOCK_STEPS = (0, 5, 61)


class MirrorMachine(RuleBasedStateMachine):
    profile: ServiceProfile = GUESS

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.server = IvsRealtimeEmulator(clock=self.clock, profile=self.profile).start()
        self.ivs = short_timeout_ivs(self.server.endpoint_url, sleep=self.clock.advance)
        self.table = new_registry_table("mirror")
        self.registry = Registry(
            self.table,
            client=registry_server().client(),
            sleep=lambda _: None,
            attempt_budget_seconds=ATTEMPT_BUDGET_SECONDS,
        )
        self.source = self.server.create_stage("main")
        self.destinations = [self.server.create_stage(f"audience-{n}") for n in range(DESTINATIONS)]
        self.pending: list[dict[str, Any]] = []
        self.server.subscribe(self.pending.append)
        # The model: each declared mirror's properties and resource, the explicit declaration
        # (its properties and resource, or None), the live hosts, and those whose replicas
        # are owed an event or a sweep.
        self.mirrors: dict[int, dict[str, object]] = {}
        self.resources: dict[int, str] = {}
        self.explicit: dict[str, object] | None = None
        self.live: set[str] = set()
        self.owed: set[str] = set()
        self.renames = itertools.count()

    def teardown(self) -> None:
        self.server.stop()
        registry_server().delete_table(self.table)

    # --- CloudFormation ------------------------------------------------------------------

    def _mirror_props(self, index: int, user_ids: tuple[str, ...] | None, tier: str) -> dict:
        props: dict[str, object] = {
            c.PROP_SOURCE_STAGE_ARN: self.source,
            c.PROP_DESTINATION_STAGE_ARN: self.destinations[index],
            c.PROP_ATTRIBUTES: {"tier": tier},
            c.PROP_RECONNECT_WINDOW_SECONDS: 0,
        }
        if user_ids is not None:
            props[c.PROP_USER_IDS] = list(user_ids)
        return props

    def _mirror_id(self, index: int) -> str:
        return f"{self.source}|{self.destinations[index]}|*"

    def _request(self, request_type: str, props: dict, logical_id: str, **event: Any) -> None:
        resource_type = c.RESOURCE_TYPE if logical_id == "Explicit" else c.MIRROR_RESOURCE_TYPE
        handle_event(
            custom_resource_event(
                request_type, props, logical_id=logical_id, resource_type=resource_type, **event
            ),
            LocalLambdaContext(timeout_seconds=60),
            self.ivs,
            self.registry,
        )

    @rule(
        index=st.integers(0, DESTINATIONS - 1),
        user_ids=st.sampled_from(FILTERS),
        tier=st.sampled_from(TIERS),
    )
    def create_mirror(self, index: int, user_ids: tuple[str, ...] | None, tier: str) -> None:
        if index in self.mirrors:
            return
        props = self._mirror_props(index, user_ids, tier)
        self.resources[index] = f"Mirror{index}"
        self._request("Create", props, self.resources[index])
        self.mirrors[index] = props

    @precondition(lambda self: bool(self.mirrors))
    @rule(data=st.data(), user_ids=st.sampled_from(FILTERS), tier=st.sampled_from(TIERS))
    def update_mirror(
        self, data: st.DataObject, user_ids: tuple[str, ...] | None, tier: str
    ) -> None:
        index = data.draw(st.sampled_from(sorted(self.mirrors)))
        old, new = self.mirrors[index], self._mirror_props(index, user_ids, tier)
        self._request(
            "Update",
            new,
            self.resources[index],
            physical_id=self._mirror_id(index),
            old_properties=old,
        )
        self.mirrors[index] = new

    @precondition(lambda self: bool(self.mirrors))
    @rule(data=st.data(), rolled_back=st.booleans())
    def rename_mirror(self, data: st.DataObject, rolled_back: bool) -> None:
        """A StageMirror renamed or moved: the new logical id is created, then the old one
        deleted (or, rolled back, the new one)."""
        index = data.draw(st.sampled_from(sorted(self.mirrors)))
        props = self.mirrors[index]
        old_id, new_id = self.resources[index], f"Renamed{next(self.renames)}"
        self._request("Create", props, new_id)
        gone, kept = (new_id, old_id) if rolled_back else (old_id, new_id)
        self._request("Delete", props, gone, physical_id=self._mirror_id(index))
        self.resources[index] = kept

    @precondition(lambda self: bool(self.mirrors))
    @rule(data=st.data())
    def delete_mirror(self, data: st.DataObject) -> None:
        self._delete_mirror(data.draw(st.sampled_from(sorted(self.mirrors))))

    def _delete_mirror(self, index: int) -> None:
        props = self.mirrors.pop(index)
        self._request(
            "Delete", props, self.resources.pop(index), physical_id=self._mirror_id(index)
        )

    @rule()
    def toggle_explicit(self) -> None:
        """A ParticipantReplication of one host into destination 0, declared or deleted."""
        key_id = f"{self.source}|{self.destinations[0]}|{EXPLICIT_HOST}"
        if self.explicit is None:
            self.explicit = {
                c.PROP_SOURCE_STAGE_ARN: self.source,
                c.PROP_DESTINATION_STAGE_ARN: self.destinations[0],
                c.PROP_PARTICIPANT_ID: EXPLICIT_HOST,
                c.PROP_ATTRIBUTES: {"tier": "explicit"},
                c.PROP_RECONNECT_WINDOW_SECONDS: 0,
                c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FOLLOW,
                c.PROP_WAIT_SECONDS: 0,
            }
            self._request("Create", self.explicit, "Explicit")
        else:
            props, self.explicit = self.explicit, None
            self._request("Delete", props, "Explicit", physical_id=key_id)
            # A mirror that takes the host holds it from now on, with its own settings: the
            # Delete restarted it (no event owed).

    @precondition(lambda self: bool(self.mirrors) and bool(self.live))
    @rule(data=st.data(), lose=st.booleans())
    def delete_a_mirror_while_a_reconciler_start_is_in_flight(
        self, data: st.DataObject, lose: bool
    ) -> None:
        index = data.draw(st.sampled_from(sorted(self.mirrors)))
        host = data.draw(st.sampled_from(sorted(self.live)))
        hooked = HookedIvs(self.ivs.client, attempt_budget_seconds=ATTEMPT_BUDGET_SECONDS)
        hooked.sleep = self.clock.advance
        hooked.before_start = lambda: self._delete_mirror(index)
        hooked.lose_start_answer = lose
        event = published_event(self.source, host)
        runs = RecordedRuns()
        with contextlib.suppress(ReconcileError):
            reconcile(event, LocalLambdaContext(), hooked, self.registry, metrics=runs)
        lost = {key.physical_id() for key in hooked.lost_answers}
        assert set(runs.last.failed) <= lost, runs.last.failed
        if runs.last.failed:
            note(f"a run failed after a lost answer; Lambda retries it: {runs.last.failed}")
            report = reconcile(event, LocalLambdaContext(), self.ivs, self.registry)
            assert report["failed"] == {}, report
        self.owed.discard(host)

    # --- hosts -------------------------------------------------------------------------------

    @rule(host=st.sampled_from(HOSTS))
    def join(self, host: str) -> None:
        if host in self.live:
            return
        self.server.publish(self.source, host, user_id=USER_OF[host])
        self.clock.advance(self.server.profile.publish_propagation_seconds)
        self.live.add(host)
        self.owed.add(host)

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        host = data.draw(st.sampled_from(sorted(self.live)))
        self.server.unpublish(self.source, host)
        self.live.discard(host)
        self.owed.discard(host)

    @rule(seconds=st.sampled_from(CLOCK_STEPS))
    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # --- EventBridge and the sweep -----------------------------------------------------------

    @rule(policy=st.sampled_from(["deliver", "twice", "reversed", "lose"]))
    def eventbridge(self, policy: str) -> None:
        batch, self.pending[:] = list(self.pending), []
        if policy == "lose":
            return
        batch = {"twice": batch * 2, "reversed": batch[::-1]}.get(policy, batch)
        for event in batch:
            if event["detail"]["event_name"] != c.EVENT_PARTICIPANT_PUBLISHED:
                continue
            report = reconcile(event, LocalLambdaContext(), self.ivs, self.registry)
            assert report["failed"] == {}, report
            if event["resources"][0] == self.source:
                self.owed.discard(str(event["detail"]["participant_id"]))

    @rule()
    def sweep(self) -> None:
        report = reconcile({c.SWEEP_INPUT_KEY: True}, LocalLambdaContext(), self.ivs, self.registry)
        assert report["failed"] == {}, report
        self.owed.clear()

    # --- promises ----------------------------------------------------------------------------

    def _running(self, index: int) -> dict[str, dict[str, str]]:
        """Participant id -> attributes of each replica from the source going on in the
        destination (one whose Stop IVS answered is ending)."""
        return {
            r.participant_id: r.attributes
            for r in self.server.replicas(
                source_stage_arn=self.source,
                destination_stage_arn=self.destinations[index],
                state="ACTIVE",
            )
            if not r.stopping
        }

    def _takes(self, index: int, host: str) -> bool:
        props = self.mirrors.get(index)
        if props is None:
            return False
        user_ids = props.get(c.PROP_USER_IDS)
        return user_ids is None or USER_OF[host] in user_ids  # type: ignore[operator]

    def _explicit_into(self, index: int, host: str) -> bool:
        return self.explicit is not None and index == 0 and host == EXPLICIT_HOST

    @invariant()
    def every_live_host_a_mirror_takes_runs_with_its_settings(self) -> None:
        for index in self.mirrors:
            running = self._running(index)
            for host in self.live - self.owed:
                if self._explicit_into(index, host) or not self._takes(index, host):
                    continue
                assert host in running, f"{host} live, taken by mirror {index}, not ACTIVE"
                assert running[host] == self.mirrors[index][c.PROP_ATTRIBUTES], (index, host)

    @invariant()
    def an_explicit_declaration_runs_with_its_own_settings(self) -> None:
        if self.explicit is None or EXPLICIT_HOST not in self.live - self.owed:
            return
        running = self._running(0)
        assert running.get(EXPLICIT_HOST) == self.explicit[c.PROP_ATTRIBUTES], running

    @invariant()
    def nothing_runs_that_nothing_declares(self) -> None:
        for index in range(DESTINATIONS):
            for host in self._running(index):
                assert self._takes(index, host) or self._explicit_into(index, host), (
                    f"{host} ACTIVE in destination {index}, declared by nothing"
                )

    @invariant()
    def no_replica_is_replicated(self) -> None:
        for replica in self.server.replicas(state="ACTIVE"):
            assert replica.source_stage_arn == self.source, replica
            assert replica.participant_id in HOSTS, replica


globals().update(profiled_cases(MirrorMachine, stateful_settings, "TestMirrorStateful"))
