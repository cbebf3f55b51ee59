"""Random CloudFormation lifecycles against the local IVS endpoint, with injected faults.

A Hypothesis state machine plays CloudFormation and the provider framework: it creates,
updates (in place and with replacement), deletes and rolls back replications, delivers events
twice, and injects transient faults, while publishers come and go on a manual clock. After
every step the endpoint's ACTIVE replicas must be exactly the replications the model says run,
with the settings the model says, and every handler call must have ended within its Lambda
deadline.

The model ("alive") is what CloudFormation declared, minus what the service legitimately
ended. Each legitimate end is encoded where it happens:

- the publisher left and its replica's reconnect window passed (IVS ends the replication);
- an in-place restart (Update of attributes or window) of a running replication while the
  publisher is not publishing: IVS has no update, so the handler stops and starts, and IVS
  refuses the Start of a participant that is not publishing; the Update fails and says so.

Rollback safety: an Update fails through publisher absence only if the replication
under its physical id was ACTIVE when it began; CloudFormation's rollback Update (old and new
properties swapped, the physical id the old one) and every continue-update-rollback retry of
it must then succeed, as must every Delete and its retries once injected faults pass: no
sequence ends in UPDATE_ROLLBACK_FAILED or DELETE_FAILED through publisher absence. The
rollback of a failed replacement, or of an Update that failed validation, leaves what runs
under the physical id alone, and only starts it if it is not ACTIVE.

Participant ids are unique across stages and each participant publishes only in its home
stage, so replicas never collide with publishers of the same id in a destination stage, and
no two logical ids ever declare the same replication (two resources adopting one replication
would stop it for each other, which is a template error, not a lifecycle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import event as observe
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from ivs_realtime_emulator import Faults, IvsRealtimeEmulator, ManualClock, ServiceProfile
from ivs_realtime_emulator.profiles import GUESS
from ivs_replication.testing.cloudformation import LocalLambdaContext, custom_resource_event
from ivs_replication_handler import contract as c
from ivs_replication_handler.errors import InvalidPropertyError, ReplicationFailedError
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.messages import MAX_MESSAGE_BYTES, reason_bytes
from ivs_replication_handler.registry import Registry
from ivs_replication_handler.spec import parse_properties
from tests.local_endpoint import (
    ATTEMPT_BUDGET_SECONDS,
    CompressedTime,
    new_registry_table,
    registry_server,
    short_timeout_ivs,
)
from tests.service_profiles import profiled_cases
from tests.state_machines import stateful_settings

CREATE_FAILED_MARKER = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"
# The wait of the WAIT mode below: the longest a stack of this machine declares.
WAIT_SECONDS = 1
# The time Lambda gives the deployed handler: the provider sets its timeout to the request
# budget plus the stack's longest wait. The faults injected here are a few errors, or a rate
# for one step, which a handler with that time rides out, so every request must succeed. A
# 20 s context could not: under `not-publishing-404` each restart leaves a STOPPED record,
# listed one per page, and an in-place Update lists them all twice, which at an injected 3
# calls/s outgrew 20 s (a budget no deployed handler is held to). Failing clearly once the
# deadline does come is tested in test_lifecycle_deadline.py and tests/edge.
CONTEXT_TIMEOUT_SECONDS = c.REQUEST_BUDGET_SECONDS + WAIT_SECONDS
# The handler's share of CloudFormation's 4,096-byte response (see logic.MAX_MESSAGE_BYTES).
MAX_REASON_BYTES = MAX_MESSAGE_BYTES
# continue-update-rollback and Delete retries the operator (or CloudFormation) makes.
RETRIES_AFTER_FAULTS = 3

STAGE_COUNT = 3
# (participant id, home stage index): each participant publishes only in its home stage.
PARTICIPANTS = (("alice", 0), ("bob", 0), ("carol", 1), ("dave", 2))
HOME = dict(PARTICIPANTS)
# Abstract replications: (participant id, destination stage index).
ALL_KEYS = tuple(
    (participant, destination)
    for participant, home in PARTICIPANTS
    for destination in range(STAGE_COUNT)
    if destination != home
)
ATTRIBUTES = (None, {}, {"role": "host"}, {"role": "guest", "tier": "gold"})
WINDOWS = (None, 0, 10, 60)
CLOCK_STEPS = (0, 5, 10, 30, 61)
# The modes an example runs in (follow mode has its own machine, test_follow_stateful.py):
# no property (a template older than the modes: FAIL), FAIL, and WAIT for 1 s, which fails
# like FAIL after its wait, so the model is the same.
MODES = (
    {},
    {"WhenNotPublishing": "FAIL"},
    {"WhenNotPublishing": "WAIT", "WaitForPublisherSeconds": WAIT_SECONDS},
)
# Properties the handler must reject before any API call: (property, value); "SAME" means
# the source stage's ARN.
INVALID = (
    ("ReconnectWindowSeconds", 301),
    ("ReconnectWindowSeconds", "ten"),
    ("ReconnectWindowSeconds", -1),
    ("Attributes", {"k": "x" * 1100}),
    ("ParticipantId", "not allowed!"),
    ("DestinationStageArn", "arn:aws:ivs:us-east-1:123456789012:channel/abcdEFGH1234"),
    ("DestinationStageArn", "SAME"),
)
START = "StartParticipantReplication"
STOP = "StopParticipantReplication"
LIST = "ListParticipantReplicas"
FAULT_OPERATIONS = (START, STOP, LIST, "*")

Key = tuple[str, str, str]  # (source ARN, destination ARN, participant id)
Settings = tuple[tuple[tuple[str, str], ...], int]  # (sorted attributes, window)


def _settings_of(props: dict[str, Any]) -> Settings:
    attributes = props.get("Attributes") or {}
    return tuple(sorted(attributes.items())), int(props.get("ReconnectWindowSeconds") or 0)


def _key_of(props: dict[str, Any]) -> Key:
    return props["SourceStageArn"], props["DestinationStageArn"], props["ParticipantId"]


def _parses(props: dict[str, Any]) -> bool:
    try:
        parse_properties(custom_resource_event("Create", props)["ResourceProperties"])  # type: ignore[arg-type]
    except InvalidPropertyError:
        return False
    return True


def _physical_id(key: Key) -> str:
    return "|".join(key)


@dataclass
class Reply:
    """What one handler call answered."""

    physical_id: str | None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Declared:
    """What CloudFormation believes about one logical id."""

    physical_id: str
    props: dict[str, Any]


@dataclass
class Publisher:
    publishing: bool
    left_at: float | None = None


@dataclass
class Model:
    """CloudFormation's declared state plus which replications run, and with what settings."""

    declared: dict[str, Declared] = field(default_factory=dict)
    alive: dict[Key, Settings] = field(default_factory=dict)
    publishers: dict[str, Publisher] = field(default_factory=dict)
    now: float = 0.0

    def publishing(self, participant: str) -> bool:
        return self.publishers[participant].publishing

    def ends_between(self, key: Key, start: float, end: float) -> bool:
        """Whether `key`'s replica, running, ends in (start, end]: its publisher is away and
        its window runs out then (a request running meanwhile may see it either way)."""
        settings = self.alive.get(key)
        publisher = self.publishers[key[2]]
        if settings is None or publisher.publishing or publisher.left_at is None:
            return False
        return start < publisher.left_at + settings[1] <= end

    def expire(self) -> None:
        """The service stops a replica once its publisher has been away for its window."""
        for key, (_, window) in list(self.alive.items()):
            publisher = self.publishers[key[2]]
            if publisher.left_at is not None and self.now >= publisher.left_at + window:
                observe("a replica ended: its publisher stayed away beyond its window")
                del self.alive[key]

    def restart_in_place(self, key: Key, new: Settings) -> bool:
        """Stop then Start: fails only when a running replica is lost (see module docstring)."""
        if self.publishing(key[2]):
            self.alive[key] = new
            return True
        if self.alive.pop(key, None) is not None:
            observe("an in-place restart ended a replica: its publisher was away")
            return False
        observe("an in-place Update of an ended replica succeeded with its publisher away")
        return True

    def ensure_running(self, key: Key, settings: Settings) -> None:
        """Leave an ACTIVE replica alone; start it otherwise, if its publisher publishes."""
        if key not in self.alive and self.publishing(key[2]):
            self.alive[key] = settings

    def start(self, key: Key, new: Settings) -> bool:
        """Create (or Update with replacement): Start, or adopt what already runs."""
        if not self.publishing(key[2]):
            return False
        if key in self.alive:
            observe("an ACTIVE replication was adopted")
        self.alive.setdefault(key, new)
        return True


class LifecycleMachine(RuleBasedStateMachine):
    # The emulator's answers where IVS documents none; one test case per profile below.
    profile: ServiceProfile = GUESS

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        # The Lambda deadline, the handler's backoff and the injected throttling's refills
        # on one clock, as in Lambda (a deadline on wall time beside sleeps cut to a quarter
        # had the handler plan with four times the wait it spent, and give up early).
        self.time = CompressedTime()
        self.server = IvsRealtimeEmulator(
            clock=self.clock, profile=self.profile, faults=Faults(monotonic=self.time.now)
        ).start()
        self.ivs = short_timeout_ivs(self.server.endpoint_url, sleep=self.handler_waits)
        # Every stack has its registry: which resources declare each replication.
        self.table = new_registry_table("lifecycle")
        self.registry = Registry(
            self.table,
            client=registry_server().client(),
            sleep=self.handler_waits,
            attempt_budget_seconds=ATTEMPT_BUDGET_SECONDS,
        )
        self.model = Model()
        # The model's time is the endpoint's clock, from here.
        self.origin = self.clock.now()
        # When the last delivery began and ended, on the model's time.
        self.span = (0.0, 0.0)
        self.stages: list[str] = []
        self.logical_ids = 0
        self.mode: dict[str, Any] = {}

    def teardown(self) -> None:
        self.server.stop()
        # moto keeps one store per process: leave no table for other tests to find.
        registry_server().delete_table(self.table)

    # --- setup -------------------------------------------------------------------------------

    # Mostly publishing, so that most Creates succeed; the stack's first deployment creates a
    # few replications, so that every example has something to update, delete and lose.
    @initialize(
        mode=st.sampled_from(MODES),
        publishing=st.lists(st.sampled_from((True, True, True, False)), min_size=4, max_size=4),
        initial=st.lists(
            st.tuples(
                st.integers(0, len(ALL_KEYS) - 1),
                st.sampled_from(ATTRIBUTES),
                st.sampled_from(WINDOWS),
            ),
            min_size=1,
            max_size=3,
        ),
    )
    def deploy(
        self,
        mode: dict[str, Any],
        publishing: list[bool],
        initial: list[tuple[int, dict[str, str] | None, int | None]],
    ) -> None:
        self.mode = mode
        note(f"mode: {mode or 'no property (FAIL)'}")
        self.stages = [self.server.create_stage(f"stage-{i}") for i in range(STAGE_COUNT)]
        for (participant, home), publishes in zip(PARTICIPANTS, publishing, strict=True):
            self.model.publishers[participant] = Publisher(publishing=publishes)
            if publishes:
                self.server.publish(self.stages[home], participant)
        self.let_publishing_propagate()
        for key_index, attributes, window in initial:
            self.create(key_index, attributes, window, twice=False)

    # --- helpers -------------------------------------------------------------------------------

    def key(self, abstract: tuple[str, int]) -> Key:
        participant, destination = abstract
        return self.stages[HOME[participant]], self.stages[destination], participant

    def free_keys(self) -> list[tuple[str, int]]:
        used = {_key_of(d.props) for d in self.model.declared.values()}
        return [k for k in ALL_KEYS if self.key(k) not in used]

    def props(
        self, abstract: tuple[str, int], attributes: dict[str, str] | None, window: int | None
    ) -> dict[str, Any]:
        source, destination, participant = self.key(abstract)
        props: dict[str, Any] = {
            "SourceStageArn": source,
            "DestinationStageArn": destination,
            "ParticipantId": participant,
            **self.mode,
        }
        if attributes is not None:
            props["Attributes"] = dict(attributes)
        if window is not None:
            props["ReconnectWindowSeconds"] = window
        return props

    def invalid_props(self, base: dict[str, Any], invalid: int) -> tuple[str, dict[str, Any]]:
        name, value = INVALID[invalid]
        if value == "SAME":
            value = base["SourceStageArn"]
        return name, {**base, name: value}

    def new_logical_id(self) -> str:
        self.logical_ids += 1
        return f"Replication{self.logical_ids}"

    def pick(self, index: int) -> str:
        return sorted(self.model.declared)[index % len(self.model.declared)]

    def total_calls(self) -> int:
        return sum(self.server.calls.values())

    def handler_waits(self, seconds: float) -> None:
        """A handler's wait: its Lambda time passes (compressed), and so does IVS's (its
        Stops land, publishers' windows run out)."""
        self.time.sleep(seconds)
        self.clock.advance(seconds)

    def sync_time(self) -> None:
        """The model catches up with the time the endpoint's clock shows."""
        self.model.now = self.clock.now() - self.origin
        self.model.expire()

    def ends_during_the_last_delivery(self, key: Key) -> bool:
        """Whether `key`'s replica ended while the last delivery ran: what that delivery saw of
        it depends on when it looked, so either of its outcomes is right."""
        if self.model.ends_between(key, *self.span):
            observe("a replica's window ran out while a request ran")
            self.model.alive.pop(key, None)
            return True
        return False

    def send(self, event: dict[str, Any]) -> Reply:
        """One handler invocation with a fresh Lambda context; it must end in time."""
        context = LocalLambdaContext(timeout_seconds=CONTEXT_TIMEOUT_SECONDS, clock=self.time.now)
        started = self.time.now()
        try:
            result = handle_event(event, context, self.ivs, self.registry)
        except (InvalidPropertyError, ReplicationFailedError) as error:
            reply = Reply(None, error)
        else:
            reply = Reply(str(result["PhysicalResourceId"]))
        elapsed = self.time.now() - started
        note(
            f"{event['RequestType']} {event['LogicalResourceId']} -> "
            f"{reply.physical_id or reply.error!r} in {elapsed:.2f}s"
        )
        assert elapsed < context.timeout_seconds, f"the call outlived its deadline: {elapsed}s"
        assert context.get_remaining_time_in_millis() > 0
        if reply.error is not None:
            assert 0 < reason_bytes(str(reply.error)) <= MAX_REASON_BYTES
        return reply

    def deliver(self, event: dict[str, Any], twice: bool) -> Reply:
        """Send an event, and again when `twice` (the same event, delivered again). A repeated
        success succeeds again; a repeated failure may succeed (a failed in-place Update left
        nothing running, and an Update of what does not run never fails for absence). The
        model predicts from the state when the delivery begins (`span` records when it ran)."""
        self.sync_time()
        started = self.model.now
        first = self.send(event)
        if twice:
            second = self.send(event)
            if first.ok:
                assert second.ok, (first, second)
                assert second.physical_id == first.physical_id
        self.span = (started, self.clock.now() - self.origin)
        return first

    def finish_step(self) -> None:
        """Injected faults last for one CloudFormation step."""
        self.server.faults.clear()
        self.sync_time()

    def expect_not_publishing(self, reply: Reply, participant: str) -> None:
        assert isinstance(reply.error, ReplicationFailedError), reply
        message = str(reply.error)
        assert "is not publishing" in message or "did not publish" in message  # FAIL or WAIT
        assert participant in message

    def delete_failed_create(self, logical_id: str, props: dict[str, Any], twice: bool) -> None:
        """After a failed Create the provider framework answers with its marker id, and
        CloudFormation's rollback deletes that id: it must succeed without touching IVS."""
        calls = self.total_calls()
        event = custom_resource_event(
            "Delete", props, logical_id=logical_id, physical_id=CREATE_FAILED_MARKER
        )
        reply = self.deliver(event, twice)
        assert reply.ok, reply
        assert reply.physical_id == CREATE_FAILED_MARKER
        assert self.total_calls() == calls

    # --- CloudFormation ------------------------------------------------------------------------

    @precondition(lambda self: self.stages and len(self.model.declared) < len(ALL_KEYS))
    @rule(
        key_index=st.integers(0, len(ALL_KEYS) - 1),
        attributes=st.sampled_from(ATTRIBUTES),
        window=st.sampled_from(WINDOWS),
        twice=st.booleans(),
    )
    def create(
        self,
        key_index: int,
        attributes: dict[str, str] | None,
        window: int | None,
        twice: bool,
    ) -> None:
        free = self.free_keys()
        abstract = free[key_index % len(free)]
        key = self.key(abstract)
        props = self.props(abstract, attributes, window)
        logical_id = self.new_logical_id()
        reply = self.deliver(custom_resource_event("Create", props, logical_id=logical_id), twice)
        if self.model.start(key, _settings_of(props)):
            assert reply.ok, reply
            assert reply.physical_id == _physical_id(key)
            self.model.declared[logical_id] = Declared(_physical_id(key), props)
        else:
            self.expect_not_publishing(reply, key[2])
            self.delete_failed_create(logical_id, props, twice)
        self.finish_step()

    @precondition(lambda self: bool(self.stages))
    @rule(
        key_index=st.integers(0, len(ALL_KEYS) - 1),
        invalid=st.integers(0, len(INVALID) - 1),
        twice=st.booleans(),
    )
    def create_invalid(self, key_index: int, invalid: int, twice: bool) -> None:
        base = self.props(ALL_KEYS[key_index], None, None)
        name, props = self.invalid_props(base, invalid)
        logical_id = self.new_logical_id()
        calls = self.total_calls()
        reply = self.deliver(custom_resource_event("Create", props, logical_id=logical_id), twice)
        assert isinstance(reply.error, InvalidPropertyError), reply
        assert name in str(reply.error)
        assert self.total_calls() == calls, "an invalid property must fail before any API call"
        self.delete_failed_create(logical_id, props, twice)
        self.finish_step()

    @precondition(lambda self: bool(self.model.declared))
    @rule(
        index=st.integers(0, 20),
        attributes=st.sampled_from(ATTRIBUTES),
        window=st.sampled_from(WINDOWS),
        twice=st.booleans(),
    )
    def update_settings(
        self, index: int, attributes: dict[str, str] | None, window: int | None, twice: bool
    ) -> None:
        logical_id = self.pick(index)
        declared = self.model.declared[logical_id]
        old = declared.props
        new = {k: v for k, v in old.items() if k not in ("Attributes", "ReconnectWindowSeconds")}
        if attributes is not None:
            new["Attributes"] = dict(attributes)
        if window is not None:
            new["ReconnectWindowSeconds"] = window
        key = _key_of(old)
        event = custom_resource_event(
            "Update",
            new,
            logical_id=logical_id,
            physical_id=declared.physical_id,
            old_properties=old,
        )
        if _settings_of(new) == _settings_of(old):
            # Nothing relevant changed: no API call, and the replication is left alone.
            calls = self.total_calls()
            reply = self.deliver(event, twice)
            assert reply.ok, reply
            assert reply.physical_id == declared.physical_id
            assert self.total_calls() == calls
            declared.props = new
            self.finish_step()
            return
        reply = self.deliver(event, twice)
        if self.ends_during_the_last_delivery(key):
            succeeds = reply.ok  # nothing runs after it, whichever it saw
        else:
            succeeds = self.model.restart_in_place(key, _settings_of(new))
        if succeeds:
            assert reply.ok, reply
            assert reply.physical_id == declared.physical_id
            declared.props = new
        else:
            self.expect_not_publishing(reply, key[2])
            self.rollback(logical_id, old, new)
        self.finish_step()

    @precondition(lambda self: bool(self.model.declared) and bool(self.free_keys()))
    @rule(
        index=st.integers(0, 20),
        key_index=st.integers(0, len(ALL_KEYS) - 1),
        attributes=st.sampled_from(ATTRIBUTES),
        window=st.sampled_from(WINDOWS),
        twice=st.booleans(),
    )
    def update_replace(
        self,
        index: int,
        key_index: int,
        attributes: dict[str, str] | None,
        window: int | None,
        twice: bool,
    ) -> None:
        logical_id = self.pick(index)
        declared = self.model.declared[logical_id]
        old = declared.props
        free = self.free_keys()
        abstract = free[key_index % len(free)]
        new = self.props(abstract, attributes, window)
        new_key = _key_of(new)
        event = custom_resource_event(
            "Update",
            new,
            logical_id=logical_id,
            physical_id=declared.physical_id,
            old_properties=old,
        )
        reply = self.deliver(event, twice)
        old_running = _key_of(old) in self.model.alive
        if self.ends_during_the_last_delivery(_key_of(old)):
            old_running = not reply.ok  # it ran when the delivery looked, or it had ended
        if not self.model.start(new_key, _settings_of(new)) and old_running:
            self.expect_not_publishing(reply, new_key[2])
            self.rollback(logical_id, old, new)
            self.finish_step()
            return
        assert reply.ok, reply
        assert reply.physical_id == _physical_id(new_key)
        # The new id differs: CloudFormation deletes the old one during cleanup.
        old_id = declared.physical_id
        self.model.declared[logical_id] = Declared(_physical_id(new_key), new)
        cleanup = custom_resource_event("Delete", old, logical_id=logical_id, physical_id=old_id)
        assert self.deliver(cleanup, twice).ok
        self.model.alive.pop(_key_of(old), None)
        self.finish_step()

    @precondition(lambda self: bool(self.model.declared))
    @rule(index=st.integers(0, 20), invalid=st.integers(0, len(INVALID) - 1))
    def update_invalid(self, index: int, invalid: int) -> None:
        logical_id = self.pick(index)
        declared = self.model.declared[logical_id]
        old = declared.props
        name, new = self.invalid_props(old, invalid)
        calls = self.total_calls()
        running = self.running_replicas()
        event = custom_resource_event(
            "Update",
            new,
            logical_id=logical_id,
            physical_id=declared.physical_id,
            old_properties=old,
        )
        reply = self.send(event)
        assert isinstance(reply.error, InvalidPropertyError), reply
        assert name in str(reply.error)
        assert self.total_calls() == calls, "an invalid property must fail before any API call"
        self.rollback(logical_id, old, new)
        # The failed Update touched nothing, so neither does its rollback:
        # every replica that ran still runs, in the same destination session.
        after = self.running_replicas()
        assert all(replica in after for replica in running), (running, after)
        self.finish_step()

    def rollback(self, logical_id: str, old: dict[str, Any], failed: dict[str, Any]) -> None:
        """CloudFormation's rollback Update: back to `old`, from the properties that failed.

        The physical id is still the old one. Unparseable failed properties (they may come
        from an older, laxer version) leave the settings unknown: the handler restarts in
        place. Failed properties naming another replication (a failed replacement) mean
        the replication under the id was never touched: the handler only makes sure it runs.
        """
        declared = self.model.declared[logical_id]
        key = _key_of(old)
        event = custom_resource_event(
            "Update",
            old,
            logical_id=logical_id,
            physical_id=declared.physical_id,
            old_properties=failed,
        )
        reply = self.retry_until_ok(event, "continue-update-rollback")
        assert reply.physical_id == declared.physical_id
        if not _parses(failed) or _key_of(failed) != key:
            # A failed replacement or a failed validation: what runs under the id was never
            # touched; the handler lists first and starts it only if it is not ACTIVE.
            self.model.ensure_running(key, _settings_of(old))
        else:
            assert self.model.restart_in_place(key, _settings_of(old)), (
                "a rollback Update may never fail through publisher absence"
            )

    def retry_until_ok(self, event: dict[str, Any], retry: str) -> Reply:
        """Send `event`; if it fails (only injected faults may make it), clear the faults
        and send it again, as CloudFormation's `retry` does. It must succeed: no stack may
        end in *_FAILED through publisher absence."""
        reply = self.send(event)
        for _ in range(RETRIES_AFTER_FAULTS):
            if reply.ok:
                return reply
            assert "is not publishing" not in str(reply.error), reply
            assert "did not publish" not in str(reply.error), reply
            observe(f"{retry} after a failure under injected faults")
            self.server.faults.clear()
            reply = self.send(event)
        assert reply.ok, f"still failing after {retry}: {reply}"
        return reply

    def renameable(self) -> list[str]:
        """Declared resources whose publisher publishes (a rename while it is away is an
        in-place restart's rollback safety, tested by `update_settings`)."""
        return [
            logical_id
            for logical_id, declared in sorted(self.model.declared.items())
            if self.model.publishing(declared.props["ParticipantId"])
        ]

    @precondition(lambda self: bool(self.renameable()))
    @rule(
        index=st.integers(0, 20),
        window=st.sampled_from((None, *WINDOWS)),
        rolled_back=st.booleans(),
        twice=st.booleans(),
    )
    def rename(self, index: int, window: int | None, rolled_back: bool, twice: bool) -> None:
        """A construct renamed or moved (with `window`, its settings changed too): the new
        logical id is created with the same physical id, then CloudFormation's cleanup
        deletes the old one; or the stack update fails elsewhere and the rollback's cleanup
        deletes the new one. Either Delete may be delivered twice. The replication keeps
        running throughout, with the settings of the resource in force."""
        candidates = self.renameable()
        old_id = candidates[index % len(candidates)]
        declared = self.model.declared[old_id]
        key = _key_of(declared.props)
        new_props = dict(declared.props)
        if window is not None:
            new_props["ReconnectWindowSeconds"] = window
        new_id = self.new_logical_id()
        create = custom_resource_event("Create", new_props, logical_id=new_id)
        reply = self.deliver(create, twice)
        assert reply.ok, reply
        assert reply.physical_id == declared.physical_id
        self.model.alive[key] = _settings_of(new_props)  # in force now: its settings run
        gone, kept = (new_id, old_id) if rolled_back else (old_id, new_id)
        gone_props, kept_props = (
            (new_props, declared.props) if rolled_back else (declared.props, new_props)
        )
        cleanup = custom_resource_event(
            "Delete", gone_props, logical_id=gone, physical_id=declared.physical_id
        )
        assert self.deliver(cleanup, twice).ok
        observe("a rename rolled back" if rolled_back else "a rename cleaned up")
        del self.model.declared[old_id]
        self.model.declared[kept] = Declared(declared.physical_id, kept_props)
        self.model.alive[key] = _settings_of(kept_props)
        self.finish_step()

    @precondition(lambda self: bool(self.model.declared))
    @rule(index=st.integers(0, 20), twice=st.booleans())
    def delete(self, index: int, twice: bool) -> None:
        logical_id = self.pick(index)
        declared = self.model.declared.pop(logical_id)
        event = custom_resource_event(
            "Delete", declared.props, logical_id=logical_id, physical_id=declared.physical_id
        )
        reply = self.retry_until_ok(event, "a retried Delete")
        if twice:
            assert self.send(event).ok
        assert reply.physical_id == declared.physical_id
        self.model.alive.pop(_key_of(declared.props), None)
        self.finish_step()

    # --- faults (they last until the end of the next CloudFormation step) ---------------------

    @rule(
        kind=st.sampled_from(("server errors", "throttling", "dropped connection")),
        operation=st.sampled_from(FAULT_OPERATIONS),
        count=st.integers(1, 3),
    )
    def inject_fault(self, kind: str, operation: str, count: int) -> None:
        """Transient faults the handler must ride out: 500s and 429s, a token bucket of 3 or
        9 calls a second, or connections closed without an answer."""
        faults = self.server.faults
        if kind == "server errors":
            faults.script_errors(operation, [500, 429, 500][:count])
        elif kind == "throttling":
            faults.throttle(operation, rate_per_second=3.0 * count, burst=1)
        else:
            faults.drop_connections(operation, count)

    # --- publishers and time ---------------------------------------------------------------

    @precondition(lambda self: bool(self.stages))
    @rule(participant=st.sampled_from([p for p, _ in PARTICIPANTS]))
    def publish(self, participant: str) -> None:
        self.server.publish(self.stages[HOME[participant]], participant)
        self.model.publishers[participant] = Publisher(publishing=True)
        self.let_publishing_propagate()

    def let_publishing_propagate(self) -> None:
        """Under a profile where IVS replicates a publisher only some seconds after it starts,
        "publishing" here means publishing for that long (the handler's settling right after
        publishing is tested in tests/edge/test_service_profiles.py)."""
        if self.profile.publish_propagation_seconds:
            self.advance_clock(self.profile.publish_propagation_seconds)

    @precondition(lambda self: bool(self.model.declared))
    @rule(index=st.integers(0, 20))
    def declared_publisher_leaves(self, index: int) -> None:
        """The publisher of a declared replication stops publishing (and may come back)."""
        self.unpublish(self.model.declared[self.pick(index)].props["ParticipantId"])

    @precondition(lambda self: bool(self.stages))
    @rule(participant=st.sampled_from([p for p, _ in PARTICIPANTS]))
    def unpublish(self, participant: str) -> None:
        self.sync_time()
        left = self.server.unpublish(self.stages[HOME[participant]], participant)
        assert left == self.model.publishing(participant)
        if left:
            self.model.publishers[participant] = Publisher(False, left_at=self.model.now)
            self.model.expire()

    @rule(seconds=st.sampled_from(CLOCK_STEPS))
    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.sync_time()

    @precondition(lambda self: bool(self.stages))
    @rule(
        participant=st.sampled_from([p for p, _ in PARTICIPANTS]),
        away=st.sampled_from(CLOCK_STEPS),
    )
    def publisher_drops_and_returns(self, participant: str, away: float) -> None:
        """A publisher's connection drops for `away` seconds, then it publishes again."""
        self.unpublish(participant)
        self.advance_clock(away)
        self.publish(participant)

    # --- invariants ----------------------------------------------------------------------------

    def running_replicas(self) -> list[Any]:
        """ACTIVE and going on: a replica whose Stop IVS answered (a profile may list it ACTIVE
        for a moment longer) is ending."""
        return [r for r in self.server.replicas(state="ACTIVE") if not r.stopping]

    @invariant()
    def endpoint_runs_exactly_the_declared_replications(self) -> None:
        active = {
            (r.source_stage_arn, r.destination_stage_arn, r.participant_id): (
                tuple(sorted(r.attributes.items())),
                r.reconnect_window_seconds,
            )
            for r in self.running_replicas()
        }
        declared_keys = {_key_of(d.props) for d in self.model.declared.values()}
        orphaned = set(active) - declared_keys
        assert not orphaned, f"ACTIVE but declared by no resource: {orphaned}"
        lost = set(self.model.alive) - set(active)
        assert not lost, f"declared and expected to run, but not ACTIVE: {lost}"
        assert active == self.model.alive

    @invariant()
    def running_settings_are_the_declared_ones(self) -> None:
        for declared in self.model.declared.values():
            key = _key_of(declared.props)
            if key in self.model.alive:
                assert self.model.alive[key] == _settings_of(declared.props)


globals().update(profiled_cases(LifecycleMachine, stateful_settings, "TestLifecycleStateful"))
