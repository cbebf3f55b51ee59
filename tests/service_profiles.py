"""The lifecycle and follow suites run under every service profile of the emulator.

`service_profile` is parametrized over `PROFILES` (each test id ends in the profile's name);
`local_ivs` is the emulator's fixture again, started with that profile. The state machines
make one test case per profile (`profiled_cases`). A test may instead parametrize
`service_profile` with one of `SUITE_PROFILES` (profiles of this suite's own, for one
behaviour). Choose profiles with ``--ivs-profile NAME`` (repeatable; a built-in or a suite
profile; default: all), e.g. ``.venv/bin/pytest tests/edge --ivs-profile not-publishing-404``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ivs_realtime_emulator import PROFILES, IvsRealtimeEmulator, ServiceProfile
from ivs_realtime_emulator.pytest_plugin import serving

if TYPE_CHECKING:
    from collections.abc import Iterator

PROFILE_OPTION = "--ivs-profile"
# STOPPED records of earlier replications listed first, one per page: the live one comes last.
HISTORY_FIRST = ServiceProfile(
    name="history-first-paged", history="keep-oldest-first", replicas_page_size=1
)
# Profiles of this suite's own, which a test names in its `service_profile` parametrization.
SUITE_PROFILES: dict[str, ServiceProfile] = {HISTORY_FIRST.name: HISTORY_FIRST}
# The name a test case or parameter carries, for `deselect_unselected_profiles`.
PROFILE_ATTRIBUTE = "ivs_profile_name"


@pytest.fixture(params=list(PROFILES), ids=list(PROFILES))
def service_profile(request: pytest.FixtureRequest) -> ServiceProfile:
    """Each built-in service profile in turn."""
    return PROFILES[str(request.param)]


@pytest.fixture
def local_ivs(
    service_profile: ServiceProfile, monkeypatch: pytest.MonkeyPatch
) -> Iterator[IvsRealtimeEmulator]:
    """The emulator's `local_ivs`, under `service_profile`."""
    with serving(monkeypatch, service_profile) as server:
        yield server


def profiled_cases(machine: type[Any], settings_for: Any, prefix: str) -> dict[str, type[Any]]:
    """One `TestCase` per profile of a state machine whose `profile` class attribute it sets;
    `settings_for(profile_name)` gives each case its Hypothesis settings."""
    cases: dict[str, type[Any]] = {}
    for name, profile in PROFILES.items():
        variant = type(f"{machine.__name__}_{name.replace('-', '_')}", (machine,), {})
        variant.profile = profile
        case = variant.TestCase
        case.settings = settings_for(name)
        setattr(case, PROFILE_ATTRIBUTE, name)
        cases[f"{prefix}_{name.replace('-', '_')}"] = case
    return cases


def profile_of(item: pytest.Item) -> str | None:
    """The profile a collected test runs under (None: not a profiled test)."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "service_profile" in callspec.params:
        # A name from the fixture's own parameters, or a profile a test parametrized with.
        profile = callspec.params["service_profile"]
        return profile.name if isinstance(profile, ServiceProfile) else str(profile)
    cls = getattr(item, "cls", None)
    return getattr(cls, PROFILE_ATTRIBUTE, None)


def deselect_unselected_profiles(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep only the tests of the profiles named by `--ivs-profile` (all when none is).

    Raises UsageError for an unknown name, and for a test under a profile no name selects
    (a suite profile missing from `SUITE_PROFILES`): any filter would drop it.
    """
    known = {**PROFILES, **SUITE_PROFILES}
    unnamed = sorted(
        f"{item.nodeid} ({name})"
        for item in items
        if (name := profile_of(item)) is not None and name not in known
    )
    if unnamed:
        raise pytest.UsageError(
            f"{PROFILE_OPTION} cannot select {', '.join(unnamed)}: add the profile to "
            "SUITE_PROFILES in tests/service_profiles.py"
        )
    chosen = config.getoption(PROFILE_OPTION) or []
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise pytest.UsageError(
            f"unknown {PROFILE_OPTION} {', '.join(unknown)}; built in: {', '.join(PROFILES)}; "
            f"this suite's: {', '.join(SUITE_PROFILES)}"
        )
    if not chosen:
        return
    kept, dropped = [], []
    for item in items:
        name = profile_of(item)
        (dropped if name is not None and name not in chosen else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
