"""The README's first example, as written, through the real CDK CLI: a stack that creates its
source stage and declares a replication with no mode synthesizes to follow mode, and its
template deploys locally with nobody publishing, then follows the participant when it
publishes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ivs_realtime_emulator import IvsRealtimeEmulator, ManualClock
from ivs_replication.testing import LocalDynamoDB, TemplateDeployment
from tests.readme import first_example_app, with_destination_here

REPO = Path(__file__).resolve().parents[2]
CDK = REPO / "node_modules" / ".bin" / "cdk"
STACK = "FirstDeploy"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    if not CDK.exists():
        pytest.fail("the CDK CLI is not installed: run `npm ci` (make setup does)")
    project = tmp_path_factory.mktemp("first-deploy")
    (project / "app.py").write_text(first_example_app(STACK))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        [str(CDK), "synth", "--quiet", "--app", f"{sys.executable} app.py", "-o", "cdk.out"],
        cwd=project,
        env=env,
        check=True,
        timeout=600,
    )
    return json.loads((project / "cdk.out" / f"{STACK}.template.json").read_text())  # type: ignore[no-any-return]


def test_no_mode_means_follow_in_the_synthesized_template(template: dict[str, object]) -> None:
    resources = template["Resources"]
    assert isinstance(resources, dict)
    [replication] = [
        r for r in resources.values() if r["Type"] == "Custom::IvsParticipantReplication"
    ]
    assert replication["Properties"]["WhenNotPublishing"] == "FOLLOW"


def test_it_deploys_with_nobody_publishing_and_follows_the_participant(
    template: dict[str, object],
) -> None:
    with IvsRealtimeEmulator(clock=ManualClock()) as endpoint, LocalDynamoDB() as dynamodb:
        deployable, destination = with_destination_here(template, endpoint)
        deployment = TemplateDeployment(deployable, ivs=endpoint, dynamodb=dynamodb)
        deployment.deploy()  # the stage was just created: nobody can be publishing
        assert endpoint.replicas(participant_id="host-1") == []

        stages = {stage["name"]: stage["arn"] for stage in endpoint.snapshot()["stages"]}
        endpoint.publish(stages["main"], "host-1")

        [replica] = endpoint.replicas(participant_id="host-1")
        assert (replica.state, replica.destination_stage_arn) == ("ACTIVE", destination)
        deployment.delete()
