"""The library's cdk-nag acknowledgments, as cdk-nag 2 reads them: the `cdk_nag` metadata of
each resource, in `NagSuppressions`' own format, kept beside what the application writes."""

from __future__ import annotations

import base64
from typing import Any

from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Template

from ivs_replication import ReplicationProvider
from ivs_replication.nag import Finding
from tests.construct.helpers import new_stack, replicate

USERS = {"id": "AwsSolutions-IAM4", "reason": "The application's own reason, kept."}


def suppressions_of(template: dict[str, Any], type_name: str, contains: str) -> list[Any]:
    [found] = [
        r["Metadata"]["cdk_nag"]["rules_to_suppress"]
        for lid, r in template["Resources"].items()
        if r["Type"] == type_name and contains in lid
    ]
    return found


def test_suppressions_are_written_as_nag_suppressions_writes_them() -> None:
    stack = new_stack()
    replicate(stack)
    template = Template.from_stack(stack).to_json()

    handler_policy = suppressions_of(template, "AWS::IAM::Policy", "OnEventRole")
    [wildcard] = [s for s in handler_policy if s["id"] == "AwsSolutions-IAM5"]
    assert wildcard["applies_to"] == [
        "Resource::arn:<AWS::Partition>:ivs:<AWS::Region>:<AWS::AccountId>:stage/*"
    ]
    assert set(wildcard) == {"id", "reason", "applies_to"}
    whole = [s for s in handler_policy if s["id"] != "AwsSolutions-IAM5"]
    assert {s["id"] for s in whole} == {
        "NIST.800.53.R5-IAMNoInlinePolicy",
        "HIPAA.Security-IAMNoInlinePolicy",
        "PCI.DSS.321-IAMNoInlinePolicy",
    }
    assert all(set(s) == {"id", "reason"} for s in whole)


def test_what_the_application_suppressed_stays_when_the_library_adds_more() -> None:
    """A setting given later (a VPC) adds a finding to a policy the application already
    suppressed something on: both stay, as NagSuppressions merges."""
    stack = new_stack()
    replicate(stack)
    provider = ReplicationProvider.of(stack)
    [policy] = [
        c
        for c in provider.node.find_all()
        if c.node.path.endswith("OnEventRole/DefaultPolicy/Resource")
    ]
    policy.add_metadata("cdk_nag", {"rules_to_suppress": [USERS]})  # type: ignore[attr-defined]
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a"],
        private_subnet_ids=["subnet-0aaaaaaaaaaaaaaa1"],
    )
    provider.configure(vpc=vpc)

    suppressions = suppressions_of(
        Template.from_stack(stack).to_json(), "AWS::IAM::Policy", "OnEventRole"
    )
    assert USERS in suppressions
    assert {"Resource::*"} <= {a for s in suppressions for a in s.get("applies_to", [])}


def test_a_reason_beyond_latin_1_is_stored_base64_encoded_as_cdk_nag_2_does() -> None:
    reason = "Replicas go to every stage → none is missed."
    entry = Finding("AwsSolutions", "AwsSolutions-SQS3", reason).suppression()
    assert entry["is_reason_encoded"] is True
    assert base64.b64decode(entry["reason"]).decode() == reason
    plain = Finding("AwsSolutions", "AwsSolutions-SQS3", "plain reason").suppression()
    assert plain == {"reason": "plain reason", "id": "AwsSolutions-SQS3"}
