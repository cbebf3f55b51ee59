"""cdk-nag's AwsSolutions pack finds nothing unacknowledged, and every acknowledgment is
specific: one rule, one finding, one resource, a reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks

from ivs_replication_handler import contract as c
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


@pytest.fixture(scope="module", params=sorted(STACKS))
def nagged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Each stack's template, synthesized once under cdk-nag for both tests."""
    name = request.param
    return synth_with_nag(STACKS[name], tmp_path_factory.mktemp(name))


def test_no_unacknowledged_findings(nagged: dict[str, Any]) -> None:
    # synth_with_nag fails the test on any unacknowledged finding.
    assert nagged["Resources"]


def test_every_acknowledgment_is_one_finding_on_one_resource_with_a_reason(
    nagged: dict[str, Any],
) -> None:
    rules = acknowledged_rules(nagged)

    # The stage pattern on the handler's policy (and the reconciler's, with follow mode), and
    # the framework's permission to invoke any version of the handler.
    follows = any(
        resource["Properties"].get("Handler") == c.RECONCILER_ENTRY_POINT
        for resource in nagged["Resources"].values()
    )
    assert len(rules) == (3 if follows else 2), rules
    assert len({logical_id for logical_id, _ in rules}) == len(rules), "one per policy"
    for logical_id, rule in rules:
        # "Pack::Rule[Finding]": a granular finding, never a whole rule for the resource.
        assert "[" in rule["id"], (logical_id, rule)
        assert rule["id"].endswith("]"), (logical_id, rule)
        assert nagged["Resources"][logical_id]["Type"] == "AWS::IAM::Policy", logical_id
        assert len(rule["reason"]) > 60, (logical_id, rule)
    assert {r["id"].split("[")[0] for _, r in rules} == {"AwsSolutions::AwsSolutions-IAM5"}
