"""The handler's Lambda asset: the prebuilt bundle this package ships.

``_bundle/handler.zip`` holds the handler package and its pinned SDK for the Lambda's platform
(built by ``hatch_build.py`` when the wheel is built, or by ``make bundle`` in a checkout), so
synthesizing a stack only copies that file: no pip, no network, no cache, no Docker. The
asset's hash is the zip's, which changes exactly when the handler or a pin does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jsii
from aws_cdk import AspectPriority, Aspects, CfnResource, IAspect, IStableStringProducer, Lazy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct, IConstruct

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


class BundleCode(lambda_.Code):
    """The code of a stack's functions: one bundle (the prebuilt one, or the one the stack
    configured), staged as one asset when the app is synthesized. So the bundle can be chosen
    after the functions exist, and the other one is never staged or uploaded.

    `bundle` says which zip, when asked at synth; the asset goes under `scope`.
    """

    def __init__(self, scope: Construct, bundle: Callable[[], Path]) -> None:
        super().__init__()
        self._bundle = bundle
        self._functions: list[CfnResource] = []
        self._location: tuple[str, str] | None = None
        self._anchor = Construct(scope, "Bundle")
        # Before anything is resolved: the asset exists by the time the template is written.
        Aspects.of(self._anchor).add(_StageBundle(self), priority=AspectPriority.MUTATING)
        self._bucket = Lazy.string(_Location(self, 0))
        self._key = Lazy.string(_Location(self, 1))

    def bind(self, scope: Construct) -> lambda_.CodeConfig:
        return lambda_.CodeConfig(
            s3_location=s3.Location(bucket_name=self._bucket, object_key=self._key)
        )

    def bind_to_resource(
        self, resource: CfnResource, *, resource_property: str | None = None
    ) -> None:
        # Its asset metadata (for SAM and the CLI's local tools) is written once it is staged.
        self._functions.append(resource)

    def stage(self, anchor: IConstruct) -> None:
        """Stage the bundle as the functions' asset (once), if `anchor` is this code's."""
        if anchor is not self._anchor or self._location is not None:
            return
        asset = s3_assets.Asset(self._anchor, "Asset", path=str(self._bundle()))
        for function in self._functions:
            asset.add_resource_metadata(function, "Code")
        self._location = (asset.s3_bucket_name, asset.s3_object_key)

    def location(self, part: int) -> str:
        if self._location is None:
            raise RuntimeError(
                f"{self._anchor.node.path}: the Lambda bundle was not staged before the template "
                "was written (the library stages it in an aspect; were aspects skipped?)"
            )
        return self._location[part]


@jsii.implements(IAspect)
class _StageBundle:
    def __init__(self, code: BundleCode) -> None:
        self._code = code

    def visit(self, node: IConstruct) -> None:
        self._code.stage(node)


@jsii.implements(IStableStringProducer)
class _Location:
    def __init__(self, code: BundleCode, part: int) -> None:
        self._code = code
        self._part = part

    def produce(self) -> str:
        return self._code.location(self._part)
