"""What every benchmark shares: the environment, medians and the shape of a result row."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REGION = "us-east-1"

# Dummy credentials and a region for every process: nothing here may reach AWS.
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "CDK_DISABLE_VERSION_CHECK": "1",
}
_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IVS_REALTIME")


def child_environment(**extra: str) -> dict[str, str]:
    """The environment for a benchmark subprocess: ours plus `extra`, no real AWS profile."""
    env = {k: v for k, v in os.environ.items() if k not in _UNSET}
    env.update(ENVIRONMENT)
    env.update(extra)
    return env


def apply_environment() -> None:
    """Make this process use the dummy environment."""
    for name in _UNSET:
        os.environ.pop(name, None)
    os.environ.update(ENVIRONMENT)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@dataclass
class Row:
    """One line of the table: a ratio against a baseline of the same run, and its target."""

    key: str
    title: str
    ratio: float | None
    target: str
    passed: bool | None
    detail: str
    raw: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "ratio": self.ratio,
            "target": self.target,
            "pass": self.passed,
            "detail": self.detail,
            "raw": self.raw,
        }


def at_most(key: str, title: str, ratio: float, *, limit: float, detail: str) -> Row:
    """A row whose target is `ratio <= limit` (a ratio, so "x")."""
    return Row(key, title, ratio, f"<= {limit:g}x", ratio <= limit, detail)
