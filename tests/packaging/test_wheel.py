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


def test_the_wheel_ships_both_packages_and_no_emulator_or_caches(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()

    assert "ivs_replication_handler/requirements.txt" in names
    assert "ivs_replication_handler/handler.py" in names
    assert "ivs_replication_handler/py.typed" in names
    assert "ivs_replication/py.typed" in names
    assert "ivs_replication/testing/deployment.py" in names
    assert not [n for n in names if n.startswith("ivs_realtime_emulator")]
    assert not [n for n in names if "/_handler" in n]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "constructs/", "lambda/"))]


def test_a_fresh_venv_with_the_wheel_synthesizes_a_two_replication_app(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=900,
    )
    project = tmp_path / "user-project"
    project.mkdir()
    (project / "app.py").write_text(USER_APP)

    result = subprocess.run(
        [str(python), "app.py"],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
        # Only what a user's shell would have: no PYTHONPATH into this repository.
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        timeout=600,
    )

    assert result.stdout.strip().startswith(str(env_dir))
    template = json.loads((project / "cdk.out" / "UserStack.template.json").read_text())
    types = [r["Type"] for r in template["Resources"].values()]
    assert types.count("Custom::IvsParticipantReplication") == 2
    # The handler, the provider framework's function and, for the default follow(), the
    # reconciler.
    assert types.count("AWS::Lambda::Function") == 3
