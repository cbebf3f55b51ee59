"""cdk-nag 2 over users' configurations (the Aspects API, and the `cdk_nag` metadata its
`NagSuppressions` writes, which the library writes without importing cdk-nag): the same gate
matrix and the same judgement as the cdk-nag 3 gate (tests/app/nag_gate.py), synthesized in
the virtual environment of its own that `make setup` makes (`.venv-nag2`: cdk-nag 2 and 3
cannot share one) by tests/app/nag2_matrix.py, in one process for every configuration."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.app.nag_gate import (
    FIXED_BY_SETTING,
    LIBRARY_PATH,
    Found,
    fixed_by_setting_found,
    rejected,
)
from tests.configurations import CONFIGURATIONS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NAG2_PYTHON = ROOT / ".venv-nag2" / "bin" / "python"


def run_the_matrix() -> dict[str, Any]:
    assert NAG2_PYTHON.exists(), f"{NAG2_PYTHON} is missing: run `make setup` (it makes it)"
    # The repository's packages as the checkout holds them, nothing of this environment's.
    path = os.pathsep.join(str(ROOT / part) for part in (".", "constructs", "lambda/replication"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    result = subprocess.run(
        [str(NAG2_PYTHON), "-m", "tests.app.nag2_matrix"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    document: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return document


# One test, one process for every configuration: jsii's start is paid once.
def test_every_configuration_passes_every_pack_under_cdk_nag_2() -> None:
    nag2 = run_the_matrix()
    assert nag2["versions"]["cdk-nag"].startswith("2.")
    assert nag2["versions"]["aws-cdk-lib"] == importlib.metadata.version("aws-cdk-lib")
    assert set(nag2["configurations"]) == {c.name for c in CONFIGURATIONS}
    for name, result in nag2["configurations"].items():
        found = [Found(*entry) for entry in result["found"]]
        assert rejected(found, judge_users_resources=False) == [], name
        assert fixed_by_setting_found(found) == FIXED_BY_SETTING, name
        assert_suppressions_are_read_and_needed(name, result)


def assert_suppressions_are_read_and_needed(name: str, result: dict[str, Any]) -> None:
    """cdk-nag 2's own format: a rule id, a reason, one finding id in `applies_to` for a
    rule with findings; each one suppressed a finding cdk-nag 2 reported."""
    suppressed = {(path, rule.split("[", 1)[0]) for _, rule, path in result["suppressed"]}
    ours = [entry for entry in result["acknowledged"] if LIBRARY_PATH in entry[0]]
    assert ours, name
    for path, rule, reason, applies_to in ours:
        assert (path, rule) in suppressed, (name, path, rule)
        assert "[" not in rule, rule
        assert len(reason) > 60, (rule, reason)
        assert applies_to is None or (len(applies_to) == 1 and rule == "AwsSolutions-IAM5")
