"""`make demo`'s main job: app.py synthesized by the CDK CLI, its replication created, changed
and removed through the real handler against the local endpoint."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from example import local_demo

REPO = Path(__file__).resolve().parents[2]


def section(output: str, number: int) -> str:
    """The lines printed by step `number` of the demo."""
    match = re.search(rf"^\[{number}/\d+\].*?(?=^\[\d+/\d+\]|\Z)", output, re.M | re.S)
    assert match, f"step {number} missing from:\n{output}"
    return match.group(0)


@pytest.fixture(scope="module")
def demo_run() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "example.local_demo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_the_demo_succeeds_and_walks_the_whole_lifecycle(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    output = demo_run.stdout
    assert demo_run.returncode == 0, f"{output}\n{demo_run.stderr}"

    create = section(output, 4)
    assert "StartParticipantReplication x1" in create
    assert "IVS lists the replica as ACTIVE" in create

    update = section(output, 5)
    assert "StopParticipantReplication x1, StartParticipantReplication x1" in update
    assert "same physical id" in update
    assert "ACTIVE; attribute keys now on the replica: mood, role" in update

    window = section(output, 6)
    assert "29 s pass (window 30 s): still ACTIVE" in window
    assert "publishes again within the window: ACTIVE" in window
    assert "31 s pass: STOPPED" in window

    delete = section(output, 7)
    assert "-> ACTIVE" in delete
    assert "STOPPED, no ACTIVE replica left" in delete
    assert re.search(r"HostIntoSideStage\w*\s+\"main\"\s+\"side\"\s+host-1\s+STOPPED", output)


@pytest.mark.slow
def test_the_demo_output_stays_readable_and_leaks_nothing(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    output = demo_run.stdout + demo_run.stderr
    assert "local-secret" not in output  # the ResponseURL's signature
    assert not [line for line in output.splitlines() if line.lstrip().startswith("{")]


def test_a_failing_step_is_reported_with_its_reason_and_exit_status_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No CLI here: the template is handed over directly, with an intrinsic it cannot resolve."""
    template: dict[str, Any] = {
        "Resources": {
            "Stage": {"Type": "AWS::IVS::Stage"},
            "Replication": {
                "Type": "Custom::IvsParticipantReplication",
                "Properties": {"SourceStageArn": {"Fn::Join": ["", ["arn"]]}},
            },
        }
    }
    # Everything the demo sets for the handler goes back to what it was after the test.
    touched = ("AWS_ENDPOINT_URL_IVS_REALTIME", "AWS_SESSION_TOKEN")
    for name in (*local_demo.HANDLER_ENVIRONMENT, *touched):
        monkeypatch.setenv(name, "placeholder")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    monkeypatch.setattr(local_demo, "synthesize", lambda _out_dir: template)

    status = local_demo.main()

    output = capsys.readouterr().out
    assert status == 1
    assert "DEMO FAILED: UnsupportedTemplateError" in output
    assert "Resource Replication, property SourceStageArn: Fn::Join" in output
