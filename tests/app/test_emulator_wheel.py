"""The emulator is a distribution of its own: its wheel builds, installs alone into a fresh
virtual environment, and its tests pass there, where the product is not installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EMULATOR = REPO / "emulator"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def emulator_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("emulator-dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(outdir)],
        cwd=EMULATOR,
        check=True,
        capture_output=True,
    )
    (built,) = outdir.glob("*.whl")
    return built


def test_the_emulator_wheel_holds_only_the_emulator_and_its_probe(emulator_wheel: Path) -> None:
    names = zipfile.ZipFile(emulator_wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert "ivs_realtime_emulator/server.py" in names
    assert "ivs_realtime_emulator/py.typed" in names
    assert "ivs_replication_probe/__main__.py" in names
    assert top_level == {
        "ivs_realtime_emulator",
        "ivs_replication_probe",
        "ivs_realtime_emulator-0.1.0.dist-info",
    }


def test_its_tests_pass_in_a_venv_with_only_the_emulator(
    emulator_wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    pins = ["pytest==9.2.0", "mypy-boto3-ivs-realtime==1.43.118"]
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         str(emulator_wheel), *pins],
        check=True,
        capture_output=True,
    )  # fmt: skip
    tests = shutil.copytree(EMULATOR / "tests", tmp_path / "tests")
    shutil.copy(EMULATOR / "pyproject.toml", tmp_path / "pyproject.toml")

    product = subprocess.run(
        [python, "-c", "import ivs_replication"], capture_output=True, text=True, check=False
    )
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert product.returncode != 0, "the product must not be importable there"
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
