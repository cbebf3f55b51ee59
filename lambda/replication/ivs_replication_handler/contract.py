"""The handler's contract with the CDK construct: names and validation rules, defined once.

The construct imports this module, and only this one, from the handler package: resource and
property names, modes, entry points, IAM actions, and the rules every property must follow.
The construct applies the rules at synth time to concrete values (naming its Python
properties); the handler applies them to the resolved CloudFormation properties (naming the
custom-resource properties). Limits come from botocore's service model for ``ivs-realtime``
(StartParticipantReplicationRequest). Pure Python: no boto3, no CDK, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# The construct's one error type, raised by every rule: re-exported for it.
from .errors import InvalidPropertyError as InvalidPropertyError  # noqa: PLC0414 - for mypy

RESOURCE_TYPE = "Custom::IvsParticipantReplication"
# A StageMirror's declaration for one destination stage: every publisher of the source stage
# (those of `PROP_USER_IDS`, when given) replicated into the destination, in follow mode.
MIRROR_RESOURCE_TYPE = "Custom::IvsStageMirror"
# Every key a request or a reconciler run adds to the functions' log lines; both entry points
# (which share one logger) clear them first, so one run never logs another's.
LOG_KEYS = (
    "request_type",
    "logical_id",
    "physical_id",
    "source_stage_arn",
    "destination_stage_arn",
    "participant_id",
    "attribute_keys",
    "reconnect_window_seconds",
    "when_not_publishing",
    "user_ids_given",
)
ON_EVENT_ENTRY_POINT = "ivs_replication_handler.handler.on_event"
LOGGER_SERVICE = "ivs-participant-replication"

# Custom-resource properties, as CloudFormation delivers them.
PROP_SOURCE_STAGE_ARN = "SourceStageArn"
PROP_DESTINATION_STAGE_ARN = "DestinationStageArn"
PROP_PARTICIPANT_ID = "ParticipantId"
PROP_ATTRIBUTES = "Attributes"
PROP_RECONNECT_WINDOW_SECONDS = "ReconnectWindowSeconds"
PROP_USER_IDS = "UserIds"  # a mirror's: only the publishers with these token user ids
# What stands for "every publisher" where a replication names its participant: a mirror's
# physical id and registry key (no participant id can be it).
EVERY_PUBLISHER = "*"


# The AWS services whose clients the functions create (ivs.py and registry.py). The
# Lambda asset keeps only these models of botocore.
AWS_SERVICES = ("ivs-realtime", "dynamodb")

# IAM actions the handler and the reconciler need, on stage ARNs. The two reads tell from
# observed state whether a refused Start means "not publishing" (its code is undocumented).
IAM_ACTIONS = (
    "ivs:StartParticipantReplication",
    "ivs:StopParticipantReplication",
    "ivs:ListParticipantReplicas",
    "ivs:GetStage",
    "ivs:GetParticipant",
    # A mirror lists who publishes in its source stage, and which replicas are its own.
    "ivs:ListParticipants",
)

# What the operator's command (`ivs-replication`, the `cli` package) calls, as IAM actions:
# `ReplicationProvider.grant_status` and `grant_reconcile` grant exactly these (a test records
# the command's calls and compares). `status` reads the stack (its resources and template) and,
# per publisher, its replicas and whether it publishes; `reconcile` invokes the reconciler, and
# `reconcile --local` runs the reconciler's own code (its IAM_ACTIONS and registry reads).
CLI_STACK_READ_ACTIONS = ("cloudformation:ListStackResources", "cloudformation:GetTemplate")
CLI_STATUS_IVS_ACTIONS = ("ivs:ListParticipantReplicas", "ivs:GetStage", "ivs:GetParticipant")
CLI_RECONCILE_INVOKE_ACTIONS = ("lambda:InvokeFunction",)

# --- What deploy does when the participant is not publishing --------------------------------
PROP_WHEN_NOT_PUBLISHING = "WhenNotPublishing"
PROP_WAIT_SECONDS = "WaitForPublisherSeconds"  # only with MODE_WAIT
MODE_FAIL = "FAIL"  # a Create fails with a message naming the other modes
MODE_WAIT = "WAIT"  # retry Start until the participant publishes, up to PROP_WAIT_SECONDS
MODE_FOLLOW = "FOLLOW"  # the default: succeed now; the reconciler starts it on every publish
MODES = (MODE_FAIL, MODE_WAIT, MODE_FOLLOW)

# IVS documents about 5 TPS for most stage APIs (replication's own rates are not documented).
# A burst of creates spreads its throttled Starts over the time the stack's replications need
# at this rate: the construct tells the handler how many replications its stack holds.
IVS_CALLS_PER_SECOND = 5.0
ENV_STACK_REPLICATIONS = "IVS_REPLICATION_STACK_REPLICATIONS"
# How many mirror destinations the stack declares: the handler of each mirror's Create starts
# the source's publishers at its share of the rate, so created together they keep to it.
ENV_STACK_MIRROR_DESTINATIONS = "IVS_REPLICATION_STACK_MIRROR_DESTINATIONS"
# The rate the stack's functions assume IVS allows, per operation (the construct sets it when a
# user raised it): the reconciler paces its calls at it and starts a fan-out's destinations
# concurrently up to it; the handler spreads a throttled burst over the time the stack's
# Starts need at it. Default: IVS_CALLS_PER_SECOND.
ENV_IVS_CALLS_PER_SECOND = "IVS_REPLICATION_IVS_CALLS_PER_SECOND"
IVS_CALLS_PER_SECOND_MAX = 100.0
CALLS_PER_SECOND_FORM = (
    f"a number of calls per second above 0 and at most {IVS_CALLS_PER_SECOND_MAX:g}"
)

# Time one request may work, before any wait for the publisher. The handler's Lambda timeout
# is this plus the longest wait declared in its stack; the provider framework's own function
# calls it synchronously with a 15-minute timeout, which bounds the longest wait.
REQUEST_BUDGET_SECONDS = 300
WAIT_MAX_SECONDS = 540

# --- Follow mode ----------------------------------------------------------------------------
RECONCILER_ENTRY_POINT = "ivs_replication_handler.reconciler.on_event"
# The registry of declarations: a DynamoDB table in every stack with a replication, written by
# the custom-resource handler before it starts (and withdrawn before it stops) a replication,
# recording which resources declare it (ownership), read by the reconciler in follow mode. It
# is what keeps a renamed construct's replication running, what lets a sweep cover any number
# of declarations, and what makes a late event unable to restart a deleted replication.
ENV_REGISTRY_TABLE = "IVS_REPLICATION_REGISTRY_TABLE"
REGISTRY_PARTITION_KEY = "Publisher"  # "<source stage ARN>|<participant id>"
REGISTRY_SORT_KEY = "DestinationStageArn"
# The handler declares (UpdateItem, the item before returned) and withdraws (UpdateItem, then
# a conditional DeleteItem or UpdateItem); it reads an item (GetItem) to tell whether a
# replication is declared explicitly (a mirror leaves those alone) or held by a mirror (a
# Delete of an explicit declaration leaves those running).
REGISTRY_HANDLER_ACTIONS = ("dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:GetItem")
REGISTRY_RECONCILER_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan")

# Lambda's retry of a failed asynchronous reconciler run (the reconciler raises when a
# declaration could not be reconciled); an event older than this is stale, a sweep covers it.
RECONCILER_RETRY_ATTEMPTS = 2
RECONCILER_MAX_EVENT_AGE_SECONDS = 3600
RECONCILER_TIMEOUT_SECONDS = 300

# --- Metrics (CloudWatch embedded metric format, written by `metrics`) ----------------------
# Both functions read their namespace and service from these variables (the construct sets
# them); the defaults apply when a variable is unset or empty. No ARN or participant id is
# ever a dimension: dimensions are the service, the stack, and the request type, outcome or
# trigger.
ENV_METRICS_NAMESPACE = "IVS_REPLICATION_METRICS_NAMESPACE"
ENV_METRICS_SERVICE = "IVS_REPLICATION_METRICS_SERVICE"
METRICS_NAMESPACE_DEFAULT = "IvsParticipantReplication"
METRICS_SERVICE_DEFAULT = LOGGER_SERVICE
DIMENSION_SERVICE = "service"  # Powertools' name for the service dimension
# The stack whose functions write a metric (the construct sets its name in every function's
# environment): one value per stack, so each stack's alarms watch its own functions only,
# however many stacks share an account, a region and the namespace. Unset: no such dimension.
ENV_STACK_NAME = "IVS_REPLICATION_STACK_NAME"
DIMENSION_STACK = "Stack"
DIMENSION_REQUEST_TYPE = "RequestType"  # Create, Update, Delete or Unknown
DIMENSION_OUTCOME = "Outcome"  # Succeeded or Failed
DIMENSION_TRIGGER = "Trigger"  # event or sweep
OUTCOME_SUCCEEDED = "Succeeded"
OUTCOME_FAILED = "Failed"
TRIGGER_SWEEP = "sweep"
TRIGGER_EVENT = "event"
# The handler: one per custom-resource request, by (RequestType, Outcome) and by Outcome alone.
METRIC_REQUESTS = "Requests"
# The reconciler: per run, by Trigger, how many declarations ended each way.
METRIC_STARTED = "ReplicationsStarted"
METRIC_ALREADY_ACTIVE = "ReplicationsAlreadyActive"
METRIC_NOT_PUBLISHING = "ReplicationsNotPublishing"
METRIC_WITHDRAWN = "ReplicationsWithdrawn"
METRIC_FAILED = "ReplicationsFailed"
# Refused because the destination stage holds as many publishers as it may (12, replicas
# included): recorded, not retried in a storm; the next publish or sweep tries again.
METRIC_OVER_QUOTA = "ReplicationsOverQuota"
# Per sweep: the declarations it went through, and the drift it found: declared replications
# that were not ACTIVE while their publisher was live (it started them), or that it could not
# check or start (failed).
METRIC_SWEEP_DECLARATIONS = "SweepDeclarations"
METRIC_SWEEP_DRIFT = "SweepDrift"

# The EventBridge events that trigger the reconciler.
EVENT_SOURCE = "aws.ivs"
EVENT_DETAIL_TYPE = "IVS Stage Update"
EVENT_PARTICIPANT_PUBLISHED = "Participant Published"
# The periodic sweep's rule sends this constant input: {SWEEP_INPUT_KEY: true}. It stays a
# few bytes however many declarations exist; the sweep reads them from the registry.
SWEEP_INPUT_KEY = "IvsReplicationSweep"

# --- Validation rules --------------------------------------------------------------------

STAGE_ARN_MAX_LENGTH = 128
STAGE_ARN_PATTERN = re.compile(r"arn:aws:ivs:[a-z0-9-]+:[0-9]+:stage/[a-zA-Z0-9-]+")
STAGE_ARN_FORM = "arn:aws:ivs:<region>:<account>:stage/<id> (at most 128 characters)"

# A publisher's token user id, as a mirror filters by it (botocore: UserId, 0-128 characters
# of any UTF-8; an empty one names nobody).
USER_ID_MAX_LENGTH = 128
USER_IDS_FORM = (
    f"a non-empty list of token user ids, each 1-{USER_ID_MAX_LENGTH} characters without "
    "control characters, each once"
)

PARTICIPANT_ID_MAX_LENGTH = 64
PARTICIPANT_ID_PATTERN = re.compile(r"[a-zA-Z0-9_-]*")
PARTICIPANT_ID_FORM = "1-64 characters from A-Z, a-z, 0-9, '-' and '_'"

RECONNECT_WINDOW_MAX_SECONDS = 300
RECONNECT_WINDOW_FORM = f"a whole number of seconds from 0 to {RECONNECT_WINDOW_MAX_SECONDS}"

ATTRIBUTES_MAX_BYTES = 1024
ATTRIBUTES_FORM = (
    f"a map of string keys to string values, at most {ATTRIBUTES_MAX_BYTES} bytes "
    "of UTF-8 in keys and values together"
)

WHEN_NOT_PUBLISHING_FORM = f"{', '.join(MODES[:-1])} or {MODES[-1]}"
WAIT_SECONDS_FORM = (
    f"a whole number of seconds from 1 to {WAIT_MAX_SECONDS} ({WAIT_MAX_SECONDS // 60} minutes)"
)

# ARNs are echoed in messages, but cut short so a message always fits CloudFormation's Reason.
_ECHO_LIMIT = 160


def echo(value: object) -> str:
    """Quote a (possibly long) user value for an error message."""
    text = repr(value)
    return text if len(text) <= _ECHO_LIMIT else text[: _ECHO_LIMIT - 3] + "..."


def check_stage_arn(prop: str, value: object) -> str:
    """Return ``value`` if it is a stage ARN the IVS API accepts; raise InvalidPropertyError."""
    if not isinstance(value, str):
        raise InvalidPropertyError(prop, f"{echo(value)} is not a string", STAGE_ARN_FORM)
    if not value:
        raise InvalidPropertyError(prop, "the value is empty", STAGE_ARN_FORM)
    if len(value) > STAGE_ARN_MAX_LENGTH:
        raise InvalidPropertyError(
            prop, f"{echo(value)} is {len(value)} characters long", STAGE_ARN_FORM
        )
    if not STAGE_ARN_PATTERN.fullmatch(value):
        raise InvalidPropertyError(prop, f"{echo(value)} is not a stage ARN", STAGE_ARN_FORM)
    return value


def check_participant_id(prop: str, value: object) -> str:
    """Return ``value`` if it is a usable participant id; raise InvalidPropertyError."""
    if not isinstance(value, str):
        raise InvalidPropertyError(prop, f"{echo(value)} is not a string", PARTICIPANT_ID_FORM)
    # The model allows an empty id, but nothing can publish under one: reject it.
    if not value:
        raise InvalidPropertyError(prop, "the value is empty", PARTICIPANT_ID_FORM)
    if len(value) > PARTICIPANT_ID_MAX_LENGTH:
        raise InvalidPropertyError(
            prop, f"{echo(value)} is {len(value)} characters long", PARTICIPANT_ID_FORM
        )
    if not PARTICIPANT_ID_PATTERN.fullmatch(value):
        raise InvalidPropertyError(
            prop, f"{echo(value)} contains characters outside the allowed set", PARTICIPANT_ID_FORM
        )
    return value


def check_reconnect_window_seconds(prop: str, value: object) -> int:
    """Return ``value`` if it is a whole number of seconds in range; raise InvalidPropertyError."""
    # bool is an int subclass; True is not a window.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPropertyError(prop, f"{echo(value)} is not an integer", RECONNECT_WINDOW_FORM)
    if not 0 <= value <= RECONNECT_WINDOW_MAX_SECONDS:
        raise InvalidPropertyError(prop, f"{value} seconds is out of range", RECONNECT_WINDOW_FORM)
    return value


def check_attributes(prop: str, value: object) -> dict[str, str]:
    """Return ``value`` as a plain dict if it is a small string map; raise InvalidPropertyError.

    Error messages name offending keys, never values: attributes are visible to every stage
    participant, but they are still not ours to copy into logs.
    """
    if not isinstance(value, Mapping):
        raise InvalidPropertyError(
            prop, f"a {type(value).__name__} was given, not a map", ATTRIBUTES_FORM
        )
    size = 0
    checked: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidPropertyError(prop, f"key {echo(key)} is not a string", ATTRIBUTES_FORM)
        if not isinstance(item, str):
            raise InvalidPropertyError(
                prop, f"the value of key {echo(key)} is a {type(item).__name__}", ATTRIBUTES_FORM
            )
        size += len(key.encode("utf-8")) + len(item.encode("utf-8"))
        checked[key] = item
    if size > ATTRIBUTES_MAX_BYTES:
        raise InvalidPropertyError(prop, f"the map holds {size} bytes", ATTRIBUTES_FORM)
    return checked


def check_distinct_stages(
    source_prop: str,
    destination_prop: str,
    source: str,
    dest: str,
    *,
    shown_as: str | None = None,
) -> None:
    """Raise InvalidPropertyError when a replication would point a stage at itself.

    ``shown_as`` names the stage in the message (Default: the quoted ARN); the construct passes
    the stage construct's path, since an unresolved token's text says nothing to a user.
    """
    if source == dest:
        raise InvalidPropertyError(
            destination_prop,
            f"it is the same stage as {source_prop} ({shown_as or echo(source)})",
            "a stage other than the source stage",
        )


def check_when_not_publishing(prop: str, value: object) -> str:
    """Return ``value`` if it names a mode (FAIL, WAIT, FOLLOW); raise InvalidPropertyError."""
    if value not in MODES:
        raise InvalidPropertyError(prop, f"{echo(value)} is not a mode", WHEN_NOT_PUBLISHING_FORM)
    return str(value)


def check_wait_seconds(prop: str, value: object) -> int:
    """Return ``value`` if it is a usable wait for the publisher; raise InvalidPropertyError.

    The bound comes from the provider framework: it calls the handler synchronously from a
    function with a 15-minute timeout, and a request needs time beyond the wait to start.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPropertyError(prop, f"{echo(value)} is not an integer", WAIT_SECONDS_FORM)
    if not 1 <= value <= WAIT_MAX_SECONDS:
        raise InvalidPropertyError(prop, f"{value} seconds is out of range", WAIT_SECONDS_FORM)
    return value


def check_calls_per_second(prop: str, value: object) -> float:
    """Return ``value`` as a float if it is a usable IVS rate; raise InvalidPropertyError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidPropertyError(prop, f"{echo(value)} is not a number", CALLS_PER_SECOND_FORM)
    if not 0 < value <= IVS_CALLS_PER_SECOND_MAX:
        raise InvalidPropertyError(prop, f"{value!r} is out of range", CALLS_PER_SECOND_FORM)
    return float(value)


def check_user_ids(prop: str, value: object) -> tuple[str, ...]:
    """Return ``value`` as a tuple if it is a usable list of user ids; raise
    InvalidPropertyError."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise InvalidPropertyError(prop, f"{echo(value)} is not a list", USER_IDS_FORM)
    if not value:
        raise InvalidPropertyError(
            prop, "the list is empty (leave it out to mirror every publisher)", USER_IDS_FORM
        )
    seen: set[str] = set()
    for user_id in value:
        if not isinstance(user_id, str) or not user_id:
            raise InvalidPropertyError(prop, f"{echo(user_id)} is not a user id", USER_IDS_FORM)
        if len(user_id) > USER_ID_MAX_LENGTH:
            raise InvalidPropertyError(
                prop, f"{echo(user_id)} is {len(user_id)} characters long", USER_IDS_FORM
            )
        if any(ch < " " or ch == "\x7f" for ch in user_id):
            raise InvalidPropertyError(
                prop, f"{echo(user_id)} holds a control character", USER_IDS_FORM
            )
        if user_id in seen:
            raise InvalidPropertyError(prop, f"{echo(user_id)} is listed twice", USER_IDS_FORM)
        seen.add(user_id)
    return tuple(value)
