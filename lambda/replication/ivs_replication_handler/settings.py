"""What a stack tells its functions, read from their environment in one place, once per cold
start (`FunctionSettings.from_environment`, called by the entry points at import), then given
to the parts that need it: the IVS edge its rate and the stack's replication count, the
registry its table, the metrics their namespace, service and stack.

Pure: the construct writes these variables (their names are in ``contract``); nothing else of
the handler package reads the environment for them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import contract as c

# A burst spread a little wider than its ideal drain time gets most Starts through on their
# first retry (a simulation of 480 creates at 5/s: about 2.2 calls each, 1.1x the ideal).
_BURST_SPREAD = 1.1


@dataclass(frozen=True)
class IvsSettings:
    """What a stack tells its functions about IVS.

    ``calls_per_second`` Default: 5 (IVS documents about 5 TPS for its stage APIs): the rate
    per operation the functions assume (`ReplicationProvider.pace_ivs_calls`).
    ``stack_replications`` Default: 0 (not known: a throttled burst is not spread).
    ``stack_mirror_destinations`` Default: 0 (none, or not known): how many StageMirror
    destinations the stack declares, whose handlers may all run at once.

    :raises InvalidPropertyError: if `calls_per_second` is not above 0 and at most 100, or
        `stack_replications` is negative.
    """

    calls_per_second: float = c.IVS_CALLS_PER_SECOND
    stack_replications: int = 0
    stack_mirror_destinations: int = 0

    def __post_init__(self) -> None:
        c.check_calls_per_second("calls_per_second", self.calls_per_second)
        for name, count in (
            ("stack_replications", self.stack_replications),
            ("stack_mirror_destinations", self.stack_mirror_destinations),
        ):
            if count < 0:
                raise c.InvalidPropertyError(
                    name, f"{count!r} is negative", "a whole number, 0 or more"
                )

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> IvsSettings:
        """The settings `environment` states: ``IVS_REPLICATION_IVS_CALLS_PER_SECOND`` and
        ``IVS_REPLICATION_STACK_REPLICATIONS`` and ``IVS_REPLICATION_STACK_MIRROR_DESTINATIONS``.
        A value that is missing or unusable (a rate that is no number or out of range, a count
        that is no whole number) falls back to its default; this never raises."""
        return cls(
            calls_per_second=_rate(environment.get(c.ENV_IVS_CALLS_PER_SECOND, "")),
            stack_replications=_count(environment.get(c.ENV_STACK_REPLICATIONS, "")),
            stack_mirror_destinations=_count(environment.get(c.ENV_STACK_MIRROR_DESTINATIONS, "")),
        )

    @property
    def mirror_share_per_second(self) -> float:
        """The rate one mirror destination's request calls IVS at: its share of the stack's,
        a little under, so that the stack's mirror destinations created together keep to it
        (as a throttled burst is spread a little wider than its ideal time)."""
        return self.calls_per_second / (_BURST_SPREAD * max(1, self.stack_mirror_destinations))

    @property
    def burst_window_seconds(self) -> float:
        """The time the stack's replications need at IVS's rate: what a throttled burst of
        creates spreads its first retries over. 0 (no spread) where no count is known."""
        return _BURST_SPREAD * self.stack_replications / self.calls_per_second


def _count(text: str) -> int:
    return int(text) if text.isdecimal() else 0


def _rate(text: str) -> float:
    try:
        return c.check_calls_per_second(c.ENV_IVS_CALLS_PER_SECOND, float(text))
    except (ValueError, c.InvalidPropertyError):
        return c.IVS_CALLS_PER_SECOND


@dataclass(frozen=True)
class FunctionSettings:
    """Everything a function's environment states: the IVS settings, the registry table (None:
    the stack has no registry), the metrics' namespace and service, and the name of the stack
    the function belongs to (None: not stated, so its metrics carry no Stack dimension).
    Defaults: those of an unset environment."""

    ivs: IvsSettings = field(default_factory=IvsSettings)
    registry_table: str | None = None
    metrics_namespace: str = c.METRICS_NAMESPACE_DEFAULT
    metrics_service: str = c.METRICS_SERVICE_DEFAULT
    stack_name: str | None = None

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> FunctionSettings:
        """The settings `environment` states (Default: ``os.environ``, read now: the entry
        points call this once, at a cold start). An empty variable counts as unset."""
        env = os.environ if environment is None else environment
        return cls(
            ivs=IvsSettings.from_environment(env),
            registry_table=env.get(c.ENV_REGISTRY_TABLE) or None,
            metrics_namespace=env.get(c.ENV_METRICS_NAMESPACE) or c.METRICS_NAMESPACE_DEFAULT,
            metrics_service=env.get(c.ENV_METRICS_SERVICE) or c.METRICS_SERVICE_DEFAULT,
            stack_name=env.get(c.ENV_STACK_NAME) or None,
        )
