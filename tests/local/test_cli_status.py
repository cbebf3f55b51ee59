"""`ivs-replication status` and `reconcile` end to end: real boto3 clients against the IVS
emulator and moto's DynamoDB, CloudFormation (and Lambda) answered by Stubbers pinned to
botocore's model."""

from __future__ import annotations

import json
import logging

from botocore.stub import Stubber

from ivs_replication_cli.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_DRIFT,
    EXIT_NO_RECONCILER,
    EXIT_NO_STACK,
    EXIT_OK,
)
from ivs_replication_cli.status import JSON_VERSION
from ivs_replication_handler import contract as c
from tests.local.deployed_stack import STACK, DeployedWorld


def verdicts(world: DeployedWorld, document: dict) -> dict[tuple[str, str], str]:
    """(participant, destination stage's logical id) -> verdict."""
    names = {world.arn(stage): stage for stage in ("Side", "Other")}
    return {
        (r["participantId"], names[r["destinationStageArn"]]): r["verdict"]
        for r in document["replications"]
    }


def stop_out_of_band(world: DeployedWorld, destination: str) -> None:
    world.ivs_endpoint.client().stop_participant_replication(
        sourceStageArn=world.arn("Main"),
        destinationStageArn=world.arn(destination),
        participantId="host-1",
    )


def test_nobody_publishing_is_waiting_for_the_publisher_and_exits_0(world: DeployedWorld):
    code, document = world.status_json()

    assert code == EXIT_OK
    assert document["version"] == JSON_VERSION
    assert document["stack"] == STACK
    assert document["region"] == "us-east-1"  # the SDK's, as no --region was given
    assert set(verdicts(world, document).values()) == {"waiting"}
    assert all(r["publisherLive"] is False for r in document["replications"])
    assert all(r["mode"] == c.MODE_FOLLOW for r in document["replications"])
    assert document["summary"] == {"ok": 0, "waiting": 3, "drift": 0, "not-created": 0}


def test_a_stopped_replica_of_a_live_publisher_is_drift_until_reconcile_starts_it(
    world: DeployedWorld,
):
    """The acceptance story: drift exits non-zero; after `reconcile --local`, ok and 0."""
    world.ivs_endpoint.publish(world.arn("Main"), "host-1")  # the rule starts both replicas
    code, document = world.status_json()
    assert code == EXIT_OK
    healthy = {
        ("host-1", "Side"): "ok",
        ("host-1", "Other"): "ok",
        ("guest-1", "Side"): "waiting",
    }
    assert verdicts(world, document) == healthy

    stop_out_of_band(world, "Side")
    code, document = world.status_json()
    assert code == EXIT_DRIFT
    assert verdicts(world, document) == {**healthy, ("host-1", "Side"): "drift"}
    assert document["drift"] is True
    world.expect_stack_reads()
    code, table, _ = world.run("status", "--stack-name", STACK)
    assert code == EXIT_DRIFT
    [drift_line] = [line for line in table.splitlines() if line.endswith("drift")]
    assert drift_line.startswith("HostToSide")
    assert "host-1" in drift_line
    assert " yes " in drift_line  # the publisher is live
    assert "STOPPED" in drift_line

    world.expect_stack_reads()
    level = logging.getLogger(c.LOGGER_SERVICE).level
    code, report, _ = world.run("reconcile", "--stack-name", STACK, "--local")
    assert code == EXIT_OK
    # Only the command's own lines on stdout (the reconciler's logs go to stderr), and the
    # functions' logging is as it was.
    assert not [line for line in report.splitlines() if line.startswith("{")]
    assert logging.getLogger(c.LOGGER_SERVICE).level == level
    assert "started: 1" in report
    assert f"{world.arn('Main')}|{world.arn('Side')}|host-1" in report

    code, document = world.status_json()
    assert code == EXIT_OK
    assert verdicts(world, document) == healthy


def test_the_table_has_a_header_and_one_aligned_line_per_replication(world: DeployedWorld):
    world.ivs_endpoint.publish(world.arn("Main"), "host-1")
    world.expect_stack_reads()
    code, table, err = world.run("status", "--stack-name", STACK)

    lines = table.splitlines()
    assert code == EXIT_OK
    assert err == ""
    assert lines[0].split() == ["REPLICATION", "MODE", "PUBLISHER", "LIVE", "REPLICA", "VERDICT"]
    assert len(lines) == 4
    verdict_column = lines[0].index("VERDICT")
    assert {line[verdict_column:] for line in lines[1:]} == {"ok", "waiting for the publisher"}


def test_the_json_document_names_every_field_of_a_replication(world: DeployedWorld):
    _, document = world.status_json()
    [guest] = [r for r in document["replications"] if r["participantId"] == "guest-1"]
    assert set(guest) == {
        "logicalId",
        "physicalId",
        "sourceStageArn",
        "destinationStageArn",
        "participantId",
        "mode",
        "publisherLive",
        "replicaState",
        "verdict",
    }
    assert guest["physicalId"] == f"{world.arn('Main')}|{world.arn('Side')}|guest-1"
    assert guest["replicaState"] is None
    assert document["drift"] is False


def test_reconcile_asks_the_stacks_reconciler_for_a_sweep_and_prints_what_it_started(
    world: DeployedWorld,
):
    [reconciler] = [
        lid
        for lid, r in world.template["Resources"].items()
        if r["Properties"].get("Handler") == c.RECONCILER_ENTRY_POINT
    ]
    function_name = world.deployment.physical_ids[reconciler]
    started = f"{world.arn('Main')}|{world.arn('Side')}|host-1"
    world.expect_stack_reads()
    world.expect_invoke(
        function_name,
        {
            "trigger": "sweep",
            "declarations": 3,
            "started": [started],
            "already_active": ["x"],
            "not_publishing": ["y"],
            "withdrawn": [],
            "failed": {},
            "ignored": None,
        },
    )

    code, out, _ = world.run("reconcile", "--stack-name", STACK)

    assert code == EXIT_OK
    assert f"Lambda function {function_name}" in out
    assert "3 declarations" in out
    assert f"started: 1\n  {started}" in out
    assert "failed: 0" in out


def test_a_reconciler_run_that_failed_exits_1_with_its_message(world: DeployedWorld):
    world.expect_stack_reads()
    function_name = next(
        world.deployment.physical_ids[lid]
        for lid, r in world.template["Resources"].items()
        if r["Properties"].get("Handler") == c.RECONCILER_ENTRY_POINT
    )
    world.expect_invoke(
        function_name,
        {"errorMessage": "1 of 3 declarations failed: throttled", "errorType": "ReconcileError"},
        error=True,
    )
    code, out, _ = world.run("reconcile", "--stack-name", STACK)
    assert code == EXIT_DRIFT
    assert "failed: 1 of 3 declarations failed: throttled" in out


def test_a_missing_stack_is_one_line_with_its_exit_code(world: DeployedWorld):
    world.cfn_stub.add_client_error(
        "list_stack_resources",
        service_error_code="ValidationError",
        service_message="Stack with id Nope does not exist",
        http_status_code=400,
        expected_params={"StackName": "Nope"},
    )
    code, out, err = world.run("status", "--stack-name", "Nope")
    assert code == EXIT_NO_STACK
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("ivs-replication: no stack named 'Nope'")


def test_access_denied_is_one_line_with_its_exit_code(world: DeployedWorld):
    world.cfn_stub.add_client_error(
        "list_stack_resources",
        service_error_code="AccessDenied",
        service_message="User is not authorized to perform: cloudformation:ListStackResources",
        http_status_code=403,
    )
    code, _, err = world.run("status", "--stack-name", STACK)
    assert code == EXIT_ACCESS_DENIED
    assert err.count("\n") == 1
    assert "access denied to ListStackResources" in err


def test_access_denied_by_ivs_is_the_same_exit_code(world: DeployedWorld):
    # An IVS client refused ListParticipantReplicas (a role without ivs:ListParticipantReplicas).
    ivs_client = world.ivs_endpoint.client()
    stub = Stubber(ivs_client)
    stub.add_client_error(
        "list_participant_replicas",
        service_error_code="AccessDeniedException",
        service_message="not allowed",
        http_status_code=403,
    )
    stub.activate()
    world.ivs_client = ivs_client
    world.expect_stack_reads()
    code, _, err = world.run("status", "--stack-name", STACK)
    assert code == EXIT_ACCESS_DENIED
    assert "access denied to ListParticipantReplicas" in err


def test_reconcile_of_a_stack_without_follow_mode_says_so(world: DeployedWorld):
    template = {
        "Resources": {
            k: v for k, v in world.template["Resources"].items() if v["Type"] == c.RESOURCE_TYPE
        }
    }
    world.cfn_stub.add_response(
        "list_stack_resources", {"StackResourceSummaries": []}, {"StackName": STACK}
    )
    world.cfn_stub.add_response(
        "get_template", {"TemplateBody": json.dumps(template)}, {"StackName": STACK}
    )
    code, _, err = world.run("reconcile", "--stack-name", STACK)
    assert code == EXIT_NO_RECONCILER
    assert "has no reconciler" in err
