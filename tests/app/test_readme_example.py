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


MIRROR_A_STAGE = "<!-- test: mirror-a-stage -->"


def test_the_mirror_example_passes_from_a_directory_of_its_own(tmp_path: Path) -> None:
    """The README's "Mirror a stage" example (hosts mirrored into audience stages, a
    moderator left out by user id), deployed locally as the reader runs it."""
    (tmp_path / "test_audience.py").write_text(python_block(after=MIRROR_A_STAGE), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("AWS_")}

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_audience.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout


VS_MODE = "<!-- test: vs-mode -->"


def test_the_vs_mode_snippet_synthesizes_two_mirrors_that_fit_one_rule() -> None:
    """The README's VS-mode lines, run in a stack as written: two mirror resources, and the
    stack's one rule matches both stages (any participant)."""
    import aws_cdk as cdk
    from aws_cdk import aws_ivs as ivs
    from aws_cdk.assertions import Template

    from ivs_replication import StageMirror

    class VsModeStack(cdk.Stack):
        def __init__(self, scope: cdk.App) -> None:
            super().__init__(scope, "VsMode")
            exec(
                python_block(after=VS_MODE), {"self": self, "ivs": ivs, "StageMirror": StageMirror}
            )

    template = Template.from_stack(VsModeStack(cdk.App(context={"aws:cdk:bundling-stacks": []})))
    template.resource_count_is("Custom::IvsStageMirror", 2)
    [rule] = template.find_resources("AWS::Events::Rule").values()
    assert "participant_id" not in rule["Properties"]["EventPattern"]["detail"]
