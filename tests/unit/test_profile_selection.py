"""`--ivs-profile` selects the tests of each profile it names, the emulator's built-in ones and
the suite's own alike (a test parametrized with a suite profile was dropped by every filter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.service_profiles import HISTORY_FIRST

REPO = Path(__file__).resolve().parents[2]
# A module with tests under every built-in profile and two under the suite's HISTORY_FIRST.
PROFILED = "tests/edge/test_service_profiles.py"
COLLECT = ["-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]


def selected(*options: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, *COLLECT, PROFILED, *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if line.startswith(PROFILED)]


def test_filtering_by_profile_keeps_the_tests_of_a_built_in_and_of_a_suite_profile() -> None:
    everything = selected()
    names = ("guess", HISTORY_FIRST.name)

    chosen = selected(*(f"--ivs-profile={name}" for name in names))

    for name in names:
        of_profile = [test for test in everything if _of(test, name)]
        assert of_profile, f"no test of {name} to select"
        assert set(of_profile) <= set(chosen), f"{name}'s tests were deselected"
    assert all(any(_of(test, name) for name in names) for test in chosen), chosen


def _of(test_id: str, profile: str) -> bool:
    """Whether `test_id` runs under `profile`: the profile's id comes first in the brackets
    (the `service_profile` fixture), alone or before the test's own parameters."""
    return test_id.endswith(f"[{profile}]") or f"[{profile}-" in test_id
