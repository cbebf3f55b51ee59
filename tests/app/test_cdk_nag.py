"""cdk-nag 3 over users' configurations: in every environment, partition and feature-flag
setting (tests/configurations.py), the gate stacks and the README's organisation stack pass
AwsSolutions and Serverless with nothing unacknowledged, and the NIST 800-53 R5, HIPAA Security
and PCI DSS 3.2.1 packs find only what a documented setting removes (tests/app/nag_gate.py);
every acknowledgment the library writes is one rule (or one finding of it) on one resource,
with a reason, and cdk-nag needed each of them.

Each configuration's app is synthesized once, with all five packs."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)

from tests.app.gate_stacks import gate_matrix_app
from tests.app.nag_gate import (
    FIXED_BY_SETTING,
    PACKS,
    Found,
    fixed_by_setting_found,
    rejected,
)
from tests.configurations import CONFIGURATIONS, Configuration

pytestmark = pytest.mark.slow

PLUGINS = (
    AwsSolutionsChecks,
    ServerlessChecks,
    NIST80053R5Checks,
    HIPAASecurityChecks,
    PCIDSS321Checks,
)


@dataclass(frozen=True)
class Nagged:
    """What cdk-nag 3 said of one configuration's app, and what the app acknowledged."""

    found: list[Found]
    # (construct path, acknowledgment id) of every acknowledgment cdk-nag needed.
    used: set[tuple[str, str]]
    # (construct path, acknowledgment id, reason) of every acknowledgment in the app.
    acknowledged: set[tuple[str, str, str]]


def nag(configuration: Configuration, outdir: Path) -> Nagged:
    app = gate_matrix_app(configuration, str(outdir))
    cdk.Validations.of(app).add_plugins(*(plugin(app) for plugin in PLUGINS))
    # The report goes to stdout and stderr too; the file holds the same.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            app.synth()
        except RuntimeError as error:
            if not (outdir / "validation-report.json").exists():
                raise AssertionError(f"synth failed before validation: {error}") from error
    report = json.loads((outdir / "validation-report.json").read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    # CDK's own CloudFormation check says IVS has no resource types in aws-cn and aws-us-gov
    # (F3006): not cdk-nag's, and not the library's to change.
    assert set(PACKS) <= set(plugins), sorted(plugins)
    found = [
        Found(pack, violation["ruleName"], construct["constructPath"])
        for pack in PACKS
        for violation in plugins[pack]["violations"]
        for construct in violation["violatingConstructs"]
    ]
    used = {
        (suppressed["acknowledgedAt"], suppressed["acknowledgedId"])
        for pack in PACKS
        for suppressed in plugins[pack]["suppressedViolations"]
    }
    return Nagged(found, used, acknowledgments(app))


def acknowledgments(app: cdk.App) -> set[tuple[str, str, str]]:
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    return {
        (construct.node.path, rule_id, reason)
        for construct in app.node.find_all()
        for entry in construct.node.metadata
        if entry.type == key
        for rule_id, reason in entry.data.items()
    }


def library(path: str) -> bool:
    return "/IvsParticipantReplicationProvider/" in path or "/Operators/" in path


# One test per configuration, so each app is synthesized once whatever worker runs it.
@pytest.mark.parametrize("configuration", CONFIGURATIONS, ids=lambda c: c.name)
def test_the_configuration_passes_every_pack(configuration: Configuration, tmp_path: Path) -> None:
    nagged = nag(configuration, tmp_path)

    # Nothing unacknowledged but what a documented setting removes, on the library's defaults.
    assert rejected(nagged.found) == []
    # The README's table of findings a setting removes stays true.
    assert fixed_by_setting_found(nagged.found) == FIXED_BY_SETTING
    # The organisation stack, configured, passes every pack.
    assert [f for f in nagged.found if "/Governed/" in f"/{f.path}"] == []
    assert_acknowledgments_are_specific_and_needed(nagged)


def assert_acknowledgments_are_specific_and_needed(nagged: Nagged) -> None:
    """Each of the library's acknowledgments is one rule (or one finding of IAM5) on one
    CloudFormation resource, with a reason, and cdk-nag needed it: one whose finding id no
    longer matches what the template renders (a partition literal, a concrete region) would
    go unused, and leave its finding reported."""
    ours = [(p, i, r) for p, i, r in nagged.acknowledged if library(p)]
    assert ours
    for path, rule_id, reason in ours:
        pack, _, rule = rule_id.partition("::")
        assert pack in PACKS, rule_id
        assert rule.startswith(f"{pack}-"), rule_id
        assert path.endswith("/Resource"), path  # never on a whole subtree
        assert len(reason) > 60, (rule_id, reason)
        assert (path, rule_id) in nagged.used, f"not needed: {rule_id} on {path}"
    findings = [rule_id for _, rule_id, _ in ours if "[" in rule_id]
    assert findings
    assert all(rule_id.startswith("AwsSolutions::AwsSolutions-IAM5[") for rule_id in findings)
