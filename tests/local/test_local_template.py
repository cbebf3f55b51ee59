"""Reading a synthesized template for a local deployment: stages, replications, intrinsics."""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from ivs_replication.local.template import (
    LocalTemplate,
    TemplateStage,
    UnsupportedTemplateError,
    resolve_properties,
    template_replications,
    template_stages,
)

if TYPE_CHECKING:
    from ivs_replication.local import LocalIvsRealtime

SOURCE_ARN = "arn:aws:ivs:us-east-1:123456789012:stage/Source000001"
DESTINATION_ARN = "arn:aws:ivs:us-east-1:123456789012:stage/Destination1"
STAGE_ARNS = {"MainStage": SOURCE_ARN, "SideStage": DESTINATION_ARN}

# The shape `cdk synth` gives app.py (trimmed to what matters here).
TEMPLATE: dict[str, Any] = {
    "Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>"}},
    "Resources": {
        "MainStage": {"Type": "AWS::IVS::Stage", "Properties": {"Name": "main"}},
        "SideStage": {"Type": "AWS::IVS::Stage"},
        "ProviderOnEvent": {"Type": "AWS::Lambda::Function", "Properties": {}},
        "HostIntoSideStage1234": {
            "Type": "Custom::IvsParticipantReplication",
            "Properties": {
                "ServiceToken": {"Fn::GetAtt": ["ProviderOnEvent", "Arn"]},
                "ServiceTimeout": "600",
                "SourceStageArn": {"Ref": "MainStage"},
                "DestinationStageArn": {"Fn::GetAtt": ["SideStage", "Arn"]},
                "ParticipantId": "host-1",
                "Attributes": {"role": "cohost"},
                "ReconnectWindowSeconds": 30,
            },
        },
    },
}
REPLICATION = "HostIntoSideStage1234"


def with_property(name: str, value: object) -> dict[str, Any]:
    template = copy.deepcopy(TEMPLATE)
    template["Resources"][REPLICATION]["Properties"][name] = value
    return template


def resolve(template: dict[str, Any]) -> dict[str, object]:
    [replication] = template_replications(template)
    return resolve_properties(template, replication, STAGE_ARNS)


def test_stages_are_named_by_their_name_property_or_else_their_logical_id() -> None:
    assert template_stages(TEMPLATE) == [
        TemplateStage("MainStage", "main"),
        TemplateStage("SideStage", "SideStage"),
    ]


def test_refs_and_getatt_arn_of_stages_resolve_to_the_local_arns_and_literals_stay() -> None:
    assert resolve(TEMPLATE) == {
        "ServiceTimeout": "600",
        "SourceStageArn": SOURCE_ARN,
        "DestinationStageArn": DESTINATION_ARN,
        "ParticipantId": "host-1",
        "Attributes": {"role": "cohost"},
        "ReconnectWindowSeconds": 30,
    }


def test_the_short_getatt_form_resolves_too() -> None:
    template = with_property("SourceStageArn", {"Fn::GetAtt": "MainStage.Arn"})

    assert resolve(template)["SourceStageArn"] == SOURCE_ARN


def test_the_service_token_is_ignored_whatever_it_refers_to() -> None:
    template = with_property("ServiceToken", {"Fn::ImportValue": "SomeProvider"})

    assert "ServiceToken" not in resolve(template)


@pytest.mark.parametrize(
    ("prop", "value", "intrinsic", "why"),
    [
        (
            "SourceStageArn",
            {"Fn::Join": ["", ["arn:aws:ivs:", {"Ref": "AWS::Region"}]]},
            "Fn::Join",
            "not evaluated",
        ),
        ("SourceStageArn", {"Fn::Sub": "arn:aws:ivs:${AWS::Region}"}, "Fn::Sub", "not evaluated"),
        ("ParticipantId", {"Ref": "BootstrapVersion"}, "Ref BootstrapVersion", "parameters"),
        ("ParticipantId", {"Ref": "AWS::AccountId"}, "Ref AWS::AccountId", "pseudo parameters"),
        ("SourceStageArn", {"Ref": "ProviderOnEvent"}, "Ref ProviderOnEvent", "Lambda::Function"),
        ("SourceStageArn", {"Ref": "Missing"}, "Ref Missing", "not in the template"),
        (
            "DestinationStageArn",
            {"Fn::GetAtt": ["ProviderOnEvent", "Arn"]},
            "Fn::GetAtt ProviderOnEvent.Arn",
            "Lambda::Function",
        ),
        (
            "ParticipantId",
            {"Fn::GetAtt": ["MainStage", "ActiveSessionId"]},
            "Fn::GetAtt MainStage.ActiveSessionId",
            "only a stage's Arn",
        ),
        ("Attributes.role", {"Fn::If": ["Cond", "a", "b"]}, "Fn::If", "not evaluated"),
    ],
)
def test_anything_else_is_refused_naming_resource_property_and_intrinsic(
    prop: str, value: object, intrinsic: str, why: str
) -> None:
    if prop == "Attributes.role":
        template = with_property("Attributes", {"role": value})
    else:
        template = with_property(prop, value)

    with pytest.raises(UnsupportedTemplateError) as raised:
        resolve(template)

    error = raised.value
    assert (error.logical_id, error.prop, error.intrinsic) == (REPLICATION, prop, intrinsic)
    for part in (REPLICATION, prop, intrinsic, why):
        assert part in str(error)


def test_a_conditional_replication_is_refused() -> None:
    template = copy.deepcopy(TEMPLATE)
    template["Resources"][REPLICATION]["Condition"] = "InProduction"

    with pytest.raises(UnsupportedTemplateError, match=r"Condition InProduction"):
        template_replications(template)


def test_a_stage_name_that_is_not_a_literal_is_refused() -> None:
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["MainStage"]["Properties"]["Name"] = {"Fn::Sub": "${AWS::StackName}"}

    with pytest.raises(UnsupportedTemplateError, match=r"MainStage, property Name: Fn::Sub"):
        template_stages(template)


def test_local_template_creates_one_stage_per_template_stage(local_ivs: LocalIvsRealtime) -> None:
    local = LocalTemplate(TEMPLATE, local_ivs)

    arns = local.create_stages()
    again = local.create_stages()

    assert again == arns
    assert set(arns) == {"MainStage", "SideStage"}
    names = {stage["arn"]: stage["name"] for stage in local_ivs.snapshot()["stages"]}
    assert names == {arns["MainStage"]: "main", arns["SideStage"]: "SideStage"}
    assert local.stage_names == names


def test_local_template_yields_resolved_properties_per_logical_id(
    local_ivs: LocalIvsRealtime,
) -> None:
    local = LocalTemplate(TEMPLATE, local_ivs)
    arns = local.create_stages()

    [(logical_id, properties)] = local.replication_properties().items()

    assert logical_id == REPLICATION
    assert properties["SourceStageArn"] == arns["MainStage"]
    assert properties["DestinationStageArn"] == arns["SideStage"]


def test_before_its_stages_exist_a_reference_is_refused(local_ivs: LocalIvsRealtime) -> None:
    with pytest.raises(UnsupportedTemplateError, match=r"no local ARN yet"):
        LocalTemplate(TEMPLATE, local_ivs).replication_properties()


def test_the_local_modules_do_not_load_the_cdk() -> None:
    code = (
        "import sys, ivs_replication.local.template, ivs_replication.local.deploy;"
        "loaded = [m for m in ('aws_cdk', 'jsii', 'boto3') if m in sys.modules];"
        "print(' '.join(loaded))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
