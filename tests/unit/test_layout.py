"""The layout's promises: no symlink, a light construct import, one copy of every module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_repository_holds_no_symlink() -> None:
    """A checkout without symlink support (git's core.symlinks=false) gets every package."""
    listing = subprocess.run(
        ["git", "ls-files", "-s"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    modes = {line.split()[0] for line in listing.splitlines()}
    assert "120000" not in modes


def _modules_after(code: str) -> list[str]:
    probe = f"{code}; import sys; print('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def test_importing_the_construct_library_loads_no_server_sdk_or_second_handler_copy() -> None:
    """`import ivs_replication` loads the handler's contract only (and the error classes its
    rules raise): no HTTP server, no moto, no boto3, no emulator, no other handler module under
    any name."""
    loaded = _modules_after("import ivs_replication")

    assert "ivs_replication_handler.contract" in loaded
    handler_modules = [m for m in loaded if "ivs_replication_handler" in m]
    assert handler_modules == [
        "ivs_replication_handler",
        "ivs_replication_handler.contract",
        "ivs_replication_handler.errors",
    ]
    for heavy in ("http.server", "moto", "boto3", "botocore", "ivs_realtime_emulator"):
        assert heavy not in loaded, heavy
    assert not [m for m in loaded if m.startswith("ivs_replication.testing")]


def test_construct_handler_and_harness_share_one_invalid_property_error_class() -> None:
    """An `except InvalidPropertyError` anywhere catches the error raised anywhere else."""
    code = (
        "import ivs_replication, ivs_replication.testing, ivs_replication_handler.handler;"
        "import gc; from ivs_replication_handler.contract import InvalidPropertyError as E;"
        "print(sum(1 for o in gc.get_objects() if isinstance(o, type) "
        "and o.__name__ == 'InvalidPropertyError'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "1"
