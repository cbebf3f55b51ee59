"""`make demo`'s main job: app.py synthesized by the CDK CLI, deployed locally with nobody
publishing, its replications following the encoder in and out, a lost event caught up by the
sweep, and the stack deleted; then a StageMirror's hosts shown in every audience stage as they
come and go, until an update stops mirroring into one of them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from example import local_demo
from example.mirror_demo import MirrorTemplates

REPO = Path(__file__).resolve().parents[2]
SIDES = ("side-1", "side-2", "side-3")
AUDIENCES = "audience-1, audience-2, audience-3"
FINAL_STEP = 14


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
    final = section(output, FINAL_STEP)
    for side in SIDES:
        assert re.search(rf"-> {side}\s+main\s+{side}\s+\w+\s+STOPPED$", final, re.M), final
    assert "Demo complete" in output


@pytest.mark.slow
def test_the_mirror_deploys_with_nobody_publishing(output: str) -> None:
    assert "3 Custom::IvsStageMirror" in section(output, 1)

    deploy = section(output, 9)
    assert "StageMirror HostsIntoAudiences: 3 Custom::IvsStageMirror, one per audience" in deploy
    assert f"-> {AUDIENCES}: nobody" in deploy


@pytest.mark.slow
def test_every_host_runs_in_every_audience_stage_as_hosts_join(output: str) -> None:
    """Each host's event starts it in the three audience stages, a late host's too."""
    three = section(output, 10)
    assert 'host-1, host-2, host-3 publish in "studio"' in three
    assert "Follow/PublishedRule invoked the reconciler, it started 3 replication(s)" in three
    assert three.rstrip().endswith(f"-> {AUDIENCES}: host-1, host-2, host-3")

    fourth = section(output, 11)
    assert fourth.rstrip().endswith(f"-> {AUDIENCES}: host-1, host-2, host-3, host-4")


@pytest.mark.slow
def test_a_host_who_leaves_is_stopped_everywhere_and_started_again_on_return(
    output: str,
) -> None:
    away = section(output, 12)

    assert "host-2 stops publishing; 31 s pass (reconnect window 30 s)" in away
    assert f"-> {AUDIENCES}: host-1, host-3, host-4" in away
    assert away.rstrip().endswith(f"-> {AUDIENCES}: host-1, host-2, host-3, host-4")


@pytest.mark.slow
def test_removing_one_destination_stops_its_replicas_only(output: str) -> None:
    removed = section(output, 13)

    assert "drops one resource: HostsIntoAudiences's Custom::IvsStageMirror into audience-3" in (
        removed
    )
    assert "called StopParticipantReplication x4" in removed
    assert "-> audience-1, audience-2: host-1, host-2, host-3, host-4" in removed
    assert removed.rstrip().endswith("-> audience-3: nobody")
    final = section(output, FINAL_STEP)
    assert re.search(r"audience-2\s+yes\s+host-1, host-2, host-3, host-4$", final, re.M), final
    assert re.search(r"audience-3\s+no\s+nobody$", final, re.M), final


@pytest.mark.slow
def test_the_demo_output_stays_readable_and_leaks_nothing(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    output = demo_run.stdout + demo_run.stderr
    assert "local-secret" not in output  # the ResponseURL's signature
    assert not [line for line in output.splitlines() if line.lstrip().startswith("{")]
    assert "POST /" not in output  # no request log from the local endpoints
    long_lines = [line for line in demo_run.stdout.splitlines() if len(line) > 160]
    assert len(long_lines) <= 2, long_lines  # app.py's type counts and its rule's line


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
    # The mirror example is never deployed: the first deploy fails.
    nothing = MirrorTemplates(deployed={"Resources": {}}, updated={"Resources": {}})
    monkeypatch.setattr(local_demo, "synthesize_mirror_example", lambda _out_dir: nothing)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")  # the demo sets it if unset

    status = local_demo.main()

    output = capsys.readouterr().out
    assert status == 1
    assert "DEMO FAILED: UnsupportedTemplateError" in output
    assert "Resource Bucket, property Type: AWS::S3::Bucket" in output
