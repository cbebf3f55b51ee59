"""Stacks for construct tests, synthesized without bundling the asset: templates only, fast."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ivs as ivs
from aws_cdk.assertions import Template

from ivs_replication import ParticipantReplication, ReplicationSweep, WhenNotPublishing

# No bundling is left to skip (the asset is the prebuilt bundle); kept for stacks that mix in
# bundled assets of their own.
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}

SOURCE_ARN = "arn:aws:ivs:us-east-1:123456789012:stage/SourceStage1"
DESTINATION_ARN = "arn:aws:ivs:us-east-1:123456789012:stage/DestinationStage1"
OTHER_DESTINATION_ARN = "arn:aws:ivs:us-east-1:123456789012:stage/DestinationStage2"


def new_stack(**stack_props: Any) -> cdk.Stack:
    return cdk.Stack(cdk.App(context=NO_BUNDLING), "TestStack", **stack_props)


def replicate(
    stack: cdk.Stack, construct_id: str = "Replication", **overrides: Any
) -> ParticipantReplication:
    # fail() unless a test says otherwise: most construct tests look at the provider alone,
    # without follow mode's infrastructure (the default mode's own tests pass None).
    props: dict[str, Any] = {
        "source_stage": SOURCE_ARN,
        "destination_stage": DESTINATION_ARN,
        "participant_id": "host-1",
        "when_not_publishing": WhenNotPublishing.fail(),
    }
    props.update(overrides)
    return ParticipantReplication(stack, construct_id, **props)


def stack_following(publishers: int, source_stages: int) -> cdk.Stack:
    """`publishers` follow-mode replications of distinct publishers spread over
    `source_stages` source stages (ARNs of stages outside the stack), plus a sweep."""
    stack = new_stack()
    prefix = "arn:aws:ivs:us-east-1:123456789012:stage/"
    for index in range(publishers):
        replicate(
            stack,
            f"R{index}",
            source_stage=f"{prefix}Source{index % source_stages:02d}",
            destination_stage=f"{prefix}Destination{index:03d}",
            participant_id=f"publisher-{index}",
            when_not_publishing=WhenNotPublishing.follow(),
        )
    ReplicationSweep(stack, "Sweep")
    return stack


def cfn_stage(stack: cdk.Stack, construct_id: str) -> ivs.CfnStage:
    return ivs.CfnStage(stack, construct_id, name=construct_id.lower())


def ingest_configuration(stack: cdk.Stack, source: ivs.CfnStage) -> ivs.CfnIngestConfiguration:
    return ivs.CfnIngestConfiguration(
        stack, "Encoder", stage_arn=source.attr_arn, ingest_protocol="RTMPS"
    )


def logical_ids(stack: cdk.Stack, type_name: str) -> set[str]:
    return set(Template.from_stack(stack).find_resources(type_name))


def resource_types(stack: cdk.Stack) -> list[str]:
    return sorted(r["Type"] for r in Template.from_stack(stack).to_json()["Resources"].values())


# Values a deployment in this account would give the pseudo parameters.
PSEUDO = {"AWS::Partition": "aws", "AWS::AccountId": "123456789012", "AWS::Region": "us-east-1"}


def render(value: Any) -> str:
    """Render an ARN built from pseudo parameters the way CloudFormation would here."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return PSEUDO[value["Ref"]]
    separator, parts = value["Fn::Join"]
    return separator.join(render(part) for part in parts)
