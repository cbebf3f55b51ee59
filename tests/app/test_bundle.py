"""The prebuilt Lambda bundle: same inputs, same bytes; it changes exactly with the handler or
its pins; the checkout's (`make bundle`) is the one a fresh build makes."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

import hatch_build
from ivs_replication.asset import bundle_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fresh_bundle(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    target = tmp_path_factory.mktemp("bundle") / "handler.zip"
    return hatch_build.build_bundle(target).read_bytes()


def test_two_builds_give_the_same_bytes(fresh_bundle: bytes, tmp_path: Path) -> None:
    again = hatch_build.build_bundle(tmp_path / "again.zip").read_bytes()
    assert again == fresh_bundle


def test_the_checkouts_bundle_is_current(fresh_bundle: bytes) -> None:
    """What synth copies in a checkout is what the wheel would ship (run `make bundle`)."""
    assert bundle_path().read_bytes() == fresh_bundle


def test_entries_are_sorted_and_carry_no_build_time(fresh_bundle: bytes, tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(fresh_bundle)
    infos = zipfile.ZipFile(path).infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert "ivs_replication_handler/handler.py" in names
    assert "ivs_replication_handler/reconciler.py" in names
    assert "botocore/data/ivs-realtime/2020-07-14/service-2.json.gz" in names or any(
        n.startswith("botocore/data/ivs-realtime/") for n in names
    )
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if "/tests/" in n or n.startswith("ivs_replication_handler/test")]
    assert "ivs_replication_handler/requirements.txt" not in names


def test_editing_a_handler_module_changes_the_bundle(
    fresh_bundle: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = shutil.copytree(hatch_build.HANDLER_DIR, tmp_path / hatch_build.HANDLER_PACKAGE)
    (copy / "spec.py").write_text((copy / "spec.py").read_text() + "\n# changed\n")
    monkeypatch.setattr(hatch_build, "HANDLER_DIR", copy)

    assert hatch_build.build_bundle(tmp_path / "edited.zip").read_bytes() != fresh_bundle


def test_bytecode_next_to_the_sources_changes_nothing(
    fresh_bundle: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = shutil.copytree(hatch_build.HANDLER_DIR, tmp_path / hatch_build.HANDLER_PACKAGE)
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "logic.cpython-311.pyc").write_bytes(b"\x00bytecode")
    monkeypatch.setattr(hatch_build, "HANDLER_DIR", copy)

    assert hatch_build.build_bundle(tmp_path / "same.zip").read_bytes() == fresh_bundle
