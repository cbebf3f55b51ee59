"""Stacks for construct tests, synthesized without bundling the asset: templates only, fast."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ivs as ivs

from ivs_replication import ParticipantReplication

# Skips the pip-based asset bundling (tests/packaging covers the real asset).
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}

SOURCE_ARN = "arn:aws:ivs:us-east-1:123456789012:stage/SourceStage1"
DESTINATION_ARN = "arn:aws:ivs:us-east-1:123456789012:stage/DestinationStage1"
OTHER_DESTINATION_ARN = "arn:aws:ivs:us-east-1:123456789012:stage/DestinationStage2"


def new_stack(**stack_props: Any) -> cdk.Stack:
    return cdk.Stack(cdk.App(context=NO_BUNDLING), "TestStack", **stack_props)


def replicate(
    stack: cdk.Stack, construct_id: str = "Replication", **overrides: Any
) -> ParticipantReplication:
    props: dict[str, Any] = {
        "source_stage": SOURCE_ARN,
        "destination_stage": DESTINATION_ARN,
        "participant_id": "host-1",
    }
    props.update(overrides)
    return ParticipantReplication(stack, construct_id, **props)


def cfn_stage(stack: cdk.Stack, construct_id: str) -> ivs.CfnStage:
    return ivs.CfnStage(stack, construct_id, name=construct_id.lower())
