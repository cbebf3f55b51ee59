"""A deployed stack for the CLI, with no AWS: a synthesized follow-mode template deployed by
`TemplateDeployment` on the IVS emulator and moto's DynamoDB, and CloudFormation answered by a
botocore Stubber (pinned to botocore's model) from that deployment: every client the CLI uses
is a real boto3 client."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ivs as ivs
from botocore.response import StreamingBody
from botocore.stub import Stubber

from ivs_realtime_emulator import IvsRealtimeEmulator
from ivs_replication import (
    ParticipantReplication,
    ReplicationProvider,
    ReplicationSweep,
    WhenNotPublishing,
)
from ivs_replication.testing import LocalDynamoDB, TemplateDeployment
from ivs_replication_cli.main import main
from ivs_replication_handler import contract as c

STACK = "LiveStack"
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


def live_stack_template(
    *, ivs_calls_per_second: float | None = None, operators: bool = False
) -> dict[str, Any]:
    """host-1 followed from Main into Side and Other; guest-1 followed from Main into Side.
    ``ivs_calls_per_second`` Default: the construct's pace is left as it is (5 per second).
    ``operators`` Default: False; True adds the roles OPERATOR_ROLES, granted `status` (after
    the replications) and `reconcile` (before them: the grant follows the follow mode)."""
    app = cdk.App(context=NO_BUNDLING)
    stack = cdk.Stack(app, STACK)
    if operators:
        ReplicationProvider.of(stack).grant_reconcile(operator(stack, "ReconcileOperators"))
    if ivs_calls_per_second is not None:
        ReplicationProvider.of(stack).pace_ivs_calls(calls_per_second=ivs_calls_per_second)
    main_stage = ivs.CfnStage(stack, "Main", name="main")
    side = ivs.CfnStage(stack, "Side", name="side")
    other = ivs.CfnStage(stack, "Other", name="other")
    follow = WhenNotPublishing.follow()
    for construct_id, destination, participant in (
        ("HostToSide", side, "host-1"),
        ("HostToOther", other, "host-1"),
        ("GuestToSide", side, "guest-1"),
    ):
        ParticipantReplication(
            stack,
            construct_id,
            source_stage=main_stage,
            destination_stage=destination,
            participant_id=participant,
            when_not_publishing=follow,
        )
    ReplicationSweep(stack, "Sweep")
    if operators:
        ReplicationProvider.of(stack).grant_status(operator(stack, "StatusOperators"))
    return app.synth().get_stack_by_name(STACK).template  # type: ignore[no-any-return]


OPERATOR_ROLES = ("StatusOperators", "ReconcileOperators")


def operator(stack: cdk.Stack, construct_id: str) -> iam.Role:
    return iam.Role(stack, construct_id, assumed_by=iam.AccountRootPrincipal())


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return live_stack_template()


@dataclass
class DeployedWorld:
    """The deployed stack and the clients the CLI gets."""

    template: dict[str, Any]
    deployment: TemplateDeployment
    ivs_endpoint: IvsRealtimeEmulator
    dynamodb: LocalDynamoDB
    cloudformation: Any = field(default_factory=lambda: boto3.client("cloudformation"))
    lambda_client: Any = field(default_factory=lambda: boto3.client("lambda"))

    def __post_init__(self) -> None:
        self.cfn_stub = Stubber(self.cloudformation)
        self.cfn_stub.activate()
        self.lambda_stub = Stubber(self.lambda_client)
        self.lambda_stub.activate()
        self.ivs_client = self.ivs_endpoint.client()
        self._dynamodb_client = self.dynamodb.client()

    def logical_id(self, prefix: str) -> str:
        [found] = [lid for lid in self.template["Resources"] if lid.startswith(prefix)]
        return found

    def arn(self, stage: str) -> str:
        return self.deployment.physical_ids[self.logical_id(stage)]

    def client(self, service: str) -> Any:
        return {
            "cloudformation": self.cloudformation,
            "ivs-realtime": self.ivs_client,
            "dynamodb": self._dynamodb_client,
            "lambda": self.lambda_client,
        }[service]

    def expect_stack_reads(self, stack_name: str = STACK) -> None:
        """The CloudFormation calls of one command: ListStackResources, then GetTemplate."""
        now = datetime.now(UTC)
        types = {lid: r["Type"] for lid, r in self.template["Resources"].items()}
        summaries = [
            {
                "LogicalResourceId": logical_id,
                "PhysicalResourceId": physical_id,
                "ResourceType": types[logical_id],
                "LastUpdatedTimestamp": now,
                "ResourceStatus": "CREATE_COMPLETE",
            }
            for logical_id, physical_id in self.deployment.physical_ids.items()
        ]
        self.cfn_stub.add_response(
            "list_stack_resources", {"StackResourceSummaries": summaries}, {"StackName": stack_name}
        )
        self.cfn_stub.add_response(
            "get_template", {"TemplateBody": json.dumps(self.template)}, {"StackName": stack_name}
        )

    def expect_invoke(self, function_name: str, payload: object, *, error: bool = False) -> None:
        body = json.dumps(payload).encode()
        response: dict[str, Any] = {
            "StatusCode": 200,
            "Payload": StreamingBody(io.BytesIO(body), len(body)),
        }
        if error:
            response["FunctionError"] = "Unhandled"
        self.lambda_stub.add_response(
            "invoke",
            response,
            {
                "FunctionName": function_name,
                "InvocationType": "RequestResponse",
                "Payload": json.dumps({c.SWEEP_INPUT_KEY: True}).encode(),
            },
        )

    def run(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), clients=self.client, out=out, err=err)
        return code, out.getvalue(), err.getvalue()

    def status_json(self) -> tuple[int, dict[str, Any]]:
        self.expect_stack_reads()
        code, out, _ = self.run("status", "--stack-name", STACK, "--json")
        return code, json.loads(out)


@contextmanager
def deployed(
    template: dict[str, Any], local_ivs: IvsRealtimeEmulator, dynamodb: LocalDynamoDB
) -> Iterator[DeployedWorld]:
    """`template` deployed locally as stack STACK, deleted again after the test."""
    deployment = TemplateDeployment(template, ivs=local_ivs, dynamodb=dynamodb, stack_name=STACK)
    deployment.deploy()
    built = DeployedWorld(template, deployment, local_ivs, dynamodb)
    try:
        yield built
    finally:
        built.cfn_stub.assert_no_pending_responses()
        built.lambda_stub.assert_no_pending_responses()
        deployment.delete()


@pytest.fixture
def world(
    local_ivs: IvsRealtimeEmulator, dynamodb: LocalDynamoDB, template: dict[str, Any]
) -> Iterator[DeployedWorld]:
    with deployed(template, local_ivs, dynamodb) as built:
        yield built
