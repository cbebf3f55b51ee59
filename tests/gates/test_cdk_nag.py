"""cdk-nag's AwsSolutions pack finds nothing unacknowledged, and every acknowledgment is
specific: one rule, one finding, one resource, a reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks

from tests.gates.stacks import NO_BUNDLING, STACKS

pytestmark = pytest.mark.slow


def synth_with_nag(build: Any, outdir: Path) -> dict[str, Any]:
    app = cdk.App(outdir=str(outdir), context=NO_BUNDLING)
    stack = build(app)
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)
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


@pytest.mark.parametrize("name", sorted(STACKS))
def test_no_unacknowledged_findings(name: str, tmp_path: Path) -> None:
    template = synth_with_nag(STACKS[name], tmp_path)

    assert template["Resources"]


@pytest.mark.parametrize("name", sorted(STACKS))
def test_every_acknowledgment_is_one_finding_on_one_resource_with_a_reason(
    name: str, tmp_path: Path
) -> None:
    template = synth_with_nag(STACKS[name], tmp_path)
    rules = acknowledged_rules(template)

    assert rules, "expected the provider's two intended IAM5 findings to be acknowledged"
    for logical_id, rule in rules:
        # "Pack::Rule[Finding]": a granular finding, never a whole rule for the resource.
        assert "[" in rule["id"], (logical_id, rule)
        assert rule["id"].endswith("]"), (logical_id, rule)
        assert template["Resources"][logical_id]["Type"] == "AWS::IAM::Policy", logical_id
        assert len(rule["reason"]) > 60, (logical_id, rule)
    assert {r["id"].split("[")[0] for _, r in rules} == {"AwsSolutions::AwsSolutions-IAM5"}
