"""Random follow-mode lives against the local IVS endpoint and a local registry table.

A Hypothesis state machine declares and deletes follow-mode replications of one encoder into
three stages, lets the encoder come and go (inside and beyond its reconnect window), and plays
EventBridge: it delivers "IVS Stage Update" events late, twice, in reverse order, or loses
them, and runs the sweep. Transient IVS faults are injected. The promises checked:

- whenever the publisher is live and a replication is declared, it is ACTIVE after one
  delivered "Participant Published" event or one sweep (before either, the model makes no
  promise: the event may still be on its way);
- a replication nobody declares is never ACTIVE: not after delete, not after a late or
  duplicate event, not after a sweep.
"""

from __future__ import annotations

import atexit
import itertools
import os
from typing import Any

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ivs_realtime_emulator import IvsRealtimeEmulator, ManualClock
from ivs_replication.testing.cloudformation import LocalLambdaContext, custom_resource_event
from ivs_replication.testing.dynamodb import LocalDynamoDB
from ivs_replication_handler import contract as c
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.reconciler import handle_event as reconcile
from ivs_replication_handler.registry import Registry

from .conftest import ATTEMPT_BUDGET_SECONDS, short_timeout_ivs, stateful_settings

PARTICIPANT = "encoder-1"
DESTINATIONS = 3
WINDOWS = (0, 10, 30)
CLOCK_STEPS = (0, 5, 11, 31)
START = "StartParticipantReplication"

_dynamodb: LocalDynamoDB | None = None
_tables = itertools.count()


def _registry_server() -> LocalDynamoDB:
    """One moto server for every example of this module (starting one takes most of a second)."""
    global _dynamodb  # noqa: PLW0603 - a lazily started, process-wide test server
    if _dynamodb is None:
        _dynamodb = LocalDynamoDB().start()
        atexit.register(_dynamodb.stop)
    return _dynamodb


class FollowMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.server = IvsRealtimeEmulator(clock=self.clock).start()
        self.ivs = short_timeout_ivs(self.server.endpoint_url, sleep=lambda _: None)
        dynamodb = _registry_server()
        table = dynamodb.create_registry_table(f"follow-{os.getpid()}-{next(_tables)}")
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
        # The model: declared destinations (index -> properties), and the publisher.
        self.declared: dict[int, dict[str, object]] = {}
        self.live = False
        # True from a publish until an event of it is delivered or a sweep runs.
        self.owed = False

    def teardown(self) -> None:
        self.server.stop()
        # moto keeps one store per process: leave no table for other tests to find.
        _registry_server().delete_table(self.table)

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
        self._request(custom_resource_event("Create", props))
        self.declared[index] = props
        if self.live:
            # Declared while live: the Create itself started it, whatever the events did.
            assert self._active(index), "a follow-mode Create while live must start it"

    @precondition(lambda self: bool(self.declared))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        index = data.draw(st.sampled_from(sorted(self.declared)))
        props = self.declared.pop(index)
        physical_id = f"{self.source}|{self.destinations[index]}|{PARTICIPANT}"
        self._request(custom_resource_event("Delete", props, physical_id=physical_id))

    # --- the publisher -----------------------------------------------------------------------

    @precondition(lambda self: not self.live)
    @rule()
    def publish(self) -> None:
        self.server.publish(self.source, PARTICIPANT)
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
        if self.live and any(
            e["detail"]["event_name"] == c.EVENT_PARTICIPANT_PUBLISHED for e in batch
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
        return bool(
            self.server.replicas(destination_stage_arn=self.destinations[index], state="ACTIVE")
        )

    @invariant()
    def live_and_declared_means_active_once_an_event_or_sweep_came(self) -> None:
        if not self.live or self.owed:
            return
        for index in self.declared:
            assert self._active(index), f"destination {index} is declared and live, not ACTIVE"

    @invariant()
    def nothing_undeclared_is_active(self) -> None:
        for index in range(DESTINATIONS):
            if index not in self.declared:
                assert not self._active(index), f"destination {index} ACTIVE, not declared"


FollowMachine.TestCase.settings = stateful_settings()
TestFollowStateful = FollowMachine.TestCase
