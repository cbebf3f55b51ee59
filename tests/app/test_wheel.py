"""The wheel, installed in a fresh virtual environment, synthesizes an app outside the repo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

USER_APP = textwrap.dedent(
    """
    import aws_cdk as cdk
    import ivs_replication
    from aws_cdk import aws_ivs as ivs
    from ivs_replication import ParticipantReplication

    app = cdk.App(outdir="cdk.out")
    stack = cdk.Stack(app, "UserStack")
    main = ivs.CfnStage(stack, "Main", name="main")
    for name in ("left", "right"):
        ParticipantReplication(
            stack,
            f"Into{name.title()}",
            source_stage=main,
            destination_stage=ivs.CfnStage(stack, name.title(), name=name),
            participant_id="encoder-1",
            reconnect_window=cdk.Duration.seconds(60),
        )
    app.synth()
    print(ivs_replication.__file__)
    """
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(outdir)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    (built,) = outdir.glob("*.whl")
    return built


def test_the_wheel_ships_three_packages_and_the_command_but_no_emulator(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()

    assert "ivs_replication_handler/requirements.txt" in names
    assert "ivs_replication_handler/handler.py" in names
    assert "ivs_replication_handler/py.typed" in names
    assert "ivs_replication/py.typed" in names
    assert "ivs_replication/testing/deployment.py" in names
    assert "ivs_replication_cli/main.py" in names
    assert "ivs_replication_cli/py.typed" in names
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "ivs-replication = ivs_replication_cli.main:main" in scripts
    assert not [n for n in names if n.startswith("ivs_realtime_emulator")]
    assert not [n for n in names if "/_handler" in n]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "constructs/", "lambda/"))]


def test_the_wheel_offers_the_documented_extras(wheel: Path) -> None:
    """`testing` brings the emulator and what the harness runs; `cli` brings boto3."""
    archive = zipfile.ZipFile(wheel)
    [metadata_name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = archive.read(metadata_name).decode()
    assert "Provides-Extra: testing" in metadata
    assert "Provides-Extra: cli" in metadata
    assert "Requires-Dist: ivs-realtime-emulator<1,>=0.1; extra == 'testing'" in metadata
    assert "Classifier: Framework :: AWS CDK :: 2" in metadata
    assert "License-Expression: Apache-2.0" in metadata


def test_the_wheels_bundle_is_byte_identical_to_the_checkouts(wheel: Path) -> None:
    """The hook builds the same bytes as `make bundle`: what tests exercise is what ships."""
    from ivs_replication.asset import bundle_path

    shipped = zipfile.ZipFile(wheel).read("ivs_replication/_bundle/handler.zip")
    assert shipped == bundle_path().read_bytes()


def test_a_venv_without_pip_and_offline_synthesizes_with_the_wheel(
    wheel: Path, tmp_path: Path
) -> None:
    """A user's venv made without pip (as `uv venv` makes them), synthesizing with every
    package index unreachable: synth copies the shipped bundle, it installs nothing."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run(  # installing needs the index (or pip's cache); synthesizing must not
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=900,
    )  # fmt: skip
    project = tmp_path / "user-project"
    project.mkdir()
    (project / "app.py").write_text(USER_APP)
    offline = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        "PIP_INDEX_URL": "http://127.0.0.1:9/unreachable",
        "PIP_NO_INDEX": "1",
        "PIP_CONFIG_FILE": os.devnull,
    }

    result = subprocess.run(
        [str(python), "app.py"],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
        env=offline,
        timeout=600,
    )

    no_pip = subprocess.run(
        [str(python), "-m", "pip", "--version"], check=False, capture_output=True
    )
    assert no_pip.returncode != 0, "the venv must really have no pip"
    assert result.stdout.strip().startswith(str(env_dir))
    template = json.loads((project / "cdk.out" / "UserStack.template.json").read_text())
    types = [r["Type"] for r in template["Resources"].values()]
    assert types.count("Custom::IvsParticipantReplication") == 2
    # The handler, the provider framework's function and, for the default follow(), the
    # reconciler.
    assert types.count("AWS::Lambda::Function") == 3
    (staged,) = (project / "cdk.out").glob("asset.*.zip")
    names = zipfile.ZipFile(staged).namelist()
    assert any(n.startswith("botocore/data/ivs-realtime/") for n in names)
    assert "ivs_replication_handler/handler.py" in names

    # The command comes with the wheel; without the cli extra (no boto3 here) it says so.
    command = subprocess.run(
        [str(env_dir / "bin" / "ivs-replication"), "status", "--stack-name", "UserStack"],
        capture_output=True,
        text=True,
        env=offline,
        check=False,
        timeout=60,
    )
    assert command.returncode == 3, command.stderr
    assert command.stderr.count("\n") == 1
    assert "pip install 'ivs-participant-replication[cli]'" in command.stderr
