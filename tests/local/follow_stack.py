"""A follow-mode stack's template, in the shape `cdk synth` gives `IngestReplication` and
`ReplicationSweep` (trimmed to what a local deployment reads), and a stand-in function runtime.

Resources are listed rules first, so only dependency ordering (not template order) can create
the custom resources before the rule that depends on them.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from ivs_replication_handler.contract import (
    ENV_REGISTRY_TABLE,
    ON_EVENT_ENTRY_POINT,
    RECONCILER_ENTRY_POINT,
    RESOURCE_TYPE,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ivs_replication.testing.events import LocalEventBus
    from ivs_replication.testing.runtime import LocalFunction

DESTINATIONS = ("Side0", "Side1", "Side2")
REPLICATIONS = tuple(f"Into{side}" for side in DESTINATIONS)
RULE = "PublisherRule"
SWEEP = "SweepSchedule"
TABLE = "Registry"
HANDLER = "OnEvent"
RECONCILER = "Reconciler"
PERMISSION = "InvokeFromRules"
SWEEP_INPUT = {"IvsReplicationSweep": True}


def get_att(logical_id: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def follow_template(*, reconnect_window_seconds: int = 0) -> dict[str, Any]:
    """Main stage, an encoder into it, its participant followed into three side stages."""
    resources: dict[str, Any] = {
        RULE: {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventPattern": {
                    "source": ["aws.ivs"],
                    "detail-type": ["IVS Stage Update"],
                    "detail": {
                        "event_name": ["Participant Published"],
                        "participant_id": [get_att("Encoder", "ParticipantId")],
                    },
                    "resources": [get_att("MainStage", "Arn")],
                },
                "State": "ENABLED",
                "Targets": [{"Arn": get_att(RECONCILER, "Arn"), "Id": "Reconciler"}],
            },
            "DependsOn": [*REPLICATIONS, PERMISSION],
        },
        SWEEP: {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "ScheduleExpression": "rate(5 minutes)",
                "State": "ENABLED",
                "Targets": [
                    {
                        "Arn": get_att(RECONCILER, "Arn"),
                        "Id": "Reconciler",
                        "Input": json.dumps(SWEEP_INPUT),
                    }
                ],
            },
            "DependsOn": [PERMISSION],
        },
        **{
            replication: _replication(side, reconnect_window_seconds)
            for replication, side in zip(REPLICATIONS, DESTINATIONS, strict=True)
        },
        "MainStage": {"Type": "AWS::IVS::Stage", "Properties": {"Name": "main"}},
        **{
            side: {"Type": "AWS::IVS::Stage", "Properties": {"Name": side.lower()}}
            for side in DESTINATIONS
        },
        "Encoder": {
            "Type": "AWS::IVS::IngestConfiguration",
            "Properties": {"IngestProtocol": "RTMPS", "StageArn": get_att("MainStage", "Arn")},
        },
        TABLE: {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "AttributeDefinitions": [
                    {"AttributeName": "Publisher", "AttributeType": "S"},
                    {"AttributeName": "DestinationStageArn", "AttributeType": "S"},
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [
                    {"AttributeName": "Publisher", "KeyType": "HASH"},
                    {"AttributeName": "DestinationStageArn", "KeyType": "RANGE"},
                ],
            },
            "UpdateReplacePolicy": "Delete",
            "DeletionPolicy": "Delete",
        },
        "HandlerRole": {"Type": "AWS::IAM::Role", "Properties": {}},
        HANDLER: _function(ON_EVENT_ENTRY_POINT, {ENV_REGISTRY_TABLE: {"Ref": TABLE}}),
        "Framework": _function(
            "framework.onEvent", {"USER_ON_EVENT_FUNCTION_ARN": get_att(HANDLER, "Arn")}
        ),
        RECONCILER: _function(RECONCILER_ENTRY_POINT, {ENV_REGISTRY_TABLE: {"Ref": TABLE}}),
        PERMISSION: {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": get_att(RECONCILER, "Arn"),
                "Principal": "events.amazonaws.com",
            },
        },
        "CDKMetadata": {
            "Type": "AWS::CDK::Metadata",
            "Properties": {"Analytics": "v2:deflate64:..."},
            "Condition": "CDKMetadataAvailable",
        },
    }
    return {
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
            }
        },
        "Conditions": {
            # CDK's, shortened: the regions where CDK metadata is collected.
            "CDKMetadataAvailable": {
                "Fn::Or": [
                    {"Fn::Equals": [{"Ref": "AWS::Region"}, region]}
                    for region in ("eu-west-1", "us-east-1", "us-west-2")
                ]
            }
        },
        "Resources": resources,
        "Rules": {
            "CheckBootstrapVersion": {
                "Assertions": [
                    {
                        "Assert": {
                            "Fn::Not": [
                                {
                                    "Fn::Contains": [
                                        ["1", "2", "3", "4", "5"],
                                        {"Ref": "BootstrapVersion"},
                                    ]
                                }
                            ]
                        },
                        "AssertDescription": "CDK bootstrap stack version 6 required.",
                    }
                ]
            }
        },
    }


def _replication(side: str, reconnect_window_seconds: int) -> dict[str, Any]:
    return {
        "Type": RESOURCE_TYPE,
        "Properties": {
            "ServiceToken": get_att("Framework", "Arn"),
            "ServiceTimeout": "600",
            "SourceStageArn": get_att("MainStage", "Arn"),
            "DestinationStageArn": {"Ref": side},
            "ParticipantId": get_att("Encoder", "ParticipantId"),
            "Attributes": {},
            "ReconnectWindowSeconds": reconnect_window_seconds,
            "WhenNotPublishing": "FOLLOW",
            "WaitForPublisherSeconds": 0,
        },
        "UpdateReplacePolicy": "Delete",
        "DeletionPolicy": "Delete",
    }


def _function(handler: str, variables: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Handler": handler,
            "Runtime": "python3.14",
            "Timeout": 300,
            "Role": get_att("HandlerRole", "Arn"),
            "Environment": {"Variables": variables},
        },
        "DependsOn": ["HandlerRole"],
    }


def with_changes(template: dict[str, Any], logical_id: str, **changes: Any) -> dict[str, Any]:
    """A copy of `template` with top-level keys of one resource replaced."""
    changed = copy.deepcopy(template)
    changed["Resources"][logical_id].update(changes)
    return changed


class StandInRuntime:
    """Functions that record what they get, instead of this library's handlers.

    The custom-resource handler answers a physical id made from the logical id and notes
    which rules still existed on the bus when it received each request.
    """

    def __init__(self, bus: LocalEventBus) -> None:
        self.bus = bus
        self.requests: list[tuple[str, str, list[str]]] = []
        self.requests_properties: dict[str, Mapping[str, object]] = {}
        self.invocations: list[tuple[str, object]] = []
        self.functions: list[LocalFunction] = []

    def custom_resource_handler(self, function: LocalFunction) -> Any:
        self.functions.append(function)

        def handle(event: dict[str, Any], context: Any) -> dict[str, object]:
            logical_id = event["LogicalResourceId"]
            self.requests.append((event["RequestType"], logical_id, sorted(self.bus.rules())))
            self.requests_properties[logical_id] = event["ResourceProperties"]
            return {"PhysicalResourceId": f"{logical_id}-physical", "Data": {"Answer": "42"}}

        return handle

    def event_target(self, function: LocalFunction) -> Any:
        self.functions.append(function)

        def invoke(payload: object) -> str:
            self.invocations.append((function.logical_id, payload))
            return "reconciled"

        return invoke
