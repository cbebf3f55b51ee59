"""AppDeployment: every stack of a synthesized CDK app deployed locally, in dependency order,
one stack importing what another exports - as CloudFormation deploys the app's stacks - and
deleted in reverse, an exporting stack never before the stacks that import from it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
import pytest
from aws_cdk import Fn
from aws_cdk import aws_ivs as ivs

from ivs_realtime_emulator import IvsRealtimeEmulator, ManualClock
from ivs_replication import ParticipantFanOut, ParticipantReplication
from ivs_replication.testing import (
    AppDeployment,
    MissingExportError,
    TemplateDeployment,
    TemplateDeploymentError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from ivs_replication.testing import LocalDynamoDB

# What the CDK CLI sets, so templates carry construct paths.
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True}


@pytest.fixture
def endpoint() -> Iterator[IvsRealtimeEmulator]:
    with IvsRealtimeEmulator(clock=ManualClock()) as server:
        yield server


def stage_arns(endpoint: IvsRealtimeEmulator) -> dict[str, str]:
    return {stage["name"]: stage["arn"] for stage in endpoint.snapshot()["stages"]}


def active(endpoint: IvsRealtimeEmulator) -> set[tuple[str, str]]:
    replicas = endpoint.replicas(state="ACTIVE")
    return {(r.participant_id, r.destination_stage_arn) for r in replicas}


# --- the guide's app: stages in one stack, their replications in another -----------------------


def live_app() -> cdk.App:
    """The guide's "several stacks" example: CDK turns each stage the Replications stack
    uses into an export of Stages and an Fn::ImportValue in Replications."""
    app = cdk.App(context=CLI_CONTEXT)
    stages = cdk.Stack(app, "Stages")
    main = ivs.CfnStage(stages, "Main", name="main")
    sides = [ivs.CfnStage(stages, f"Side{n}", name=f"side-{n}") for n in (1, 2)]
    replications = cdk.Stack(app, "Replications")
    ParticipantReplication(
        replications,
        "HostIntoSide1",
        source_stage=main,
        destination_stage=sides[0],
        participant_id="host-1",
    )
    ParticipantFanOut(
        replications,
        "GuestIntoSides",
        source_stage=main,
        participant_id="guest-1",
        destination_stages=sides,
    )
    return app


@pytest.fixture(scope="module")
def live() -> cdk.App:
    return live_app()


def test_the_two_stack_app_deploys_in_order_and_follows_each_publisher(
    endpoint: IvsRealtimeEmulator, dynamodb: LocalDynamoDB, live: cdk.App
) -> None:
    deployment = AppDeployment(live.synth(), ivs=endpoint, dynamodb=dynamodb)
    assert list(deployment.stacks) == ["Stages", "Replications"]

    deployment.deploy()  # follow mode: nobody publishes yet, the deploy succeeds

    stages = stage_arns(endpoint)
    assert sorted(deployment.stack("Stages").exported.values()) == sorted(stages.values())
    endpoint.publish(stages["main"], "host-1")
    endpoint.publish(stages["main"], "guest-1")
    assert active(endpoint) == {
        ("host-1", stages["side-1"]),
        ("guest-1", stages["side-1"]),
        ("guest-1", stages["side-2"]),
    }

    deployment.delete()

    assert active(endpoint) == set()
    assert stage_arns(endpoint) == {}
    assert dict(deployment.exports) == {}
    assert not any(stack.deployed for stack in deployment.stacks.values())


def test_an_exporting_stack_is_not_deleted_while_another_imports_from_it(
    endpoint: IvsRealtimeEmulator, dynamodb: LocalDynamoDB, live: cdk.App
) -> None:
    deployment = AppDeployment(live.synth(), ivs=endpoint, dynamodb=dynamodb)
    deployment.deploy()
    stages = stage_arns(endpoint)
    endpoint.publish(stages["main"], "host-1")

    with pytest.raises(TemplateDeploymentError, match=r"in use by Replications") as raised:
        deployment.stack("Stages").delete()

    assert raised.value.logical_id == "Stages"
    assert "Export Stages:ExportsOutputRefMain" in raised.value.reason
    assert stage_arns(endpoint) == stages  # nothing was deleted
    assert active(endpoint) == {("host-1", stages["side-1"])}
    deployment.stack("Replications").delete()
    deployment.stack("Stages").delete()  # nobody imports its exports any more
    assert stage_arns(endpoint) == {}


def test_an_importing_stack_deployed_alone_names_the_import_it_cannot_resolve(
    endpoint: IvsRealtimeEmulator, dynamodb: LocalDynamoDB, live: cdk.App
) -> None:
    template = live.synth().get_stack_by_name("Replications").template
    stack = TemplateDeployment(template, ivs=endpoint, dynamodb=dynamodb)

    with pytest.raises(MissingExportError) as raised:
        stack.deploy()

    message = str(raised.value)
    assert message.startswith("Resource HostIntoSide1")
    assert "(Replications/HostIntoSide1/Resource/Default), property SourceStageArn" in message
    assert "Fn::ImportValue 'Stages:ExportsOutputRefMain" in message
    assert raised.value.export_name.startswith("Stages:ExportsOutputRefMain")
    assert stack.history == []
    assert dynamodb.tables() == []


# --- ordering by imports, a cdk.out directory ---------------------------------------------------


def test_a_cdk_out_directory_deploys_with_stacks_ordered_by_their_imports(
    endpoint: IvsRealtimeEmulator, dynamodb: LocalDynamoDB, tmp_path: Path
) -> None:
    """The importing stack comes first in the app and the app declares no dependency between
    the two: the literal export name it imports puts the exporting stack first."""
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=CLI_CONTEXT)
    consumer = cdk.Stack(app, "Consumer")
    producer = cdk.Stack(app, "Producer")
    main = ivs.CfnStage(producer, "Main", name="main")
    side = ivs.CfnStage(producer, "Side", name="side")
    cdk.CfnOutput(producer, "MainArn", value=main.attr_arn, export_name="shared-main")
    cdk.CfnOutput(producer, "SideArn", value=side.attr_arn, export_name="shared-side")
    ParticipantReplication(
        consumer,
        "HostIntoSide",
        source_stage=Fn.import_value("shared-main"),
        destination_stage=Fn.import_value("shared-side"),
        participant_id="host-1",
    )
    app.synth()

    deployment = AppDeployment(tmp_path / "cdk.out", ivs=endpoint, dynamodb=dynamodb)
    assert list(deployment.stacks) == ["Producer", "Consumer"]
    deployment.deploy()

    stages = stage_arns(endpoint)
    assert deployment.stack("Producer").outputs == {
        "MainArn": stages["main"],
        "SideArn": stages["side"],
    }
    endpoint.publish(stages["main"], "host-1")
    assert active(endpoint) == {("host-1", stages["side"])}
    deployment.delete()
    assert active(endpoint) == set()


# --- refusals across stacks, and per-stack parameters ---------------------------------------------


def stage_stacks(*names: str, export: str) -> cdk.App:
    """One stage per stack, each stack exporting its stage's ARN under the same name."""
    app = cdk.App(context=CLI_CONTEXT)
    for name in names:
        stack = cdk.Stack(app, name)
        prefix = cdk.CfnParameter(stack, "Prefix", default="stage")
        stage = ivs.CfnStage(stack, "Stage", name=Fn.join("-", [prefix.value_as_string, name]))
        cdk.CfnOutput(stack, "StageArn", value=stage.attr_arn, export_name=export)
    return app


def test_an_export_name_another_stack_holds_fails_that_stack_and_leaves_the_first_deployed(
    endpoint: IvsRealtimeEmulator,
) -> None:
    deployment = AppDeployment(stage_stacks("First", "Second", export="same").synth(), ivs=endpoint)

    with pytest.raises(TemplateDeploymentError) as raised:
        deployment.deploy()

    assert raised.value.logical_id == "StageArn"
    assert raised.value.reason == "Export with name same is already exported by stack First"
    assert deployment.stack("First").deployed
    assert deployment.stack("Second").history == []  # refused before creating anything
    assert sorted(stage_arns(endpoint)) == ["stage-First"]
    deployment.delete()
    assert stage_arns(endpoint) == {}


def test_parameters_are_given_per_stack(endpoint: IvsRealtimeEmulator) -> None:
    app = stage_stacks("First", "Second", export="unused").synth()
    with pytest.raises(
        ValueError, match=r"parameters for stacks the app does not have: \['Fourth'\]"
    ):
        AppDeployment(app, ivs=endpoint, parameters={"Fourth": {"Prefix": "x"}})

    deployment = AppDeployment(app, ivs=endpoint, parameters={"Second": {"Prefix": "live"}})
    deployment.stack("Second").deploy()

    assert sorted(stage_arns(endpoint)) == ["live-Second"]
    with pytest.raises(KeyError, match=r"no stack 'Third' in the app; it has First, Second"):
        deployment.stack("Third")
