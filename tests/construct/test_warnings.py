"""Every synth warning of the library can be acknowledged by its documented id."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk.assertions import Annotations as AssertAnnotations
from aws_cdk.assertions import Match

from tests.construct.helpers import SOURCE_ARN, replicate

OTHER_REGION_ARN = "arn:aws:ivs:eu-west-1:123456789012:stage/OtherRegionStage1"


def test_the_cross_region_warning_goes_away_once_acknowledged(stack: cdk.Stack) -> None:
    warned = replicate(stack, "Warned", source_stage=SOURCE_ARN, destination_stage=OTHER_REGION_ARN)
    acknowledged = replicate(
        stack,
        "Acknowledged",
        source_stage=SOURCE_ARN,
        destination_stage=OTHER_REGION_ARN,
        participant_id="host-2",
    )
    cdk.Annotations.of(acknowledged).acknowledge_warning(
        "ivs-replication:cross-region-or-account", "tested there"
    )

    warnings = AssertAnnotations.from_stack(stack).find_warning("*", Match.any_value())
    paths = {w.id for w in warnings}  # the construct path, as "/Stack/Construct"
    assert f"/{warned.node.path}" in paths
    assert f"/{acknowledged.node.path}" not in paths
