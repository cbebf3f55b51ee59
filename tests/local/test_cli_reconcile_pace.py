"""`reconcile --local` paces its IVS calls as the deployed reconciler does: at the rate the
stack's template gives the reconciler (`pace_ivs_calls`), not always at the default."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ivs_replication_cli import reconcile
from ivs_replication_cli.errors import EXIT_OK
from tests.local.deployed_stack import STACK, deployed, live_stack_template

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator
    from ivs_replication.testing import LocalDynamoDB
    from ivs_replication_cli.reconcile import SweepResult
    from ivs_replication_cli.stack import DeployedStack
    from ivs_replication_handler.ivs import IvsRealtime


@pytest.mark.parametrize(
    ("template_pace", "pace"), [(None, 5.0), (2.0, 2.0)], ids=["default", "paced-at-2"]
)
def test_reconcile_local_runs_at_the_deployed_reconcilers_pace(
    local_ivs: IvsRealtimeEmulator,
    dynamodb: LocalDynamoDB,
    monkeypatch: pytest.MonkeyPatch,
    template_pace: float | None,
    pace: float,
) -> None:
    paces: list[float | None] = []
    run_sweep_here = reconcile.run_sweep_here

    def recording(stack: DeployedStack, ivs: IvsRealtime, *rest: object) -> SweepResult:
        paces.append(ivs.pacer.calls_per_second if ivs.pacer is not None else None)
        return run_sweep_here(stack, ivs, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(reconcile, "run_sweep_here", recording)
    template = live_stack_template(ivs_calls_per_second=template_pace)
    with deployed(template, local_ivs, dynamodb) as world:
        world.ivs_endpoint.publish(world.arn("Main"), "host-1")  # the rule starts both
        world.ivs_endpoint.client().stop_participant_replication(
            sourceStageArn=world.arn("Main"),
            destinationStageArn=world.arn("Side"),
            participantId="host-1",
        )
        world.expect_stack_reads()

        code, report, _ = world.run("reconcile", "--stack-name", STACK, "--local")

    assert code == EXIT_OK
    assert paces == [pace]
    assert f"with the reconciler's code at {pace:g} IVS calls/s" in report
    assert "started: 1" in report
