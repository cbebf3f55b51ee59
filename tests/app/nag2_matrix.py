"""The gate matrix under cdk-nag 2, run by tests/app/test_cdk_nag2.py in the virtual environment
of its own (``.venv-nag2``, made by ``make setup``: cdk-nag 2 and 3 cannot share one).

For every configuration (tests/configurations.py) it synthesizes the gate app
(tests/app/gate_stacks.py) with cdk-nag 2's five packs as aspects, and prints one JSON
document: per configuration, what the packs reported (their CSV reports: non-compliant and
unknown findings, and the suppressed ones) and every ``cdk_nag`` suppression the app's
resources carry. The test judges it with tests/app/nag_gate.py, as the cdk-nag 3 gate does.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.metadata
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NagReportFormat,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)

from tests.app.gate_stacks import MATRIX_STAGE, gate_matrix_app
from tests.app.nag_gate import PACKS
from tests.configurations import CONFIGURATIONS, Configuration

PLUGINS = (
    AwsSolutionsChecks,
    ServerlessChecks,
    NIST80053R5Checks,
    HIPAASecurityChecks,
    PCIDSS321Checks,
)
REPORTED = ("Non-Compliant", "UNKNOWN")


def nag(configuration: Configuration) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"nag2-{configuration.name}-") as outdir:
        app = gate_matrix_app(configuration, outdir)
        # On the stage: an app's aspects do not reach into a nested stage (cdk-nag's README).
        stage = app.node.find_child(MATRIX_STAGE)
        for plugin in PLUGINS:
            cdk.Aspects.of(stage).add(plugin(reports=True, report_formats=[NagReportFormat.CSV]))
        # With the recommended flags, the packs' errors (annotations) fail the synth's
        # validation; the reports below hold them.
        with contextlib.suppress(RuntimeError):
            app.synth()
        found: list[list[str]] = []
        suppressed: list[list[str]] = []
        for report in sorted(Path(outdir).glob("*-NagReport.csv")):
            pack = next(p for p in PACKS if report.name.startswith(f"{p}-"))
            with report.open(newline="", encoding="utf-8") as rows:
                for row in csv.DictReader(rows):
                    entry = [pack, row["Rule ID"], row["Resource ID"]]
                    if row["Compliance"] in REPORTED:
                        found.append(entry)
                    elif row["Compliance"] == "Suppressed":
                        suppressed.append(entry)
    return {"found": found, "suppressed": suppressed, "acknowledged": suppressions(app)}


def suppressions(app: cdk.App) -> list[list[Any]]:
    """[path, id, reason, applies_to] of every cdk_nag suppression on a resource of `app`."""
    return [
        [construct.node.path, rule["id"], rule["reason"], rule.get("applies_to")]
        for construct in app.node.find_all()
        if isinstance(construct, cdk.CfnResource)
        for rule in (construct.get_metadata("cdk_nag") or {}).get("rules_to_suppress", [])
    ]


def main() -> int:
    versions = {name: importlib.metadata.version(name) for name in ("aws-cdk-lib", "cdk-nag")}
    results = {configuration.name: nag(configuration) for configuration in CONFIGURATIONS}
    print(json.dumps({"versions": versions, "configurations": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
