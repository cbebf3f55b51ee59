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


# IAM actions the handler needs, on stage ARNs.
IAM_ACTIONS = (
    "ivs:StartParticipantReplication",
    "ivs:StopParticipantReplication",
    "ivs:ListParticipantReplicas",
)
