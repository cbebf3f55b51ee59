"""The handler's Lambda asset: the installed handler package plus the SDK versions it pins.

Dependencies are installed with pip for the Lambda's platform (no Docker), trimmed to what
the handler loads, and cached by the hash of everything that shapes them, so a synth after
the first one only links files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from ivs_replication_handler import contract as c

HANDLER_PACKAGE = "ivs_replication_handler"
# The handler package's files, wherever it is installed (the wheel ships it beside this
# library; a checkout's editable install points into lambda/replication). Found from the
# contract module already imported, so nothing more of the handler is loaded here.
HANDLER_PACKAGE_DIR = Path(c.__file__).resolve().parent
# The SDK pins, shipped inside the handler package; not part of the asset's code.
REQUIREMENTS_FILE = HANDLER_PACKAGE_DIR / "requirements.txt"

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
_PIP_PLATFORM = "manylinux2014_aarch64"
_PIP_PYTHON_VERSION = "3.14"

# botocore ships the model of every AWS service (most of its size); the functions need two:
# IVS real-time, and DynamoDB for follow mode's registry.
_BOTOCORE_DATA_KEPT = frozenset(
    {*c.AWS_SERVICES, "endpoints.json", "partitions.json", "sdk-default-configuration.json"}
)
# Bump when the trimming below changes, so cached installs are rebuilt.
_RECIPE_VERSION = "2"

CACHE_DIR_ENV = "IVS_REPLICATION_CACHE_DIR"


class BundlingError(RuntimeError):
    """Installing the handler's dependencies into its asset failed."""


def handler_code() -> lambda_.Code:
    """The handler asset, hashed from everything that shapes it (`asset_hash`): CDK then need
    not read the bundled output to hash it, and skips bundling when the asset is staged."""
    return lambda_.Code.from_asset(
        str(HANDLER_PACKAGE_DIR),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=asset_hash(),
        exclude=["**/__pycache__", "**/*.pyc"],
        bundling=BundlingOptions(
            # Never used: local bundling always succeeds or raises. CDK requires an image.
            image=DockerImage.from_registry("unused-local-bundling-only"),
            local=LocalPipBundling(),
        ),
    )


@jsii.implements(ILocalBundling)
class LocalPipBundling:
    """Builds the asset on this machine with pip, for the Lambda's platform."""

    # jsii's generated stub takes the options as keywords, but the runtime passes them as one
    # positional struct (a TypeError otherwise); this handler needs none of them.
    def try_bundle(self, output_dir: str, *_options: Any, **_keywords: Any) -> bool:  # noqa: ANN401
        build_asset(Path(output_dir))
        return True


def build_asset(output_dir: Path) -> None:
    """Write the dependencies, then the handler package, into `output_dir`."""
    # Hard links: the ~600 cached dependency files are never written to, and linking them
    # costs a fraction of copying 11 MB on every synth.
    shutil.copytree(dependencies_dir(), output_dir, dirs_exist_ok=True, copy_function=_link_or_copy)
    shutil.copytree(
        HANDLER_PACKAGE_DIR,
        output_dir / HANDLER_PACKAGE,
        ignore=shutil.ignore_patterns(
            "__pycache__", "*.pyc", "tests", "test_*.py", REQUIREMENTS_FILE.name
        ),
        dirs_exist_ok=True,
    )


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:  # another file system, or links not allowed: copy instead
        shutil.copy2(source, destination)


def asset_hash() -> str:
    """Changes whenever the bundled asset would: the dependency recipe or a handler file."""
    digest = hashlib.sha256(_dependencies_digest().encode("utf-8"))
    package = HANDLER_PACKAGE_DIR
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode("utf-8"))
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _dependencies_digest() -> str:
    recipe = "\n".join(
        (
            _RECIPE_VERSION,
            _PIP_PLATFORM,
            _PIP_PYTHON_VERSION,
            *sorted(_BOTOCORE_DATA_KEPT),
            _requirements(),
        )
    )
    return hashlib.sha256(recipe.encode("utf-8")).hexdigest()[:16]


def _requirements() -> str:
    return REQUIREMENTS_FILE.read_text(encoding="utf-8")


def dependencies_dir() -> Path:
    """A cached, trimmed install of requirements.txt for the Lambda platform."""
    target = _cache_root() / f"deps-{_dependencies_digest()}"
    if not target.is_dir():
        _install(_requirements(), target)
    return target


def _cache_root() -> Path:
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ivs-participant-replication"


def _install(requirements: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Install next to the cache entry and rename at the end: a crash leaves no half entry.
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        staging = Path(scratch) / "site"
        requirements_file = Path(scratch) / "requirements.txt"
        requirements_file.write_text(requirements, encoding="utf-8")
        _pip_install(requirements_file, staging)
        trim(staging)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # another process won the race: use its copy
                raise


def _pip_install(requirements_file: Path, staging: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "install",
        "--requirement", str(requirements_file),
        "--target", str(staging),
        "--platform", _PIP_PLATFORM,
        "--python-version", _PIP_PYTHON_VERSION,
        "--implementation", "cp",
        "--only-binary=:all:",
        "--no-compile",
        "--disable-pip-version-check",
        "--quiet",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BundlingError(
            "Installing the replication handler's dependencies failed "
            f"(`{' '.join(command)}`):\n{result.stderr.strip()[-2000:]}"
        )


def trim(site: Path) -> None:
    """Drop what the handler never loads: other services' models, boto3 resources, caches."""
    botocore_data = site / "botocore" / "data"
    for entry in botocore_data.iterdir():
        if entry.name not in _BOTOCORE_DATA_KEPT:
            _remove(entry)
    boto3_data = site / "boto3" / "data"
    if boto3_data.is_dir():
        for entry in boto3_data.iterdir():
            _remove(entry)
    for cache in [*site.rglob("__pycache__"), site / "bin"]:
        _remove(cache)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
