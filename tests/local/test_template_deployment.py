"""TemplateDeployment: a follow-mode template deployed and deleted in dependency order, with
stand-in functions (what each resource becomes, and when) and with this library's real handlers."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from ivs_realtime_emulator import ManualClock
from ivs_realtime_emulator.server import IvsRealtimeEmulator
from ivs_replication.testing.deployment import (
    INERT_TYPES,
    TemplateDeployment,
    TemplateDeploymentError,
    creation_order,
)
from ivs_replication.testing.dynamodb import DynamoDBNotRunningError
from ivs_replication.testing.events import LocalEventBus
from ivs_replication.testing.intrinsics import UnsupportedTemplateError
from tests.local.follow_stack import (
    DESTINATIONS,
    HANDLER,
    PERMISSION,
    RECONCILER,
    REPLICATIONS,
    RULE,
    SWEEP,
    SWEEP_INPUT,
    TABLE,
    StandInRuntime,
    follow_template,
    with_changes,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ivs_replication.testing.dynamodb import LocalDynamoDB


@pytest.fixture
def ivs() -> Iterator[IvsRealtimeEmulator]:
    with IvsRealtimeEmulator(clock=ManualClock()) as server:
        yield server


@dataclass
class Rig:
    """The endpoints and the stand-in functions a stand-in stack is deployed with."""

    ivs: IvsRealtimeEmulator
    dynamodb: LocalDynamoDB
    bus: LocalEventBus
    runtime: StandInRuntime

    def stack(self, template: dict[str, Any], **options: Any) -> TemplateDeployment:
        return TemplateDeployment(
            template,
            ivs=self.ivs,
            dynamodb=self.dynamodb,
            bus=self.bus,
            runtime=self.runtime,
            **options,
        )


@pytest.fixture
def rig(ivs: IvsRealtimeEmulator, local_dynamodb: LocalDynamoDB) -> Rig:
    bus = LocalEventBus()
    return Rig(ivs, local_dynamodb, bus, StandInRuntime(bus))


def statuses(stack: TemplateDeployment, status: str) -> list[str]:
    return [event.logical_id for event in stack.history if event.status == status]


def stage_names(ivs: IvsRealtimeEmulator) -> list[str]:
    return sorted(stage["name"] for stage in ivs.snapshot()["stages"])


# --- ordering --------------------------------------------------------------------------------


def test_each_resource_is_created_after_what_it_depends_on() -> None:
    order = creation_order(follow_template())

    def before(first: str, then: str) -> bool:
        return order.index(first) < order.index(then)

    assert all(before(replication, RULE) for replication in REPLICATIONS)  # DependsOn
    assert all(before(side, f"Into{side}") for side in DESTINATIONS)  # Ref
    assert before("Encoder", REPLICATIONS[0])  # Fn::GetAtt
    assert before(TABLE, HANDLER)  # a Ref inside the environment
    assert before(HANDLER, "Framework")
    assert before("Framework", REPLICATIONS[0])
    assert sorted(order) == sorted(follow_template()["Resources"])


def test_a_dependency_cycle_is_named() -> None:
    template = with_changes(follow_template(), "MainStage", DependsOn=[RULE])

    with pytest.raises(UnsupportedTemplateError, match=r"dependency cycle.*MainStage"):
        creation_order(template)


def test_a_dependency_on_a_missing_resource_is_named() -> None:
    template = with_changes(follow_template(), RULE, DependsOn=["Nowhere"])

    with pytest.raises(UnsupportedTemplateError, match=r"PublisherRule, property DependsOn"):
        creation_order(template)


def test_deleting_removes_the_rules_before_any_custom_resource_gets_its_delete(
    rig: Rig,
) -> None:
    stack = rig.stack(follow_template())
    stack.deploy()

    stack.delete()

    deleted = statuses(stack, "DELETE_COMPLETE")
    assert deleted == list(reversed(statuses(stack, "CREATE_COMPLETE")))
    assert max(deleted.index(RULE), deleted.index(SWEEP)) < min(map(deleted.index, REPLICATIONS))
    deletes = [
        (logical_id, rules) for kind, logical_id, rules in rig.runtime.requests if kind == "Delete"
    ]
    assert sorted(logical_id for logical_id, _ in deletes) == sorted(REPLICATIONS)
    assert all(rules == [] for _, rules in deletes)  # nothing could invoke the reconciler
    creates = [rules for kind, _, rules in rig.runtime.requests if kind == "Create"]
    assert creates == [[], [], []]  # and nothing could before the declarations existed
    assert rig.bus.rules() == {}
    assert stage_names(rig.ivs) == []
    assert stack.physical_ids == {}


# --- what the resources become ---------------------------------------------------------------


def test_the_ingest_configurations_generated_participant_id_is_used_everywhere(
    rig: Rig,
) -> None:
    stack = rig.stack(follow_template())
    stack.deploy()

    encoder = stack.ingest_configurations["Encoder"]
    main = stack.physical_ids["MainStage"]
    assert encoder.stage_arn == main
    assert encoder.arn.startswith("arn:aws:ivs:us-east-1:123456789012:ingest-configuration/")
    assert stack.physical_ids["Encoder"] == encoder.arn
    properties = rig.runtime.requests_properties[REPLICATIONS[0]]
    assert properties["ParticipantId"] == encoder.participant_id
    assert properties["SourceStageArn"] == main
    assert properties["DestinationStageArn"] == stack.physical_ids["Side0"]
    assert "ServiceToken" in properties  # the provider framework's, as CloudFormation sends
    pattern = rig.bus.rules()[stack.physical_ids[RULE]].pattern
    assert pattern is not None
    assert pattern["detail"]["participant_id"] == [encoder.participant_id]
    assert pattern["resources"] == [main]


def test_the_encoder_publishing_reaches_the_reconciler_and_the_sweep_sends_its_input(
    rig: Rig,
) -> None:
    stack = rig.stack(follow_template())
    stack.deploy()

    session = stack.start_encoder("Encoder")
    rig.ivs.publish(stack.physical_ids["MainStage"], "somebody-else")
    rig.bus.run_schedules()

    [(function, event), sweep] = rig.runtime.invocations
    assert function == RECONCILER
    assert isinstance(event, dict)
    assert event["detail"]["session_id"] == session
    assert sweep == (RECONCILER, SWEEP_INPUT)
    assert stack.stop_encoder("Encoder") is True


def test_the_registry_table_gets_the_templates_keys_and_its_name_reaches_the_functions(
    rig: Rig,
) -> None:
    stack = rig.stack(follow_template())
    stack.deploy()

    table = stack.physical_ids[TABLE]
    assert table.startswith(f"TemplateDeployment-{TABLE}-")
    assert rig.dynamodb.tables() == [table]
    described = rig.dynamodb.client().describe_table(TableName=table)["Table"]
    assert [k["AttributeName"] for k in described["KeySchema"]] == [
        "Publisher",
        "DestinationStageArn",
    ]
    environments = {f.logical_id: dict(f.environment) for f in rig.runtime.functions}
    expected = {"IVS_REPLICATION_REGISTRY_TABLE": table}
    assert environments == {HANDLER: expected, RECONCILER: expected}
    assert stack.functions[HANDLER].timeout_seconds == 300

    stack.delete()
    assert rig.dynamodb.tables() == []


def test_a_retained_table_outlives_the_stack(
    rig: Rig,
) -> None:
    template = with_changes(follow_template(), TABLE, DeletionPolicy="Retain")
    stack = rig.stack(template)
    stack.deploy()
    table = stack.physical_ids[TABLE]

    stack.delete()

    assert statuses(stack, "DELETE_SKIPPED") == [TABLE]
    assert rig.dynamodb.tables() == [table]


# --- what is refused -------------------------------------------------------------------------


def test_an_unsupported_resource_type_is_named_before_anything_is_created(
    rig: Rig,
) -> None:
    template = follow_template()
    template["Resources"]["Bucket"] = {"Type": "AWS::S3::Bucket"}
    stack = rig.stack(template)

    with pytest.raises(UnsupportedTemplateError, match=r"Bucket, property Type: AWS::S3::Bucket"):
        stack.deploy()

    assert stack.history == []
    assert stage_names(rig.ivs) == []


def test_an_unsupported_type_named_inert_becomes_a_placeholder(
    rig: Rig,
) -> None:
    template = follow_template()
    template["Resources"]["Bucket"] = {"Type": "AWS::S3::Bucket"}
    stack = rig.stack(template, inert_types={*INERT_TYPES, "AWS::S3::Bucket"})

    stack.deploy()

    assert stack.physical_ids["Bucket"] == "TemplateDeployment-Bucket"


@pytest.mark.parametrize(
    ("logical_id", "prop", "value", "named"),
    [
        (
            REPLICATIONS[1],
            "ParticipantId",
            # The generated participant id has no "-": one item, no fourth.
            {"Fn::Select": [3, {"Fn::Split": ["-", {"Fn::GetAtt": ["Encoder", "ParticipantId"]}]}]},
            "Fn::Select 3",
        ),
        (REPLICATIONS[1], "ParticipantId", {"Fn::GetAtt": ["Encoder", "Nope"]}, "Nope"),
        (
            RULE,
            "EventPattern",
            {"source": [{"prefix": "aws."}]},
            "content filter prefix is not supported",
        ),
    ],
)
def test_a_failed_create_names_the_problem_and_rolls_back_what_was_created(
    rig: Rig,
    logical_id: str,
    prop: str,
    value: object,
    named: str,
) -> None:
    template = follow_template()
    template["Resources"][logical_id]["Properties"][prop] = value
    stack = rig.stack(template)

    with pytest.raises(TemplateDeploymentError) as raised:
        stack.deploy()

    assert raised.value.logical_id == logical_id
    assert named in str(raised.value)
    assert statuses(stack, "CREATE_FAILED") == [logical_id]
    assert statuses(stack, "DELETE_COMPLETE") == list(reversed(statuses(stack, "CREATE_COMPLETE")))
    assert stage_names(rig.ivs) == []
    assert rig.bus.rules() == {}
    assert rig.dynamodb.tables() == []
    created = [logical for kind, logical, _ in rig.runtime.requests if kind == "Create"]
    deleted = [logical for kind, logical, _ in rig.runtime.requests if kind == "Delete"]
    assert sorted(created) == sorted(deleted)


def test_a_rule_target_outside_the_stack_is_refused(
    rig: Rig,
) -> None:
    template = follow_template()
    target = template["Resources"][SWEEP]["Properties"]["Targets"][0]
    target["Arn"] = "arn:aws:lambda:us-east-1:123456789012:function:elsewhere"
    stack = rig.stack(template)

    with pytest.raises(
        TemplateDeploymentError, match=r"only functions of this stack are local targets"
    ):
        stack.deploy()


def test_a_table_without_a_local_dynamodb_gets_an_endpoint_of_the_deployments_own(
    rig: Rig,
) -> None:
    """Every stack with a replication has its registry table: a deployment given no
    LocalDynamoDB starts its own for it, and stops it once the stack is deleted."""
    stack = TemplateDeployment(follow_template(), ivs=rig.ivs, bus=rig.bus, runtime=rig.runtime)
    endpoint = stack.dynamodb
    assert endpoint is not None

    stack.deploy()
    assert endpoint.client().list_tables()["TableNames"]

    stack.delete()
    with pytest.raises(DynamoDBNotRunningError):
        _ = endpoint.endpoint_url


# --- the real handlers -----------------------------------------------------------------------


class FollowStack:
    """The follow-mode template deployed with this library's handler and reconciler."""

    def __init__(
        self,
        ivs: IvsRealtimeEmulator,
        dynamodb: LocalDynamoDB,
        window: int,
        template: dict[str, Any] | None = None,
    ) -> None:
        """``template`` Default: ``follow_template`` with the reconnect window `window`."""
        self.ivs = ivs
        self.dynamodb = dynamodb
        self.window = window
        template = template or follow_template(reconnect_window_seconds=window)
        self.stack = TemplateDeployment(template, ivs=ivs, dynamodb=dynamodb)
        self.participant = ""
        self.destinations: list[str] = []

    def deploy(self) -> None:
        """Deploy, and remember what outlives a delete: the participant and the stage ARNs."""
        self.stack.deploy()
        self.participant = self.stack.ingest_configurations["Encoder"].participant_id
        self.destinations = [self.stack.physical_ids[side] for side in DESTINATIONS]

    def states(self) -> list[str]:
        states = []
        for destination in self.destinations:
            replicas = self.ivs.replicas(
                participant_id=self.participant, destination_stage_arn=destination
            )
            states.append(replicas[-1].state if replicas else "none")
        return states

    def encoder_away_beyond_the_window(self) -> None:
        self.stack.stop_encoder("Encoder")
        self.ivs.clock.advance(self.window + 1)


@pytest.fixture
def follow(ivs: IvsRealtimeEmulator, local_dynamodb: LocalDynamoDB) -> FollowStack:
    return FollowStack(ivs, local_dynamodb, window=10)


def test_follow_mode_deploys_with_nobody_live_and_starts_when_the_encoder_publishes(
    follow: FollowStack,
) -> None:
    stack = follow.stack
    follow.deploy()

    assert follow.states() == ["none"] * 3
    table = stack.physical_ids[TABLE]
    assert len(follow.dynamodb.items(table)) == 3

    stack.start_encoder("Encoder")
    assert follow.states() == ["ACTIVE"] * 3
    [delivery] = stack.bus.deliveries
    assert delivery.status == "delivered"
    assert isinstance(delivery.result, dict)
    assert len(delivery.result["started"]) == 3

    follow.encoder_away_beyond_the_window()
    assert follow.states() == ["STOPPED"] * 3
    stack.start_encoder("Encoder")
    assert follow.states() == ["ACTIVE"] * 3


def test_a_missed_event_is_recovered_by_the_sweep(follow: FollowStack) -> None:
    stack = follow.stack
    follow.deploy()
    stack.bus.drop_next()

    stack.start_encoder("Encoder")
    assert follow.states() == ["none"] * 3

    [sweep] = stack.bus.run_schedules()
    assert sweep.status == "delivered"
    assert follow.states() == ["ACTIVE"] * 3


def test_deleting_the_stack_stops_everything_and_a_late_event_restarts_nothing(
    follow: FollowStack,
) -> None:
    stack = follow.stack
    follow.deploy()
    stack.start_encoder("Encoder")
    stack.bus.hold()
    follow.encoder_away_beyond_the_window()
    stack.start_encoder("Encoder")  # its event is held back: arrives after the delete
    assert follow.states() == ["STOPPED"] * 3

    stack.delete()
    stack.bus.release()

    assert follow.states() == ["STOPPED"] * 3
    assert follow.ivs.replicas(state="ACTIVE") == []
    assert stack.bus.rules() == {}
    assert follow.dynamodb.tables() == []
    assert stack.deployment is not None
    assert [r.request_type for r in stack.deployment.history] == ["Create"] * 3 + ["Delete"] * 3
    assert all(r.succeeded for r in stack.deployment.history)


def test_removing_a_replication_stops_it_alone_and_the_stack_delete_leaves_it_out(
    ivs: IvsRealtimeEmulator, local_dynamodb: LocalDynamoDB
) -> None:
    """What an update that drops one replication from the template does: its Delete, nothing
    else (the rule here depends on no replication, as the construct's does)."""
    template = with_changes(follow_template(), RULE, DependsOn=[PERMISSION])
    follow = FollowStack(ivs, local_dynamodb, window=0, template=template)
    follow.deploy()
    follow.stack.start_encoder("Encoder")

    follow.stack.remove_resource(REPLICATIONS[0])

    assert follow.states() == ["STOPPED", "ACTIVE", "ACTIVE"]
    assert statuses(follow.stack, "DELETE_COMPLETE") == [REPLICATIONS[0]]
    follow.stack.delete()
    assert follow.stack.deployment is not None
    deletes = [r.logical_id for r in follow.stack.deployment.history if r.request_type == "Delete"]
    assert sorted(deletes) == sorted(REPLICATIONS)  # each Delete once


def test_a_resource_another_one_depends_on_is_not_removed(follow: FollowStack) -> None:
    follow.deploy()

    with pytest.raises(ValueError, match=rf"{RULE} depend on {REPLICATIONS[0]}"):
        follow.stack.remove_resource(REPLICATIONS[0])  # the rule's DependsOn names it
    with pytest.raises(KeyError, match="Nowhere"):
        follow.stack.remove_resource("Nowhere")
    assert statuses(follow.stack, "DELETE_COMPLETE") == []


def test_without_follow_mode_a_create_with_nobody_publishing_fails_and_rolls_back(
    ivs: IvsRealtimeEmulator,
) -> None:
    """No table, no rules, no DynamoDB: the handler runs without a registry."""
    template = follow_template()
    resources = template["Resources"]
    for logical_id in (RULE, SWEEP, TABLE, RECONCILER, PERMISSION, *REPLICATIONS[1:]):
        del resources[logical_id]
    resources[HANDLER]["Properties"]["Environment"]["Variables"] = {}
    resources[REPLICATIONS[0]]["Properties"]["WhenNotPublishing"] = "FAIL"
    stack = TemplateDeployment(template, ivs=ivs)

    with pytest.raises(TemplateDeploymentError) as raised:
        stack.deploy()

    assert raised.value.logical_id == REPLICATIONS[0]
    assert "is not publishing" in raised.value.reason
    assert stage_names(ivs) == []
    assert stack.physical_ids == {}


def test_a_second_deploy_is_refused_until_the_stack_is_deleted(rig: Rig) -> None:
    stack = rig.stack(follow_template())
    stack.deploy()

    with pytest.raises(TemplateDeploymentError, match=r"already deployed"):
        stack.deploy()

    stack.delete()
    stack.deploy()
    assert len(stage_names(rig.ivs)) == 4


def test_a_three_minute_wait_with_nobody_publishing_follows_the_manual_clock(
    ivs: IvsRealtimeEmulator, local_dynamodb: LocalDynamoDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a ManualClock the handler's waits advance that clock and its deadline is measured on
    it: a wait-mode deploy with nobody publishing fails after three simulated minutes, and no
    real second is slept (time.sleep would raise)."""
    template = copy.deepcopy(follow_template())
    for replication in REPLICATIONS:
        properties = template["Resources"][replication]["Properties"]
        properties.update(WhenNotPublishing="WAIT", WaitForPublisherSeconds=180)
    template["Resources"]["OnEvent"]["Properties"]["Timeout"] = 300 + 180

    def no_real_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s of real time")

    monkeypatch.setattr(time, "sleep", no_real_sleep)
    stack = TemplateDeployment(template, ivs=ivs, dynamodb=local_dynamodb)
    started = ivs.clock.now()

    with pytest.raises(TemplateDeploymentError, match="within the 180 s wait"):
        stack.deploy(rollback=False)

    # The wait gives up once the next poll (at most 6 s away) would end past the 180 s.
    assert 180 - 6 <= ivs.clock.now() - started <= 180
