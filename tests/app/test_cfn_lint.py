"""cfn-lint reports neither errors nor warnings on any template this project synthesizes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest

from tests.app.gate_stacks import NO_BUNDLING, STACKS

pytestmark = pytest.mark.slow

CFN_LINT = Path(sys.executable).parent / "cfn-lint"


@pytest.mark.parametrize("name", sorted(STACKS))
def test_cfn_lint_is_clean(name: str, tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path), context=NO_BUNDLING)
    stack = STACKS[name](app)
    app.synth()
    template = tmp_path / f"{stack.stack_name}.template.json"

    # Exit codes: 0 clean; 2 errors, 4 warnings, 8 informational (bit flags).
    result = subprocess.run(
        [str(CFN_LINT), "--format", "parseable", str(template)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
