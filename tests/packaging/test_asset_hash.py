"""The handler asset's hash follows everything that shapes the bundle, and nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivs_replication import asset


@pytest.fixture
def handler_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / asset.HANDLER_PACKAGE
    shutil.copytree(
        asset.HANDLER_PACKAGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    monkeypatch.setattr(asset, "HANDLER_PACKAGE_DIR", root)
    monkeypatch.setattr(asset, "REQUIREMENTS_FILE", root / asset.REQUIREMENTS_FILE.name)
    return root


def test_the_hash_is_stable(handler_root: Path) -> None:
    assert asset.asset_hash() == asset.asset_hash()


def test_editing_a_handler_module_changes_the_hash(handler_root: Path) -> None:
    before = asset.asset_hash()
    module = handler_root / "logic.py"
    module.write_text(module.read_text() + "\n# changed\n")

    assert asset.asset_hash() != before


def test_changing_a_pinned_requirement_changes_the_hash(handler_root: Path) -> None:
    before = asset.asset_hash()
    requirements = handler_root / "requirements.txt"
    requirements.write_text(requirements.read_text().replace("boto3==", "boto3>="))

    assert asset.asset_hash() != before


def test_bytecode_caches_do_not_change_the_hash(handler_root: Path) -> None:
    before = asset.asset_hash()
    cache = handler_root / "__pycache__"
    cache.mkdir()
    (cache / "logic.cpython-311.pyc").write_bytes(b"\x00bytecode")

    assert asset.asset_hash() == before
