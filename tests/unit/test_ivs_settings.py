"""What a stack tells its functions about IVS (`IvsSettings`): read once from a mapping (the
function's environment), a missing or unusable value falling back to its default, and the
burst window a throttled Start spreads its first retry over."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import SimpleNamespace

import pytest

from ivs_replication_handler import contract as c
from ivs_replication_handler import settings as settings_module
from ivs_replication_handler.ivs import IvsRealtime, paced
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.settings import FunctionSettings, IvsSettings

RATE = c.ENV_IVS_CALLS_PER_SECOND
COUNT = c.ENV_STACK_REPLICATIONS


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("12.5", 12.5),
        ("100", 100.0),
        ("", 5.0),
        ("0", 5.0),
        ("-2", 5.0),
        ("101", 5.0),
        ("nan", 5.0),
        ("inf", 5.0),
        ("x", 5.0),
    ],
)
def test_the_rate_comes_from_the_mapping_with_the_documented_default(text: str, rate: float):
    assert IvsSettings.from_environment({RATE: text}).calls_per_second == rate


@pytest.mark.parametrize(
    ("text", "count"), [("400", 400), ("0", 0), ("", 0), ("-4", 0), ("4.5", 0), ("many", 0)]
)
def test_the_replication_count_comes_from_the_mapping_or_is_unknown(text: str, count: int):
    assert IvsSettings.from_environment({COUNT: text}).stack_replications == count


def test_nothing_set_is_the_defaults():
    assert IvsSettings.from_environment({}) == IvsSettings()
    assert IvsSettings() == IvsSettings(calls_per_second=5.0, stack_replications=0)
    assert IvsSettings().burst_window_seconds == 0.0


def test_the_burst_window_is_the_stacks_starts_at_its_rate_spread_a_little_wider():
    settings = IvsSettings.from_environment({COUNT: "400", RATE: "10"})
    assert settings.burst_window_seconds == pytest.approx(1.1 * 400 / 10)


def test_the_mapping_given_is_read_not_the_process_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(RATE, "50")
    monkeypatch.setenv(COUNT, "7")

    assert IvsSettings.from_environment({RATE: "2"}) == IvsSettings(2.0, 0)
    # The function's settings read the process's environment (what a deployed function has).
    assert FunctionSettings.from_environment().ivs == IvsSettings(50.0, 7)


class CountingMapping(Mapping[str, str]):
    """A function environment that counts how often it is read."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values
        self.reads = 0

    def __getitem__(self, key: str) -> str:
        self.reads += 1
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        self.reads += 1
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def test_the_environment_is_read_when_the_settings_are_made_and_never_per_call(
    monkeypatch: pytest.MonkeyPatch,
):
    environment = CountingMapping({RATE: "10", COUNT: "40"})
    monkeypatch.setattr(settings_module, "os", SimpleNamespace(environ=environment))
    # As at a cold start.
    ivs = paced(IvsRealtime(settings=FunctionSettings.from_environment().ivs))
    assert ivs.settings == IvsSettings(10.0, 40)
    assert ivs.pacer is not None
    assert ivs.pacer.calls_per_second == 10.0
    reads = environment.reads

    deadline = Deadline(lambda: 300_000)
    for _ in range(3):
        assert ivs.call("GetStage", lambda: "answered", deadline) == "answered"

    assert reads > 0
    assert environment.reads == reads


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"calls_per_second": 0.0}, r"calls_per_second: 0\.0 is out of range"),
        ({"calls_per_second": 101.0}, r"calls_per_second: 101\.0 is out of range"),
        ({"stack_replications": -1}, r"stack_replications: -1 is negative"),
    ],
)
def test_values_given_directly_are_checked(options: dict[str, float], problem: str):
    with pytest.raises(ValueError, match=problem):
        IvsSettings(**options)  # type: ignore[arg-type]
