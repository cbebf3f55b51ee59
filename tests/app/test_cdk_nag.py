"""cdk-nag's AwsSolutions and Serverless packs find nothing unacknowledged, and every
acknowledgment is specific: one rule (one finding, where the rule has findings), one resource,
a reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from ivs_replication_handler import contract as c
from tests.app.gate_stacks import NO_BUNDLING, STACKS

pytestmark = pytest.mark.slow


def synth_with_nag(build: Any, outdir: Path) -> dict[str, Any]:
    app = cdk.App(outdir=str(outdir), context=NO_BUNDLING)
    stack = build(app)
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True),
        ServerlessChecks(app, write_suppressions_to_cloud_formation=True),
    )
    try:
        app.synth()
    except RuntimeError as error:
        report = (outdir / "validation-report.json").read_text()
        pytest.fail(f"cdk-nag findings: {error}\n{report}")
    return json.loads((outdir / f"{stack.stack_name}.template.json").read_text())


def acknowledged_rules(template: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    return [
        (logical_id, rule)
        for logical_id, resource in template["Resources"].items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]


@pytest.fixture(scope="module", params=sorted(STACKS))
def nagged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Each stack's template, synthesized once under cdk-nag for both tests."""
    name = request.param
    return synth_with_nag(STACKS[name], tmp_path_factory.mktemp(name))


def test_no_unacknowledged_findings(nagged: dict[str, Any]) -> None:
    # synth_with_nag fails the test on any unacknowledged finding.
    assert nagged["Resources"]


# The rules acknowledged whole (they have no findings), and the resource type each may be on.
WHOLE_RULES = {
    # The provider's functions answer CloudFormation; the reconciler has an on-failure
    # destination instead of a DeadLetterConfig.
    "Serverless::Serverless-LambdaDLQ": "AWS::Lambda::Function",
    # X-Ray would need Resource "*".
    "Serverless::Serverless-LambdaTracing": "AWS::Lambda::Function",
    # The dead-letter queue itself.
    "AwsSolutions::AwsSolutions-SQS3": "AWS::SQS::Queue",
    "Serverless::Serverless-SQSRedrivePolicy": "AWS::SQS::Queue",
    # The compliance packs' versions of the functions' no-DLQ finding, and each role's one
    # inline policy.
    "NIST.800.53.R5::NIST.800.53.R5-LambdaDLQ": "AWS::Lambda::Function",
    "HIPAA.Security::HIPAA.Security-LambdaDLQ": "AWS::Lambda::Function",
    "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy": "AWS::IAM::Policy",
    "HIPAA.Security::HIPAA.Security-IAMNoInlinePolicy": "AWS::IAM::Policy",
    "PCI.DSS.321::PCI.DSS.321-IAMNoInlinePolicy": "AWS::IAM::Policy",
    "NIST.800.53.R5::NIST.800.53.R5-DynamoDBInBackupPlan": "AWS::DynamoDB::Table",
    "HIPAA.Security::HIPAA.Security-DynamoDBInBackupPlan": "AWS::DynamoDB::Table",
}


def test_every_acknowledgment_is_one_finding_on_one_resource_with_a_reason(
    nagged: dict[str, Any],
) -> None:
    rules = acknowledged_rules(nagged)
    follows = any(
        resource["Properties"].get("Handler") == c.RECONCILER_ENTRY_POINT
        for resource in nagged["Resources"].values()
    )
    functions = 3 if follows else 2  # handler, framework (, reconciler)
    policies = [(lid, rule) for lid, rule in rules if rule["id"].endswith("]")]
    whole = [(lid, rule) for lid, rule in rules if not rule["id"].endswith("]")]

    # The stage pattern on the handler's policy (and the reconciler's, with follow mode), and
    # the framework's permission to invoke any version of the handler: one per policy.
    assert len(policies) == functions, policies
    assert len({logical_id for logical_id, _ in policies}) == len(policies), "one per policy"
    for logical_id, rule in policies:
        assert rule["id"].startswith("AwsSolutions::AwsSolutions-IAM5["), (logical_id, rule)
        assert nagged["Resources"][logical_id]["Type"] == "AWS::IAM::Policy", logical_id
    # Per function: no DLQ (three packs) and no tracing, each for its reason; per role, its
    # inline policy (three packs); the queue's two and the table's two with follow.
    assert len(whole) == 4 * functions + 3 * functions + (4 if follows else 0), whole
    assert len(set((lid, r["id"]) for lid, r in whole)) == len(whole), "no duplicate"
    for logical_id, rule in whole:
        assert rule["id"] in WHOLE_RULES, (logical_id, rule)
        assert nagged["Resources"][logical_id]["Type"] == WHOLE_RULES[rule["id"]], logical_id
    for logical_id, rule in rules:
        assert len(rule["reason"]) > 60, (logical_id, rule)
