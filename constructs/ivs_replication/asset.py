"""The handler's Lambda asset: the prebuilt bundle this package ships.

``_bundle/handler.zip`` holds the handler package and its pinned SDK for the Lambda's platform
(built by ``hatch_build.py`` when the wheel is built, or by ``make bundle`` in a checkout), so
synthesizing a stack only copies that file: no pip, no network, no cache, no Docker. The
asset's hash is the zip's, which changes exactly when the handler or a pin does.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_lambda as lambda_

BUNDLE = Path(__file__).resolve().parent / "_bundle" / "handler.zip"

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64


class BundleMissingError(FileNotFoundError):
    """The prebuilt Lambda bundle is not where the library expects it."""


def handler_code() -> lambda_.Code:
    """The bundle as the functions' code (one asset, shared by every function of a stack)."""
    return lambda_.Code.from_asset(str(bundle_path()))


def bundle_path() -> Path:
    """The bundle's path; raise BundleMissingError saying how to get one."""
    if not BUNDLE.is_file():
        raise BundleMissingError(
            f"The prebuilt Lambda bundle of ivs-participant-replication is missing ({BUNDLE}). "
            "An installed wheel always carries it: reinstall the package. In a checkout, run "
            "`make bundle` (or `make setup`) once, and again after changing the handler."
        )
    return BUNDLE
