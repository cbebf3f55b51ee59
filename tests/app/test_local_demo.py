"""`make demo`'s main job: app.py synthesized by the CDK CLI, deployed locally with nobody
publishing, its replications following the encoder in and out, a lost event caught up by the
sweep, and the stack deleted."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from example import local_demo
from ivs_replication_handler.contract import LOGGER_SERVICE

REPO = Path(__file__).resolve().parents[2]
SIDES = ("side-1", "side-2", "side-3")


def section(output: str, number: int) -> str:
    """The lines printed by step `number` of the demo."""
    match = re.search(rf"^\[{number}/\d+\].*?(?=^\[\d+/\d+\]|\Z)", output, re.M | re.S)
    assert match, f"step {number} missing from:\n{output}"
    return match.group(0)


def all_in(state: str) -> str:
    return ", ".join(f"{side} {state}" for side in SIDES)


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


@pytest.fixture(scope="module")
def output(demo_run: subprocess.CompletedProcess[str]) -> str:
    assert demo_run.returncode == 0, f"{demo_run.stdout}\n{demo_run.stderr}"
    return demo_run.stdout


@pytest.mark.slow
def test_the_stack_deploys_with_nobody_publishing(output: str) -> None:
    synth = section(output, 1)
    assert "1 AWS::IVS::IngestConfiguration, 3 Custom::IvsParticipantReplication" in synth
    assert "2 AWS::Events::Rule" in synth

    deploy = section(output, 3)
    participant = re.search(r"IVS gave it participant id (\w+)", deploy)
    assert participant, deploy
    for side in SIDES:
        assert f"replication into {side}: Create succeeded with nobody publishing (FOLLOW" in deploy
    assert "the registry holds 3 declarations" in deploy
    assert "the stack's one rule on Participant Published (1 stage(s), 1 participant(s)" in deploy
    assert "rule on the schedule rate(5 minutes)" in deploy
    assert f"side stages: {all_in('none')}" in deploy


@pytest.mark.slow
def test_the_replications_follow_the_encoder_out_and_back_in(output: str) -> None:
    for number in (4, 6):  # first publish, and back after the window
        published = section(output, number)
        assert "PublishedRule invoked the reconciler: it started 3 replication(s)" in published
        assert f"-> {all_in('ACTIVE')}" in published

    away = section(output, 5)
    assert "31 s pass (reconnect window 30 s)" in away
    assert f"-> {all_in('STOPPED')}" in away


@pytest.mark.slow
def test_a_lost_event_is_caught_up_by_the_sweep(output: str) -> None:
    lost = section(output, 7)

    assert "EventBridge lost the event for rule" in lost
    assert "Follow/PublishedRule" in lost
    assert f"still {all_in('STOPPED')}" in lost
    assert "rule Sweep/Schedule invoked the reconciler: it started 3 replication(s)" in lost
    assert lost.rstrip().endswith(all_in("ACTIVE"))


@pytest.mark.slow
def test_deleting_the_stack_stops_everything_and_leaves_nothing(output: str) -> None:
    delete = section(output, 8)

    assert "the 2 rules: " in delete
    assert "withdrew each declaration and called StopParticipantReplication x3" in delete
    assert f"{all_in('STOPPED')}; no rule left, no table left" in delete
    final = section(output, 9)
    for side in SIDES:
        assert re.search(rf"-> {side}\s+main\s+{side}\s+\w+\s+STOPPED$", final, re.M), final
    assert "Demo complete" in output


@pytest.mark.slow
def test_the_demo_output_stays_readable_and_leaks_nothing(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    output = demo_run.stdout + demo_run.stderr
    assert "local-secret" not in output  # the ResponseURL's signature
    assert not [line for line in output.splitlines() if line.lstrip().startswith("{")]
    assert "POST /" not in output  # no request log from the local endpoints


def _handler_loggers() -> dict[str, logging.Logger]:
    names = [LOGGER_SERVICE, *logging.root.manager.loggerDict]
    return {name: logging.getLogger(name) for name in names if name.split(".")[0] == LOGGER_SERVICE}


@pytest.fixture
def handler_log_levels_restored() -> Iterator[None]:
    """`main` quiets the handlers' loggers for its whole process (the demo's own, when run as
    `make demo`): in this one, later tests of what the handler logs would see nothing."""
    levels = {name: logger.level for name, logger in _handler_loggers().items()}
    yield
    for name, logger in _handler_loggers().items():
        logger.setLevel(levels.get(name, logging.NOTSET))


@pytest.mark.usefixtures("handler_log_levels_restored")
def test_a_failing_step_is_reported_with_its_reason_and_exit_status_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No CLI here: the template is handed over directly, with a type it cannot deploy."""
    template: dict[str, Any] = {
        "Resources": {
            "Stage": {"Type": "AWS::IVS::Stage"},
            "Bucket": {"Type": "AWS::S3::Bucket"},
        }
    }
    monkeypatch.setattr(local_demo, "synthesize", lambda _out_dir: template)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")  # the demo sets it if unset

    status = local_demo.main()

    output = capsys.readouterr().out
    assert status == 1
    assert "DEMO FAILED: UnsupportedTemplateError" in output
    assert "Resource Bucket, property Type: AWS::S3::Bucket" in output
