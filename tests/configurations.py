"""Users' configurations the gates run over: stacks env-agnostic or in a concrete account and
region of each partition (aws, aws-cn, aws-us-gov), with no feature flag set or with every
flag the installed aws-cdk-lib recommends (what `cdk init` writes into cdk.json).

Imports only aws-cdk-lib and the standard library: the cdk-nag 2 gate runs this module in a
virtual environment of its own (tests/app/nag2_matrix.py).
"""

from __future__ import annotations

import functools
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk

# Templates only: the Lambda asset's bundling is covered by tests/app.
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}
ACCOUNT = "123456789012"
# The file `cdk init` reads from the installed aws-cdk-lib to write cdk.json's context.
RECOMMENDED_FLAGS_FILE = "package/recommended-feature-flags.json"


@functools.cache
def recommended_flags() -> dict[str, Any]:
    """Every feature flag the installed aws-cdk-lib recommends, with its recommended value:
    its own ``recommended-feature-flags.json`` (the jsii package the Python distribution
    ships holds the JavaScript library's files)."""
    import aws_cdk._jsii as shipped  # where the jsii package lies

    [package] = Path(shipped.__file__).parent.glob("aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(package) as archive:
        member = archive.extractfile(RECOMMENDED_FLAGS_FILE)
        assert member is not None, f"{RECOMMENDED_FLAGS_FILE} missing from {package.name}"
        flags: dict[str, Any] = json.load(member)
    return flags


@dataclass(frozen=True)
class Configuration:
    """How a user's app is set up: `region` None for an env-agnostic stack (Default), else
    the account ACCOUNT in that region; `recommended` whether every recommended feature flag
    is set (Default: none is)."""

    name: str
    region: str | None = None
    recommended: bool = False

    @property
    def partition(self) -> str | None:
        if self.region is None:
            return None
        if self.region.startswith("cn-"):
            return "aws-cn"
        return "aws-us-gov" if self.region.startswith("us-gov-") else "aws"

    @property
    def env(self) -> cdk.Environment | None:
        return None if self.region is None else cdk.Environment(account=ACCOUNT, region=self.region)

    def context(self) -> dict[str, Any]:
        return {**NO_BUNDLING, **(recommended_flags() if self.recommended else {})}

    def app(self, outdir: str | None = None) -> cdk.App:
        # CDK's own check of resource types against each region's (no cdk-nag rule) fails an
        # IVS stage in aws-cn and aws-us-gov, where IVS has none, once the recommended flags
        # make it an error: off, so the gates check the library's resources there too.
        return cdk.App(
            outdir=outdir, context=self.context(), builtin_cloud_formation_validation=False
        )


REGIONS: dict[str, str | None] = {
    "agnostic": None,
    "aws": "us-east-1",
    "aws-cn": "cn-north-1",
    "aws-us-gov": "us-gov-west-1",
}
CONFIGURATIONS = [
    Configuration(f"{where}{'-recommended' if recommended else ''}", region, recommended)
    for where, region in REGIONS.items()
    for recommended in (False, True)
]
