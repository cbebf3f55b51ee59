"""The README's test-file examples ("Testing your own stacks", "Refactors and several stacks")
pass as written, from a directory of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.readme import python_block

MARKER = "<!-- test: user-stack -->"

pytestmark = pytest.mark.slow


def test_the_readme_example_passes_from_a_directory_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "test_live_stack.py").write_text(python_block(after=MARKER), encoding="utf-8")
    # As a user's shell has it: no PYTHONPATH into this repository, and no AWS settings at all
    # (the harness gives its clients explicit local endpoints and dummy credentials).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("AWS_")}

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_live_stack.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout


SEVERAL_STACKS = "<!-- test: several-stacks -->"


def test_the_two_stack_example_passes_from_a_directory_of_its_own(tmp_path: Path) -> None:
    """The README's "Refactors and several stacks" example (stages in one stack, replications
    in another), deployed locally as the reader runs it."""
    (tmp_path / "test_live_app.py").write_text(python_block(after=SEVERAL_STACKS), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("AWS_")}

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_live_app.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout
