"""`make mutate`'s report scores what was checked, and keeps the accepted survivors' list true
without judging mutants a partial run (`MUTANTS=...`) did not check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REPORT = REPO / "tools" / "mutation_report.py"
ACCEPTED_NAME = "ivs_replication_handler.replicas.xǁReplicasǁstart__mutmut_8"


def _run_report(tmp_path: Path, exit_codes: dict[str, int | None], *options: str) -> str:
    meta = tmp_path / "mutants" / "ivs_replication_handler" / "replicas.py.meta"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"exit_code_by_key": exit_codes}))
    result = subprocess.run(
        [sys.executable, str(REPORT), *options],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_the_score_counts_killed_among_checked_mutants_only(tmp_path: Path) -> None:
    output = _run_report(
        tmp_path,
        {"m.x_f__mutmut_1": 1, "m.x_f__mutmut_2": 0, "m.x_f__mutmut_3": None, ACCEPTED_NAME: 1},
    )
    assert "2 killed    1 survived   0 untested    66.7%  (1 not checked)" in output
    assert "survivor: m.x_f__mutmut_2: NOT ACCEPTED (missing test?)" in output
    report = json.loads((tmp_path / "mutation-report.json").read_text())
    assert report["score"] == 0.6667


def test_an_accepted_survivor_now_killed_is_reported_stale(tmp_path: Path) -> None:
    output = _run_report(tmp_path, {ACCEPTED_NAME: 1})
    assert f"accepted but killed now: {ACCEPTED_NAME}" in output


def test_an_accepted_survivor_the_run_did_not_check_is_not_reported_stale(
    tmp_path: Path,
) -> None:
    output = _run_report(tmp_path, {ACCEPTED_NAME: None, "m.x_f__mutmut_1": 1})
    assert ACCEPTED_NAME not in output


def test_an_accepted_survivor_still_surviving_prints_its_reason(tmp_path: Path) -> None:
    output = _run_report(tmp_path, {ACCEPTED_NAME: 0})
    assert f"survivor: {ACCEPTED_NAME}: unanswered starts as None" in output


def test_unexplained_lists_only_the_survivors_and_untested_mutants_not_accepted(
    tmp_path: Path,
) -> None:
    """What `make mutate-again` re-tests: neither the killed, the unchecked, nor the accepted."""
    output = _run_report(
        tmp_path,
        {
            "m.x_f__mutmut_1": 1,
            "m.x_f__mutmut_2": 0,
            "m.x_f__mutmut_3": None,
            "m.x_f__mutmut_4": 33,
            ACCEPTED_NAME: 0,
        },
        "--unexplained",
    )
    assert output.split() == ["m.x_f__mutmut_2", "m.x_f__mutmut_4"]
    assert not (tmp_path / "mutation-report.json").exists()


def test_an_unknown_option_is_refused_with_the_usage(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPORT), "--unexplaned"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == "usage: mutation_report.py [--unexplained]\n"
