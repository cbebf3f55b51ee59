"""TemplateDeployment resolves what CDK writes into a template - parameters, conditions,
Fn::If and AWS::NoValue, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, outputs - to the values
CloudFormation would give, and refuses everything else before creating anything, naming the
resource, its construct path, the property and the intrinsic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
import pytest
from aws_cdk import Aws, Fn, Token
from aws_cdk import aws_ivs as ivs_cdk

from ivs_realtime_emulator import ManualClock
from ivs_realtime_emulator.server import IvsRealtimeEmulator
from ivs_replication.testing import (
    LOCAL_BOOTSTRAP_VERSION,
    ParameterValueError,
    TemplateDeployment,
    TemplateDeploymentError,
    UnsupportedTemplateError,
)
from ivs_replication.testing.deployment import creation_order

if TYPE_CHECKING:
    from collections.abc import Iterator

STAGE = "AWS::IVS::Stage"
# What the CDK CLI sets, so templates carry construct paths and CDK's metadata resource.
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:version-reporting": True}


@pytest.fixture
def ivs() -> Iterator[IvsRealtimeEmulator]:
    with IvsRealtimeEmulator(clock=ManualClock()) as server:
        yield server


def stage_names(ivs: IvsRealtimeEmulator) -> list[str]:
    return sorted(stage["name"] for stage in ivs.snapshot()["stages"])


def stages_template(
    names: dict[str, object], outputs: dict[str, object] | None = None, **sections: Any
) -> dict[str, Any]:
    """A template of stages (logical id -> Name), with outputs (id -> Value) and sections."""
    return {
        **sections,
        "Resources": {
            logical_id: {"Type": STAGE, "Properties": {"Name": name}}
            for logical_id, name in names.items()
        },
        "Outputs": {output: {"Value": value} for output, value in (outputs or {}).items()},
    }


# --- a real CDK stack with parameters, a condition, Fn::If and AWS::NoValue -------------------


def parameterized_template() -> dict[str, Any]:
    app = cdk.App(context=CLI_CONTEXT)
    stack = cdk.Stack(app, "Live")
    prefix = cdk.CfnParameter(stack, "Prefix", default="live")
    env = cdk.CfnParameter(stack, "Env", allowed_values=["prod", "dev"], default="dev")
    sides = cdk.CfnParameter(stack, "Sides", type="CommaDelimitedList", default="left,right")
    prod = cdk.CfnCondition(
        stack, "IsProd", expression=Fn.condition_equals(env.value_as_string, "prod")
    )
    main = ivs_cdk.CfnStage(stack, "Main", name=Fn.sub("${Prefix}-main"))
    side_name = Fn.join("-", [prefix.value_as_string, Fn.select(1, sides.value_as_list)])
    ivs_cdk.CfnStage(stack, "Side", name=side_name)
    backup = ivs_cdk.CfnStage(stack, "Backup", name=Fn.join("-", [prefix.value_as_string, "bk"]))
    backup.cfn_options.condition = prod
    label = Fn.condition_if(prod.logical_id, Fn.sub("${Prefix}-label"), Aws.NO_VALUE)
    ivs_cdk.CfnStage(stack, "Label", name=Token.as_string(label))
    cdk.CfnOutput(stack, "Where", value=Fn.sub("${AWS::Region}|${Main.Arn}|${!Literal}|${Side}"))
    cdk.CfnOutput(stack, "MainId", value=Fn.select(1, Fn.split("/", main.attr_arn)))
    cdk.CfnOutput(stack, "BackupArn", value=backup.attr_arn).condition = prod
    template: dict[str, Any] = app.synth().get_stack_by_name("Live").template
    return template


@pytest.fixture(scope="module")
def parameterized() -> dict[str, Any]:
    return parameterized_template()


def test_parameter_defaults_and_a_false_condition_decide_what_is_created(
    ivs: IvsRealtimeEmulator, parameterized: dict[str, Any]
) -> None:
    """Defaults: Fn::Sub and Fn::Join of parameters name the stages, Fn::Select picks from a
    list parameter, the resource whose condition is false is not created, and the Fn::If
    that gives AWS::NoValue removes the Name (the stage keeps its default, the logical id)."""
    stack = TemplateDeployment(parameterized, ivs=ivs)

    stack.deploy()

    assert stage_names(ivs) == ["Label", "live-main", "live-right"]
    assert "Backup" not in stack.physical_ids
    assert "BackupArn" not in stack.outputs
    assert "CDKMetadata" in stack.physical_ids  # CDK's condition on it holds in us-east-1


def test_parameter_values_given_replace_the_defaults_and_flip_the_condition(
    ivs: IvsRealtimeEmulator, parameterized: dict[str, Any]
) -> None:
    stack = TemplateDeployment(
        parameterized, ivs=ivs, parameters={"Env": "prod", "Prefix": "show", "Sides": "a, b"}
    )

    stack.deploy()

    assert stage_names(ivs) == ["show-b", "show-bk", "show-label", "show-main"]
    assert stack.outputs["BackupArn"] == stack.physical_ids["Backup"]


def test_outputs_resolve_sub_select_and_split(
    ivs: IvsRealtimeEmulator, parameterized: dict[str, Any]
) -> None:
    stack = TemplateDeployment(parameterized, ivs=ivs)

    stack.deploy()

    main, side = stack.physical_ids["Main"], stack.physical_ids["Side"]
    assert stack.outputs["Where"] == f"us-east-1|{main}|${{Literal}}|{side}"
    assert stack.outputs["MainId"] == main.split("/")[1]


def test_deleting_removes_what_the_conditions_created(
    ivs: IvsRealtimeEmulator, parameterized: dict[str, Any]
) -> None:
    stack = TemplateDeployment(parameterized, ivs=ivs, parameters={"Env": "prod"})
    stack.deploy()

    stack.delete()

    assert stage_names(ivs) == []
    assert stack.outputs == {}


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ({"Env": "staging"}, r"Parameter Env: the value 'staging' is not one of its AllowedValues"),
        ({"Region": "x"}, r"Parameters \['Region'\] are not declared by the template"),
    ],
)
def test_a_parameter_value_the_template_refuses_is_named_before_anything_is_created(
    ivs: IvsRealtimeEmulator,
    parameterized: dict[str, Any],
    parameters: dict[str, str],
    named: str,
) -> None:
    stack = TemplateDeployment(parameterized, ivs=ivs, parameters=parameters)

    with pytest.raises(ParameterValueError, match=named):
        stack.deploy()

    assert stack.history == []
    assert stage_names(ivs) == []


def test_a_parameter_with_no_default_and_no_value_is_named(ivs: IvsRealtimeEmulator) -> None:
    template = stages_template(
        {"Main": {"Ref": "StageName"}}, Parameters={"StageName": {"Type": "String"}}
    )

    with pytest.raises(ParameterValueError, match=r"Parameter StageName has no Default"):
        TemplateDeployment(template, ivs=ivs).deploy()

    TemplateDeployment(template, ivs=ivs, parameters={"StageName": "given"}).deploy()
    assert stage_names(ivs) == ["given"]


@pytest.mark.parametrize(
    ("declaration", "value", "named"),
    [
        ({"Type": "Number", "MaxValue": 300}, "301", "is above its MaxValue 300"),
        ({"Type": "Number"}, "thirty", "is not a number"),
        ({"Type": "String", "AllowedPattern": "[a-z]+"}, "Main", "does not match"),
        ({"Type": "String", "MaxLength": 3}, "main", "is longer than its MaxLength 3"),
    ],
)
def test_a_value_outside_the_parameters_constraints_is_refused(
    ivs: IvsRealtimeEmulator, declaration: dict[str, object], value: str, named: str
) -> None:
    template = stages_template({"Main": "main"}, Parameters={"Setting": declaration})

    with pytest.raises(ParameterValueError, match=rf"Parameter Setting: .*{named}"):
        TemplateDeployment(template, ivs=ivs, parameters={"Setting": value}).deploy()


# --- CDK's bootstrap version and other SSM parameters ------------------------------------------


def test_cdks_bootstrap_version_check_passes_locally_and_fails_on_an_old_version(
    ivs: IvsRealtimeEmulator, parameterized: dict[str, Any]
) -> None:
    """The BootstrapVersion parameter reads LOCAL_BOOTSTRAP_VERSION (a current bootstrap), so
    CDK's CheckBootstrapVersion rule passes; a Parameter Store answering an old version makes
    the rule fail the deploy, by name, before anything is created."""
    assert int(LOCAL_BOOTSTRAP_VERSION) > 5  # CDK's rule refuses 1 to 5
    assert "CheckBootstrapVersion" in parameterized["Rules"]
    old = {"/cdk-bootstrap/hnb659fds/version": "4"}

    with pytest.raises(TemplateDeploymentError, match=r"Rule CheckBootstrapVersion: CDK boot"):
        TemplateDeployment(parameterized, ivs=ivs, ssm_parameters=old).deploy()

    assert stage_names(ivs) == []


def test_an_ssm_parameter_with_no_local_value_is_named(ivs: IvsRealtimeEmulator) -> None:
    declaration = {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/live/stage-name"}
    template = stages_template({"Main": {"Ref": "Name"}}, Parameters={"Name": declaration})

    with pytest.raises(ParameterValueError, match=r"SSM parameter /live/stage-name"):
        TemplateDeployment(template, ivs=ivs).deploy()

    given = {"/live/stage-name": "from-ssm"}
    TemplateDeployment(template, ivs=ivs, ssm_parameters=given).deploy()
    assert stage_names(ivs) == ["from-ssm"]


# --- conditions, Fn::If and AWS::NoValue --------------------------------------------------------


CONDITIONS = {
    "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
    "InUsEast": {"Fn::Equals": ["us-east-1", {"Ref": "AWS::Region"}]},
    "ProdInUsEast": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "InUsEast"}]},
    "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
    "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "NotProd"}]},
}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("prod", {"ProdInUsEast": "yes", "NotProd": "no", "Either": "yes"}),
        ("dev", {"ProdInUsEast": "no", "NotProd": "yes", "Either": "yes"}),
    ],
)
def test_conditions_combine_with_and_or_not_and_condition(
    ivs: IvsRealtimeEmulator, env: str, expected: dict[str, str]
) -> None:
    template = stages_template(
        {"Main": "main"},
        {name: {"Fn::If": [name, "yes", "no"]} for name in expected},
        Parameters={"Env": {"Type": "String"}},
        Conditions=CONDITIONS,
    )
    stack = TemplateDeployment(template, ivs=ivs, parameters={"Env": env})

    stack.deploy()

    assert stack.outputs == expected


def test_aws_novalue_removes_a_list_element_and_an_output_condition_drops_the_output(
    ivs: IvsRealtimeEmulator,
) -> None:
    no_value = {"Ref": "AWS::NoValue"}
    template = stages_template(
        {"Main": "main"},
        {"Joined": {"Fn::Join": ["-", ["a", {"Fn::If": ["IsProd", "b", no_value]}, "c"]]}},
        Parameters={"Env": {"Type": "String", "Default": "dev"}},
        Conditions=CONDITIONS,
    )
    template["Outputs"]["ProdOnly"] = {"Value": "p", "Condition": "IsProd"}
    stack = TemplateDeployment(template, ivs=ivs)

    stack.deploy()

    assert stack.outputs == {"Joined": "a-c"}


def test_find_in_map_and_get_azs_resolve(ivs: IvsRealtimeEmulator) -> None:
    template = stages_template(
        {"Main": {"Fn::FindInMap": ["Names", {"Ref": "AWS::Region"}, "stage"]}},
        {"Zone": {"Fn::Select": [0, {"Fn::GetAZs": ""}]}},
        Mappings={"Names": {"us-east-1": {"stage": "virginia"}}},
    )
    stack = TemplateDeployment(template, ivs=ivs)

    stack.deploy()

    assert stage_names(ivs) == ["virginia"]
    assert stack.outputs == {"Zone": "us-east-1a"}


def test_fn_sub_with_a_variable_map_substitutes_its_variables_before_references(
    ivs: IvsRealtimeEmulator,
) -> None:
    template = stages_template(
        {"Main": "main", "Side": {"Fn::Sub": ["${Main}-side", {"Main": "overridden"}]}},
        {"Arn": {"Fn::Sub": ["${Stage}", {"Stage": {"Fn::GetAtt": ["Main", "Arn"]}}]}},
    )
    stack = TemplateDeployment(template, ivs=ivs)

    stack.deploy()

    assert stage_names(ivs) == ["main", "overridden-side"]
    assert stack.outputs == {"Arn": stack.physical_ids["Main"]}


# --- ordering follows every reference form -----------------------------------------------------


def test_each_reference_form_orders_the_referenced_resource_first() -> None:
    """Resources listed before what they refer to are created after it, whether the reference
    is inside Fn::Sub, Fn::Join, Fn::Select or the chosen branch of Fn::If."""
    template = stages_template(
        {
            "BySub": {"Fn::Sub": "${Target1.Arn}-x"},
            "ByJoin": {"Fn::Join": ["-", [{"Ref": "Target2"}, "x"]]},
            "BySelect": {"Fn::Select": [0, [{"Fn::GetAtt": ["Target3", "Arn"]}]]},
            "ByIf": {"Fn::If": ["Always", {"Ref": "Target4"}, {"Ref": "Target5"}]},
            **{f"Target{n}": f"t{n}" for n in range(1, 6)},
        },
        Conditions={"Always": {"Fn::Equals": ["a", "a"]}},
    )

    order = creation_order(template)

    for referrer, target in [
        ("BySub", "Target1"),
        ("ByJoin", "Target2"),
        ("BySelect", "Target3"),
        ("ByIf", "Target4"),
    ]:
        assert order.index(target) < order.index(referrer)
    assert order.index("ByIf") < order.index("Target5")  # the branch not taken orders nothing


# --- what is refused ---------------------------------------------------------------------------


def test_a_reference_to_a_resource_left_out_by_its_condition_is_refused_before_creating(
    ivs: IvsRealtimeEmulator, parameterized: dict[str, Any]
) -> None:
    template = dict(parameterized)
    resources = dict(template["Resources"])
    main = resources["Main"]
    resources["Main"] = {**main, "Properties": {"Name": {"Ref": "Backup"}}}
    template["Resources"] = resources

    with pytest.raises(UnsupportedTemplateError) as raised:
        TemplateDeployment(template, ivs=ivs).deploy()

    message = str(raised.value)
    assert message.startswith("Resource Main (Live/Main), property Name: a reference to Backup")
    assert "Backup is not created: its Condition IsProd is false" in message
    assert stage_names(ivs) == []


def test_a_depends_on_a_resource_left_out_by_its_condition_is_refused(
    ivs: IvsRealtimeEmulator, parameterized: dict[str, Any]
) -> None:
    template = dict(parameterized)
    template["Resources"] = {
        **template["Resources"],
        "Main": {**template["Resources"]["Main"], "DependsOn": ["Backup"]},
    }

    with pytest.raises(UnsupportedTemplateError, match=r"Main \(Live/Main\), property DependsOn"):
        TemplateDeployment(template, ivs=ivs).deploy()


REFUSED_BEFORE_CREATING: list[tuple[object, str, str]] = [
    ({"Fn::Base64": "main"}, "Fn::Base64", "intrinsic functions other than these"),
    ({"Fn::Cidr": ["10.0.0.0/16", 1, 8]}, "Fn::Cidr", "intrinsic functions other than these"),
    ({"Fn::Length": [1, 2]}, "Fn::Length", "intrinsic functions other than these"),
    ({"Fn::ToJsonString": {"a": 1}}, "Fn::ToJsonString", "intrinsic functions other than these"),
    ({"Fn::Join": ["-", [{"Fn::Base64": "a"}]]}, "Fn::Base64", "intrinsic functions other"),
    ({"Fn::Equals": ["a", "a"]}, "Fn::Equals", "condition functions are evaluated in Conditions"),
    ({"Condition": "Always"}, "Condition", "condition functions are evaluated in Conditions"),
    ({"Fn::If": ["Nowhere", "a", "b"]}, "Condition Nowhere", "not in the template's Conditions"),
]
REFUSED_WHILE_CREATING: list[tuple[object, str, str]] = [
    ({"Fn::Select": [2, ["a", "b"]]}, "Fn::Select 2", "the list has 2 items"),
    ({"Fn::Sub": "${Sides}"}, "Fn::Sub ${Sides}", "only strings are substituted"),
    ({"Fn::Join": ["-", [1, 2]]}, "Fn::Join", "a list of strings is expected"),
    ({"Fn::FindInMap": ["Names", "x", "y"]}, "Fn::FindInMap Names", "not in the template's Map"),
    ({"Ref": "AWS::Partiton"}, "Ref AWS::Partiton", "this pseudo parameter has no value"),
    ({"Ref": "Nowhere"}, "Ref Nowhere", "Nowhere is not in the template"),
    (
        {"Fn::GetAtt": ["Side", "Nope"]},
        "Fn::GetAtt Side.Nope",
        "the local AWS::IVS::Stage has no Nope (it has: Arn)",
    ),
]


def refusing_template(name: object) -> dict[str, Any]:
    """Stage Side, then stage Main named by ``name`` (with a construct path)."""
    template = stages_template(
        {"Side": "side", "Main": name},
        Parameters={"Sides": {"Type": "CommaDelimitedList", "Default": "a,b"}},
        Conditions={"Always": {"Fn::Equals": ["a", "a"]}},
    )
    template["Resources"]["Main"]["Metadata"] = {"aws:cdk:path": "Live/Main/Resource"}
    return template


def assert_names_everything(message: str, intrinsic: str, why: str) -> None:
    assert "Resource Main (Live/Main/Resource), property Name: " in message
    assert f"{intrinsic} is not supported locally ({why}" in message
    assert "only literals, Ref (to a created resource" in message  # what is supported


@pytest.mark.parametrize(
    ("name", "intrinsic", "why"),
    REFUSED_BEFORE_CREATING,
    ids=[r[1] for r in REFUSED_BEFORE_CREATING],
)
def test_an_unsupported_function_is_refused_before_anything_is_created(
    ivs: IvsRealtimeEmulator, name: object, intrinsic: str, why: str
) -> None:
    stack = TemplateDeployment(refusing_template(name), ivs=ivs)

    with pytest.raises(UnsupportedTemplateError) as raised:
        stack.deploy()

    assert_names_everything(str(raised.value), intrinsic, why)
    assert stack.history == []
    assert stage_names(ivs) == []


@pytest.mark.parametrize(
    ("name", "intrinsic", "why"), REFUSED_WHILE_CREATING, ids=[r[1] for r in REFUSED_WHILE_CREATING]
)
def test_a_value_that_cannot_be_resolved_fails_its_resource_and_rolls_back(
    ivs: IvsRealtimeEmulator, name: object, intrinsic: str, why: str
) -> None:
    stack = TemplateDeployment(refusing_template(name), ivs=ivs)

    with pytest.raises(TemplateDeploymentError) as raised:
        stack.deploy()

    assert raised.value.logical_id == "Main"
    assert isinstance(raised.value.__cause__, UnsupportedTemplateError)
    assert_names_everything(raised.value.reason, intrinsic, why)
    assert [(e.logical_id, e.status) for e in stack.history] == [
        ("Side", "CREATE_COMPLETE"),
        ("Main", "CREATE_FAILED"),
        ("Side", "DELETE_COMPLETE"),
    ]
    assert stage_names(ivs) == []


@pytest.mark.parametrize(
    ("conditions", "named"),
    [
        ({"Loop": {"Condition": "Loop"}}, "a cycle: Loop -> Loop"),
        ({"Loop": {"Fn::And": [{"Condition": "Other"}]}}, "expected a list of 2 to 10"),
        ({"Loop": {"Fn::Equals": [{"Ref": "Side"}, "x"]}}, "cannot depend on a resource"),
        ({"Loop": {"Fn::Contains": [["a"], "a"]}}, "a condition is one of Fn::Equals"),
    ],
)
def test_a_condition_that_cannot_be_evaluated_is_named(
    ivs: IvsRealtimeEmulator, conditions: dict[str, object], named: str
) -> None:
    template = stages_template({"Side": "side"}, Conditions=conditions)
    template["Resources"]["Side"]["Condition"] = "Loop"

    with pytest.raises(UnsupportedTemplateError, match=rf"^Condition Loop\b.*{named}"):
        TemplateDeployment(template, ivs=ivs).deploy()


def test_a_transform_is_refused(ivs: IvsRealtimeEmulator) -> None:
    template = stages_template({"Main": "main"}, Transform="AWS::Serverless-2016-10-31")

    with pytest.raises(UnsupportedTemplateError, match=r"Transform.*macros are not expanded"):
        TemplateDeployment(template, ivs=ivs).deploy()


def test_an_unsupported_intrinsic_in_a_real_cdk_stack_names_its_construct_path(
    ivs: IvsRealtimeEmulator,
) -> None:
    app = cdk.App(context=CLI_CONTEXT)
    stack = cdk.Stack(app, "Live")
    ivs_cdk.CfnStage(stack, "Main", name=Fn.base64("main"))
    template = app.synth().get_stack_by_name("Live").template

    with pytest.raises(UnsupportedTemplateError) as raised:
        TemplateDeployment(template, ivs=ivs).deploy()

    assert raised.value.construct_path == "Live/Main"
    assert str(raised.value).startswith(
        "Resource Main (Live/Main), property Name: Fn::Base64 is not supported locally"
    )


def test_a_rule_function_no_local_rule_evaluates_is_named(ivs: IvsRealtimeEmulator) -> None:
    rule = {"Assertions": [{"Assert": {"Fn::ValueOf": ["Subnet", "VpcId"]}}]}
    template = stages_template({"Main": "main"}, Rules={"SameVpc": rule})

    with pytest.raises(UnsupportedTemplateError) as raised:
        TemplateDeployment(template, ivs=ivs).deploy()

    assert str(raised.value).startswith(
        "Rule SameVpc, property Assertions[0].Assert: Fn::ValueOf is not supported locally"
    )


def test_an_unsupported_output_is_refused_before_anything_is_created(
    ivs: IvsRealtimeEmulator,
) -> None:
    template = stages_template({"Main": "main"}, {"Encoded": {"Fn::Base64": {"Ref": "Main"}}})
    template["Outputs"]["Encoded"]["Metadata"] = {"aws:cdk:path": "Live/Encoded"}
    stack = TemplateDeployment(template, ivs=ivs)

    with pytest.raises(UnsupportedTemplateError) as raised:
        stack.deploy()

    assert str(raised.value).startswith(
        "Output Encoded (Live/Encoded), property Value: Fn::Base64 is not supported locally"
    )
    assert stack.history == []


def test_an_output_that_cannot_be_resolved_fails_the_deploy_and_rolls_back(
    ivs: IvsRealtimeEmulator,
) -> None:
    template = stages_template({"Main": "main"}, {"Missing": {"Fn::GetAtt": ["Main", "Nope"]}})
    stack = TemplateDeployment(template, ivs=ivs)

    with pytest.raises(TemplateDeploymentError, match=r"Output Missing, property Value") as raised:
        stack.deploy()

    assert raised.value.logical_id == "Missing"
    assert [e.status for e in stack.history] == ["CREATE_COMPLETE", "DELETE_COMPLETE"]
    assert stage_names(ivs) == []
    assert not stack.deployed


def test_an_export_name_that_depends_on_a_resource_is_refused(ivs: IvsRealtimeEmulator) -> None:
    """Importers must know an export's name before its stack exists."""
    template = stages_template({"Main": "main"}, {"Arn": {"Fn::GetAtt": ["Main", "Arn"]}})
    template["Outputs"]["Arn"]["Export"] = {"Name": {"Fn::Sub": "${Main}-arn"}}

    with pytest.raises(UnsupportedTemplateError, match=r"cannot depend on a resource"):
        TemplateDeployment(template, ivs=ivs).deploy()
