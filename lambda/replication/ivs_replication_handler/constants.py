"""Names shared by the CDK construct and the handler, so the coupling is checked, not remembered."""

from __future__ import annotations

RESOURCE_TYPE = "Custom::IvsParticipantReplication"
ON_EVENT_ENTRY_POINT = "ivs_replication_handler.handler.on_event"
LOGGER_SERVICE = "ivs-participant-replication"

# Custom-resource properties, as CloudFormation delivers them.
PROP_SOURCE_STAGE_ARN = "SourceStageArn"
PROP_DESTINATION_STAGE_ARN = "DestinationStageArn"
PROP_PARTICIPANT_ID = "ParticipantId"
PROP_ATTRIBUTES = "Attributes"
PROP_RECONNECT_WINDOW_SECONDS = "ReconnectWindowSeconds"


# The AWS services whose boto3 clients the functions create (ivs.py and registry.py). The
# Lambda asset keeps only these models of botocore.
AWS_SERVICES = ("ivs-realtime", "dynamodb")

# IAM actions the handler needs, on stage ARNs.
IAM_ACTIONS = (
    "ivs:StartParticipantReplication",
    "ivs:StopParticipantReplication",
    "ivs:ListParticipantReplicas",
)

# --- What deploy does when the participant is not publishing --------------------------------
PROP_WHEN_NOT_PUBLISHING = "WhenNotPublishing"
PROP_WAIT_SECONDS = "WaitForPublisherSeconds"  # only with MODE_WAIT
MODE_FAIL = "FAIL"  # the default: the request fails with a message naming the other modes
MODE_WAIT = "WAIT"  # retry Start until the participant publishes, up to PROP_WAIT_SECONDS
MODE_FOLLOW = "FOLLOW"  # succeed now; the reconciler starts it whenever the participant publishes
MODES = (MODE_FAIL, MODE_WAIT, MODE_FOLLOW)

# Time one request may work, before any wait for the publisher. The handler's Lambda timeout
# is this plus the longest wait declared in its stack; the provider framework's own function
# calls it synchronously with a 15-minute timeout, which bounds the longest wait.
REQUEST_BUDGET_SECONDS = 300
WAIT_MAX_SECONDS = 540

# --- Follow mode ----------------------------------------------------------------------------
RECONCILER_ENTRY_POINT = "ivs_replication_handler.reconciler.on_event"
# The registry of follow-mode declarations: a DynamoDB table, written by the custom-resource
# handler before it starts (and removed before it stops) a replication, read by the
# reconciler. It is what lets a sweep cover any number of declarations, and what makes a late
# event unable to restart a deleted replication.
ENV_REGISTRY_TABLE = "IVS_REPLICATION_REGISTRY_TABLE"
REGISTRY_PARTITION_KEY = "Publisher"  # "<source stage ARN>|<participant id>"
REGISTRY_SORT_KEY = "DestinationStageArn"
REGISTRY_HANDLER_ACTIONS = ("dynamodb:PutItem", "dynamodb:DeleteItem")
REGISTRY_RECONCILER_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan")

# The EventBridge events that trigger the reconciler.
EVENT_SOURCE = "aws.ivs"
EVENT_DETAIL_TYPE = "IVS Stage Update"
EVENT_PARTICIPANT_PUBLISHED = "Participant Published"
# The periodic sweep's rule sends this constant input: {SWEEP_INPUT_KEY: true}. It stays a
# few bytes however many declarations exist; the sweep reads them from the registry.
SWEEP_INPUT_KEY = "IvsReplicationSweep"
