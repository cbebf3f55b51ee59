"""`grant_status` and `grant_reconcile` give an operator's role exactly what
`ivs-replication status` and `reconcile` call: the command runs against a deployed stack (the
IVS emulator, moto's DynamoDB, CloudFormation and Lambda stubbed) while every client records
its operations as IAM actions, which are compared with the roles' statements in the template.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any

import pytest

from ivs_realtime_emulator import IvsRealtimeEmulator
from ivs_replication.nag import flatten
from ivs_replication.testing import LocalDynamoDB
from ivs_replication_cli.errors import EXIT_OK
from ivs_replication_handler import contract as c
from tests.construct.helpers import render
from tests.local.deployed_stack import STACK, DeployedWorld, deployed, live_stack_template

# IAM names an operation by its API name, except Lambda's Invoke.
IAM_ACTION_OF = {"lambda:Invoke": "lambda:InvokeFunction"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return live_stack_template(operators=True)


@pytest.fixture
def world(
    local_ivs: IvsRealtimeEmulator, dynamodb: LocalDynamoDB, template: dict[str, Any]
) -> Iterator[DeployedWorld]:
    with deployed(template, local_ivs, dynamodb) as built:
        yield built


class Recorder:
    """The IAM actions of the calls made through some clients."""

    def __init__(self, *clients: Any) -> None:
        self.actions: set[str] = set()
        for client in clients:
            client.meta.events.register("before-parameter-build", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        action = f"{model.service_model.signing_name}:{model.name}"
        self.actions.add(IAM_ACTION_OF.get(action, action))

    def taken(self) -> set[str]:
        taken, self.actions = self.actions, set()
        return taken


def granted(template: dict[str, Any], role: str) -> list[tuple[str, list[Any]]]:
    """(action, resources) of every statement of the policies attached to `role`."""
    [role_id] = [
        lid
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role" and lid.startswith(role)
    ]
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        if {"Ref": role_id} not in resource["Properties"]["Roles"]:
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"]
            resources = statement["Resource"]
            for action in actions if isinstance(actions, list) else [actions]:
                found.append((action, resources if isinstance(resources, list) else [resources]))
    return found


def actions_of(statements: list[tuple[str, list[Any]]]) -> set[str]:
    return {action for action, _ in statements}


def reconciler_role_actions(template: dict[str, Any]) -> set[str]:
    """What the deployed reconciler's own role may do with IVS and the registry."""
    [function] = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Handler"] == c.RECONCILER_ENTRY_POINT
    ]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = granted(template, role)
    return {a for a in actions_of(statements) if a.split(":")[0] in ("ivs", "dynamodb")}


def drift_on_side(world: DeployedWorld) -> None:
    world.ivs_endpoint.publish(world.arn("Main"), "host-1")  # the rule starts both replicas
    world.ivs_endpoint.client().stop_participant_replication(
        sourceStageArn=world.arn("Main"),
        destinationStageArn=world.arn("Side"),
        participantId="host-1",
    )


def test_status_is_granted_exactly_what_it_calls_on_this_stack_only(world: DeployedWorld):
    recorder = Recorder(world.cloudformation, world.ivs_client, world._dynamodb_client)
    drift_on_side(world)
    recorder.taken()
    world.expect_stack_reads()
    code, _, _ = world.run("status", "--stack-name", STACK)
    assert code != EXIT_OK  # drift: every read was made

    statements = granted(world.template, "StatusOperators")
    assert actions_of(statements) == recorder.taken()
    for action, resources in statements:
        [resource] = [render(r) for r in resources]  # as deployed in the emulator's account
        if action.startswith("cloudformation:"):
            assert resource == f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/*"
        else:
            assert resource == "arn:aws:ivs:us-east-1:123456789012:stage/*"
            assert fnmatch.fnmatchcase(world.arn("Main"), resource)


def test_reconcile_is_granted_what_it_and_the_reconcilers_own_code_call(world: DeployedWorld):
    """Invoking the reconciler, and with --local what its role may do, for this stack's
    reconciler and registry only; granted although the grant came before the follow mode."""
    recorder = Recorder(
        world.cloudformation, world.ivs_client, world._dynamodb_client, world.lambda_client
    )
    drift_on_side(world)
    recorder.taken()
    world.expect_stack_reads()
    code, report, _ = world.run("reconcile", "--stack-name", STACK, "--local")
    assert code == EXIT_OK, report
    assert "started: 1" in report
    world.expect_stack_reads()
    reconciler = next(
        world.deployment.physical_ids[lid]
        for lid, r in world.template["Resources"].items()
        if r["Properties"].get("Handler") == c.RECONCILER_ENTRY_POINT
    )
    world.expect_invoke(reconciler, {"trigger": "sweep", "declarations": 3, "failed": {}})
    world.expect_stack_reads()
    assert world.run("reconcile", "--stack-name", STACK)[0] == EXIT_OK
    assert world.run("status", "--stack-name", STACK)[0] == EXIT_OK
    called = recorder.taken()

    statements = granted(world.template, "ReconcileOperators")
    status_actions = actions_of(granted(world.template, "StatusOperators"))
    assert called <= actions_of(statements), called - actions_of(statements)
    assert actions_of(statements) == (
        status_actions
        | set(c.CLI_RECONCILE_INVOKE_ACTIONS)
        | reconciler_role_actions(world.template)
    )
    # This stack's reconciler and registry, nothing else of Lambda or DynamoDB.
    resources = {
        flatten(r)
        for action, rs in statements
        if action.split(":")[0] in ("lambda", "dynamodb")
        for r in rs
    }
    kinds = {"AWS::DynamoDB::Table", "AWS::Lambda::Function"}
    ours = {
        lid
        for lid, r in world.template["Resources"].items()
        if r["Type"] in kinds
        and r["Properties"].get("Handler") != c.ON_EVENT_ENTRY_POINT
        and "Framework" not in lid
    }
    assert resources == {f"<{lid}.Arn>" for lid in ours}
