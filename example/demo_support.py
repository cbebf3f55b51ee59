"""What the demo's parts share: its lines of output, its one error, and a deployed example
stack whose construct paths and reconciler runs it prints."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ivs_replication.testing import TemplateDeployment
    from ivs_replication.testing.events import Delivery

_CONSTRUCT_NOISE = re.compile(r"(/(Resource|Default))+$")


class DemoError(Exception):
    """A step did not show what it should; the message says which and why."""


def say(text: str) -> None:
    print(text, flush=True)


def detail(text: str) -> None:
    say(f"      {text}")


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """The rows as detail lines, each column as wide as its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        detail("  ".join(cells).rstrip())


class DeployedExample:
    """An example stack's template, deployed as ``stack``: construct paths to print, and what
    its rules' deliveries did."""

    def __init__(self, stack: TemplateDeployment, template: Mapping[str, Any]) -> None:
        self.stack = stack
        self.template = template
        self._delivered = 0

    def path(self, logical_id: str) -> str:
        """The construct path without the stack: ``IvsParticipantReplicationProvider/Follow/
        PublishedRule``."""
        metadata = self.template["Resources"][logical_id].get("Metadata") or {}
        path = str(metadata.get("aws:cdk:path") or logical_id)
        return _CONSTRUCT_NOISE.sub("", path.removeprefix(f"{self.stack.stack_name}/"))

    def new_deliveries(self) -> list[Delivery]:
        """The event bus's deliveries since the last call."""
        deliveries = self.stack.bus.deliveries
        new, self._delivered = deliveries[self._delivered :], len(deliveries)
        return new

    def rule_path(self, rule_name: str) -> str:
        by_physical = {physical: lid for lid, physical in self.stack.physical_ids.items()}
        return self.path(by_physical.get(rule_name, rule_name))

    def runs(self) -> list[tuple[str, int | None]]:
        """The reconciler runs since the last call: (rule path, replications it started; None
        when EventBridge lost the event). Raises DemoError for a run that failed."""
        runs: list[tuple[str, int | None]] = []
        for delivery in self.new_deliveries():
            rule = self.rule_path(delivery.rule)
            if delivery.status == "failed":
                raise DemoError(f"the reconciler failed on rule {rule}: {delivery.error}")
            if delivery.status == "dropped":
                runs.append((rule, None))
                continue
            result = delivery.result if isinstance(delivery.result, dict) else {}
            runs.append((rule, len(result.get("started") or [])))
        return runs

    def report_deliveries(self, *, expect_started: int) -> None:
        """Print what reached the reconciler; fail unless it started `expect_started`."""
        started = 0
        for rule, count in self.runs():
            if count is None:
                detail(f"-> EventBridge lost the event for rule {rule} (best-effort delivery)")
                continue
            started += count
            detail(f"-> rule {rule} invoked the reconciler: it started {count} replication(s)")
        if started != expect_started:
            raise DemoError(
                f"the reconciler started {started} replication(s), not {expect_started}"
            )
