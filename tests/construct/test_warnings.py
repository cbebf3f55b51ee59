"""Every synth warning of the library can be acknowledged by its documented id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations as AssertAnnotations
from aws_cdk.assertions import Match

from ivs_replication import FAIL_WITH_NEW_SOURCE_STAGE_WARNING
from tests.construct.helpers import SOURCE_ARN, cfn_stage, new_stack, replicate

OTHER_REGION_ARN = "arn:aws:ivs:eu-west-1:123456789012:stage/OtherRegionStage1"
OTHER_ACCOUNT_ARN = "arn:aws:ivs:us-east-1:999999999999:stage/OtherAccountStage1"
# A stack whose account is known, so that a stage of another account can be told apart.
IN_ACCOUNT = {"env": cdk.Environment(account="123456789012", region="us-east-1")}


def _cross_region(_stack: cdk.Stack) -> dict[str, Any]:
    return {"source_stage": SOURCE_ARN, "destination_stage": OTHER_REGION_ARN}


def _foreign_account(_stack: cdk.Stack) -> dict[str, Any]:
    return {"source_stage": OTHER_ACCOUNT_ARN}


def _fail_with_new_source_stage(stack: cdk.Stack) -> dict[str, Any]:
    # fail() is `replicate`'s default mode.
    return {"source_stage": cfn_stage(stack, "NewSource")}


@pytest.mark.parametrize(
    ("warning_id", "props_in", "stack_props"),
    [
        ("ivs-replication:cross-region-or-account", _cross_region, {}),
        ("ivs-replication:foreign-account", _foreign_account, IN_ACCOUNT),
        (FAIL_WITH_NEW_SOURCE_STAGE_WARNING, _fail_with_new_source_stage, {}),
    ],
    ids=["cross-region-or-account", "foreign-account", "fail-with-new-source-stage"],
)
def test_each_warning_goes_away_once_acknowledged_by_its_id(
    warning_id: str,
    props_in: Callable[[cdk.Stack], dict[str, Any]],
    stack_props: dict[str, Any],
) -> None:
    stack = new_stack(**stack_props)
    props = props_in(stack)
    warned = replicate(stack, "Warned", **props)
    acknowledged = replicate(stack, "Acknowledged", participant_id="host-2", **props)
    cdk.Annotations.of(acknowledged).acknowledge_warning(warning_id, "tested there")

    warnings = AssertAnnotations.from_stack(stack).find_warning("*", Match.any_value())
    # The construct path ("/Stack/Construct") of each warning with this id.
    paths = {w.id for w in warnings if f"[ack: {warning_id}]" in str(w.entry.data)}
    assert f"/{warned.node.path}" in paths
    assert f"/{acknowledged.node.path}" not in paths
