"""The prebuilt Lambda bundle: one deterministic zip of the handler package and its pinned SDK.

As aws-cdk-lib ships its own custom-resource handlers prebuilt, the library's wheel carries
``ivs_replication/_bundle/handler.zip``, so a user's synth only copies a file: no pip, no
network, no cache. Building the wheel builds the zip (the hatch hook below); a checkout builds
the same bytes with ``make bundle`` (``python hatch_build.py``), into the package folder the
editable install reads.

Same inputs, same bytes: every dependency is pinned (``requirements.txt`` of the handler
package, installed with ``--no-deps``), entries are sorted, timestamps and permissions fixed,
and nothing of the build machine (bytecode, paths, times) gets in. The zip holds:

- the pinned packages for the Lambda's platform (Python 3.14, arm64), with botocore trimmed to
  the service models the functions use and the endpoint data;
- ``ivs_replication_handler/`` (its ``.py`` files; no tests, caches or pins).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
HANDLER_PACKAGE = "ivs_replication_handler"
HANDLER_DIR = ROOT / "lambda" / "replication" / HANDLER_PACKAGE
REQUIREMENTS = HANDLER_DIR / "requirements.txt"
# Where the construct library finds the bundle (in the wheel and in a checkout alike).
BUNDLE_IN_PACKAGE = "ivs_replication/_bundle/handler.zip"
CHECKOUT_BUNDLE = ROOT / "constructs" / BUNDLE_IN_PACKAGE

PIP_PLATFORM = "manylinux2014_aarch64"
PIP_PYTHON_VERSION = "3.14"
# The AWS services whose clients the functions create (contract.AWS_SERVICES; read from the
# file, not imported: the build must not depend on the package being importable).
BOTOCORE_DATA_KEPT = frozenset(
    {
        "ivs-realtime",
        "dynamodb",
        "endpoints.json",
        "partitions.json",
        "sdk-default-configuration.json",
    }
)
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say
_FILE_MODE = 0o644 << 16
_SKIPPED_PARTS = frozenset({"__pycache__", "tests", "bin"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
_HANDLER_SKIPPED = frozenset({"requirements.txt", "py.typed"})
_INSTALL_RECORDS = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})


class BundleError(RuntimeError):
    """Installing the handler's pinned dependencies failed; the message says what to do."""


def build_bundle(target: Path) -> Path:
    """Write the bundle to `target` (a .zip path) and return it."""
    with tempfile.TemporaryDirectory(prefix="ivs-replication-bundle-") as scratch:
        site = Path(scratch) / "site"
        _pip_install(site)
        _trim(site)
        files = dict(_dependency_files(site))
        files.update(_handler_files())
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".zip.partial")
        _write_zip(partial, files)
        partial.replace(target)  # never a half-written bundle where the construct looks
    return target


def _pip_install(site: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "install",
        "--requirement", str(REQUIREMENTS),
        "--no-deps",
        "--target", str(site),
        "--platform", PIP_PLATFORM,
        "--python-version", PIP_PYTHON_VERSION,
        "--implementation", "cp",
        "--only-binary=:all:",
        "--no-compile",
        "--disable-pip-version-check",
        "--quiet",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BundleError(
            "Building the Lambda bundle needs pip and the package index (or pip's cache) to "
            f"install {REQUIREMENTS.name}; `{' '.join(command)}` failed:\n"
            f"{result.stderr.strip()[-2000:]}"
        )


def _trim(site: Path) -> None:
    """Drop what the functions never load: other services' models."""
    for entry in (site / "botocore" / "data").iterdir():
        if entry.name not in BOTOCORE_DATA_KEPT:
            _remove(entry)


def _dependency_files(site: Path) -> list[tuple[str, Path]]:
    return [
        (path.relative_to(site).as_posix(), path)
        for path in site.rglob("*")
        if path.is_file() and _kept(path.relative_to(site))
    ]


def _handler_files() -> list[tuple[str, Path]]:
    return [
        (f"{HANDLER_PACKAGE}/{path.relative_to(HANDLER_DIR).as_posix()}", path)
        for path in HANDLER_DIR.rglob("*")
        if path.is_file()
        and path.name not in _HANDLER_SKIPPED
        and not path.name.startswith("test_")
        and _kept(path.relative_to(HANDLER_DIR))
    ]


def _kept(relative: Path) -> bool:
    if _SKIPPED_PARTS & set(relative.parts) or relative.suffix in _SKIPPED_SUFFIXES:
        return False
    # What pip records about this install (its RECORD hashes scripts whose first line names
    # the building interpreter): not needed to import, and not the same on every machine.
    in_dist_info = len(relative.parts) > 1 and relative.parts[0].endswith(".dist-info")
    return not (in_dist_info and relative.name in _INSTALL_RECORDS)


def _write_zip(target: Path, files: dict[str, Path]) -> None:
    with zipfile.ZipFile(target, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = _FILE_MODE
            info.create_system = 3  # Unix, whatever machine builds it
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name].read_bytes(), compresslevel=9)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


try:  # The wheel build's hook; hatchling is there only while a wheel is built.
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # pragma: no cover - `make bundle` runs without hatchling
    pass
else:

    class BundleBuildHook(BuildHookInterface):  # type: ignore[type-arg]
        """Builds the bundle into the wheel; editable installs use the checkout's own."""

        PLUGIN_NAME = "custom"

        _scratch: str | None = None

        def initialize(self, version: str, build_data: dict[str, Any]) -> None:
            if self.target_name != "wheel" or version == "editable":
                return
            self._scratch = tempfile.mkdtemp(prefix="ivs-replication-wheel-")
            bundle = build_bundle(Path(self._scratch) / "handler.zip")
            build_data["force_include"][str(bundle)] = BUNDLE_IN_PACKAGE

        def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the prebuilt Lambda bundle.")
    parser.add_argument(
        "--out", type=Path, default=CHECKOUT_BUNDLE, help=f"Default: {CHECKOUT_BUNDLE}"
    )
    arguments = parser.parse_args(argv)
    print(build_bundle(arguments.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
