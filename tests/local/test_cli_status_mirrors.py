"""`ivs-replication status` of a stack's stage mirrors, end to end: a synthesized stack of
three StageMirrors (one source, four destinations) deployed on the IVS emulator and moto's
DynamoDB, CloudFormation answered by a Stubber from that deployment (tests/local/deployed_stack)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ivs_realtime_emulator import IvsRealtimeEmulator, ManualClock
from ivs_realtime_emulator.pytest_plugin import no_real_account
from ivs_replication.testing import LocalDynamoDB
from ivs_replication_cli.errors import EXIT_DRIFT, EXIT_OK
from ivs_replication_cli.status import JSON_VERSION
from ivs_replication_handler import contract as c
from tests.local.deployed_stack import (
    MIRROR_STAGES,
    STACK,
    DeployedWorld,
    deployed,
    mirror_stack_template,
)

HOSTS = {"host-a": "user-host-a", "host-b": "user-host-b"}
EVERYONE_LIVE = ["guest", "host-a", "host-b"]


@pytest.fixture(scope="module")
def mirror_template() -> dict[str, Any]:
    return mirror_stack_template()


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch, dynamodb: LocalDynamoDB, mirror_template: dict[str, Any]
) -> Iterator[DeployedWorld]:
    """On a manual clock: the mirrors' handlers pace their IVS calls, and their waits then
    move the clock instead of taking time."""
    no_real_account(monkeypatch)
    with (
        IvsRealtimeEmulator(clock=ManualClock()) as endpoint,
        deployed(mirror_template, endpoint, dynamodb) as built,
    ):
        yield built


def by_destination(world: DeployedWorld, document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each mirror's JSON object by its destination stage's logical id."""
    names = {world.arn(stage): stage for stage in MIRROR_STAGES}
    return {names[m["destinationStageArn"]]: m for m in document["mirrors"]}


def verdicts(world: DeployedWorld, document: dict[str, Any]) -> dict[str, str]:
    return {stage: m["verdict"] for stage, m in by_destination(world, document).items()}


def publish_hosts_and_guest(world: DeployedWorld) -> None:
    """Two hosts and a guest publish in Main; the stack's rule starts what each mirror takes."""
    for host, user_id in HOSTS.items():
        world.ivs_endpoint.publish(world.arn("Main"), host, user_id=user_id)
    world.ivs_endpoint.publish(world.arn("Main"), "guest", user_id="someone-else")


def test_nobody_publishing_is_waiting_for_a_publisher_and_exits_0(world: DeployedWorld):
    code, document = world.status_json()

    assert code == EXIT_OK
    assert document["version"] == JSON_VERSION
    assert document["replications"] == []
    assert set(verdicts(world, document).values()) == {"waiting"}
    assert document["mirrorSummary"] == {"ok": 0, "waiting": 4, "drift": 0, "not-created": 0}
    assert document["drift"] is False


def test_every_live_publisher_each_mirror_takes_runs_in_its_destination_is_ok(
    world: DeployedWorld,
):
    """User ids narrow a mirror to its publishers, whether the template states them
    (Backstage) or leaves them to a parameter (Crew: the registry's declaration tells)."""
    publish_hosts_and_guest(world)

    code, document = world.status_json()

    assert code == EXIT_OK
    mirrors = by_destination(world, document)
    assert verdicts(world, document) == dict.fromkeys(mirrors, "ok")
    for audience in ("Audience1", "Audience2"):
        assert mirrors[audience]["userIds"] is None
        assert mirrors[audience]["publishers"] == EVERYONE_LIVE
        assert mirrors[audience]["replicated"] == EVERYONE_LIVE
    assert mirrors["Backstage"]["userIds"] == ["user-host-a"]
    assert mirrors["Backstage"]["publishers"] == mirrors["Backstage"]["replicated"] == ["host-a"]
    assert mirrors["Crew"]["userIds"] == ["user-host-b"]
    assert mirrors["Crew"]["publishers"] == mirrors["Crew"]["replicated"] == ["host-b"]


def test_a_publisher_whose_replica_was_stopped_out_of_band_is_drift_and_exits_1(
    world: DeployedWorld,
):
    publish_hosts_and_guest(world)
    world.ivs_endpoint.client().stop_participant_replication(
        sourceStageArn=world.arn("Main"),
        destinationStageArn=world.arn("Audience2"),
        participantId="host-b",
    )

    code, document = world.status_json()
    assert code == EXIT_DRIFT
    assert document["drift"] is True
    assert verdicts(world, document) == {
        "Audience1": "ok",
        "Audience2": "drift",
        "Backstage": "ok",
        "Crew": "ok",  # the same publisher, in another destination
    }
    audience_2 = by_destination(world, document)["Audience2"]
    assert audience_2["replicated"] == ["guest", "host-a"]
    assert audience_2["missing"] == ["host-b"]

    world.expect_stack_reads()
    code, table, _ = world.run("status", "--stack-name", STACK)
    assert code == EXIT_DRIFT
    [drift_line] = [line for line in table.splitlines() if line.endswith("drift")]
    assert drift_line.split()[-5:] == ["any", "3", "2", "host-b", "drift"]


def test_a_publisher_a_mirror_does_not_take_is_never_missing(world: DeployedWorld):
    """Only the guest publishes: the mirrors narrowed to hosts wait, the others hold it."""
    world.ivs_endpoint.publish(world.arn("Main"), "guest", user_id="someone-else")

    code, document = world.status_json()

    assert code == EXIT_OK
    assert verdicts(world, document) == {
        "Audience1": "ok",
        "Audience2": "ok",
        "Backstage": "waiting",
        "Crew": "waiting",
    }
    assert by_destination(world, document)["Backstage"]["publishers"] == []


def test_a_replica_in_the_source_is_no_publisher_of_its_mirrors(world: DeployedWorld):
    """A replica from another stage into Main is never mirrored, so it is never missing."""
    elsewhere = world.ivs_endpoint.create_stage("elsewhere")
    world.ivs_endpoint.publish(elsewhere, "visitor")
    world.ivs_endpoint.client().start_participant_replication(
        sourceStageArn=elsewhere, destinationStageArn=world.arn("Main"), participantId="visitor"
    )

    code, document = world.status_json()

    assert code == EXIT_OK
    assert set(verdicts(world, document).values()) == {"waiting"}


def test_ivs_is_asked_once_per_source_stage_and_once_per_publisher(world: DeployedWorld):
    publish_hosts_and_guest(world)
    world.ivs_endpoint.reset_calls()

    world.status_json()

    calls = world.ivs_endpoint.calls
    assert calls.get("ListParticipants") == 1  # four destinations, one source
    assert calls.get("GetStage") == 1
    assert calls.get("ListParticipantReplicas") == len(EVERYONE_LIVE)


def test_a_destination_whose_create_failed_is_not_created(world: DeployedWorld):
    [backstage] = [
        logical_id
        for logical_id, physical_id in world.deployment.physical_ids.items()
        if physical_id.split("|")[1:2] == [world.arn("Backstage")]
    ]
    marker = {**world.deployment.physical_ids, backstage: "a-failed-create-request-id"}
    world.expect_stack_reads(physical_ids=marker)

    code, out, _ = world.run("status", "--stack-name", STACK, "--json")

    assert code == EXIT_OK
    document = json.loads(out)
    [failed] = [m for m in document["mirrors"] if m["logicalId"] == backstage]
    assert failed["verdict"] == "not-created"
    assert failed["sourceStageArn"] is None
    assert document["mirrorSummary"]["not-created"] == 1


def test_the_json_document_names_every_field_of_a_mirror(world: DeployedWorld):
    _, document = world.status_json()

    assert {"mirrors", "mirrorSummary", "replications", "summary", "drift"} <= set(document)
    backstage = by_destination(world, document)["Backstage"]
    assert set(backstage) == {
        "logicalId",
        "physicalId",
        "sourceStageArn",
        "destinationStageArn",
        "userIds",
        "publishers",
        "replicated",
        "missing",
        "verdict",
    }
    assert backstage["physicalId"] == (
        f"{world.arn('Main')}|{world.arn('Backstage')}|{c.EVERY_PUBLISHER}"
    )
    assert world.template["Resources"][backstage["logicalId"]]["Type"] == c.MIRROR_RESOURCE_TYPE
