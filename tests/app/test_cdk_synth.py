"""The example app through the real, pinned CDK CLI, and the Lambda asset it bundles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "lambda/replication/ivs_replication_handler/requirements.txt"
CDK = REPO / "node_modules" / ".bin" / "cdk"
STACK = "IvsReplicationExample"

pytestmark = pytest.mark.slow


def cdk_synth(outdir: Path, *context: str) -> dict[str, Any]:
    """`cdk synth` of app.py (cdk.json runs `python3 app.py`: this venv's) into `outdir`."""
    if not CDK.exists():
        pytest.fail("the CDK CLI is not installed: run `npm ci` (make setup does)")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    context_args = [arg for pair in context for arg in ("-c", pair)]
    subprocess.run(
        [str(CDK), "synth", "--quiet", *context_args, "-o", str(outdir)],
        cwd=REPO,
        env=env,
        check=True,
        timeout=600,
    )
    return json.loads((outdir / f"{STACK}.template.json").read_text())


@pytest.fixture(scope="module")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out")
    cdk_synth(outdir)
    return outdir


@pytest.fixture(scope="module")
def template(cloud_assembly: Path) -> dict[str, Any]:
    return json.loads((cloud_assembly / f"{STACK}.template.json").read_text())


@pytest.fixture(scope="module")
def handler_asset(
    cloud_assembly: Path, template: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The Python handler's asset (the prebuilt bundle, a zip), found through the function's
    metadata, unpacked."""
    (function,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Handler"] == "ivs_replication_handler.handler.on_event"
    ]
    staged = cloud_assembly / function["Metadata"]["aws:asset:path"]
    assert staged.suffix == ".zip", "the bundle is staged as the zip it is"
    unpacked = tmp_path_factory.mktemp("handler-asset")
    with zipfile.ZipFile(staged) as bundle:
        bundle.extractall(unpacked)
    return unpacked


def resources_of_type(template: dict[str, Any], type_name: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == type_name]


def test_the_template_follows_the_encoder_into_every_side_stage(
    template: dict[str, Any],
) -> None:
    replications = resources_of_type(template, "Custom::IvsParticipantReplication")
    stages = {
        logical_id: r["Properties"]["Name"]
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::IVS::Stage"
    }

    assert sorted(stages.values()) == ["main", "side-1", "side-2", "side-3"]
    assert len(replications) == 3
    for replication in replications:
        props = replication["Properties"]
        assert props["ParticipantId"] == {"Fn::GetAtt": ["Encoder", "ParticipantId"]}
        assert props["SourceStageArn"] == {"Fn::GetAtt": ["MainStage", "Arn"]}
        assert props["WhenNotPublishing"] == "FOLLOW"
        assert props["Attributes"] == {"role": "cohost"}
        assert props["ReconnectWindowSeconds"] == 30
    destinations = {stages[r["Properties"]["DestinationStageArn"]["Ref"]] for r in replications}
    assert destinations == {"side-1", "side-2", "side-3"}


def test_the_template_has_a_publisher_rule_and_a_sweep(template: dict[str, Any]) -> None:
    rules = resources_of_type(template, "AWS::Events::Rule")
    publisher_rules = [r for r in rules if "EventPattern" in r["Properties"]]
    schedules = [r["Properties"]["ScheduleExpression"] for r in rules if r not in publisher_rules]

    # One rule for the one encoder, however many stages it fans out to; one sweep.
    assert len(publisher_rules) == 1
    assert publisher_rules[0]["Properties"]["EventPattern"]["detail"]["participant_id"] == [
        {"Fn::GetAtt": ["Encoder", "ParticipantId"]}
    ]
    assert schedules == ["rate(5 minutes)"]
    assert len(resources_of_type(template, "AWS::DynamoDB::Table")) == 1


def test_the_template_has_one_handler_and_no_wildcard_ivs_grant(template: dict[str, Any]) -> None:
    statements = [
        s
        for p in resources_of_type(template, "AWS::IAM::Policy")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    ivs = [s for s in statements if str(s["Action"]).count("ivs:")]

    assert len(ivs) == 2  # the handler's and the reconciler's
    assert all(s["Resource"] != "*" for s in ivs)
    # The handler, the provider framework's function and the reconciler.
    assert len(resources_of_type(template, "AWS::Lambda::Function")) == 3


def test_the_asset_carries_the_pinned_sdk_that_knows_the_api(handler_asset: Path) -> None:
    pins = dict(
        line.split("==")
        for line in (REPO / "lambda/replication/ivs_replication_handler/requirements.txt")
        .read_text()
        .splitlines()
        if "==" in line and not line.startswith("#")
    )
    # -S: nothing from this venv's site-packages, only the asset and the standard library;
    # -B: leave no bytecode behind in the asset.
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import botocore, aws_lambda_powertools;"
        "from ivs_replication_handler.ivs import make_client;"
        "client = make_client();"
        "assert hasattr(client, 'start_participant_replication');"
        "assert botocore.__file__.startswith(sys.argv[1]);"
        "import importlib.util;"
        "print(botocore.__version__, importlib.util.find_spec('boto3'))"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-B", "-c", probe, str(handler_asset)],
        capture_output=True,
        text=True,
        check=True,
        env={
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
    )

    # The pinned botocore, and no boto3: the functions create botocore clients directly.
    assert result.stdout.split() == [pins["botocore"], "None"]
    assert "boto3" not in pins


def test_the_asset_has_the_handler_and_no_caches_or_tests(handler_asset: Path) -> None:
    names = [p.relative_to(handler_asset).as_posix() for p in handler_asset.rglob("*")]

    assert "ivs_replication_handler/handler.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.split("/")[0] in ("tests", "test")]
    assert not [n for n in names if n.startswith("ivs_replication_handler/test")]
