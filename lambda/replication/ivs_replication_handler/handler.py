"""Lambda entry point for the CDK provider framework's onEvent contract.

Returns ``{"PhysicalResourceId": ..., "Data": {...}}``; raising fails the request, and the
exception's message becomes CloudFormation's Reason. The whole event is never logged: it
holds the pre-signed ResponseURL, and attribute values belong to the application.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from . import contract as c
from .errors import InvalidPropertyError, ReplicationFailedError
from .ivs import IvsRealtime
from .lifecycle import Lifecycle, Outcome
from .metrics import ReplicationMetrics
from .mirrors import MirrorOutcome, MirrorRequests, paced_for_mirrors
from .registry import Registry
from .retries import Deadline
from .settings import FunctionSettings
from .spec import (
    MirrorKey,
    MirrorSpec,
    ReplicationKey,
    ReplicationSpec,
    check_properties_map,
    parse_mirror_physical_id,
    parse_mirror_properties,
    parse_physical_id,
    parse_properties,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service=c.LOGGER_SERVICE)

# What the stack tells the function, read from the environment here, once per execution
# environment. No boto3 client is made until the first call (see their `client`); warm
# invocations reuse them.
_settings = FunctionSettings.from_environment()
_ivs = IvsRealtime(settings=_settings.ivs)
_registry = Registry(_settings.registry_table)
_metrics = ReplicationMetrics.of(_settings)


# log_event=False explicitly: POWERTOOLS_LOGGER_LOG_EVENT=true must not log the ResponseURL.
@logger.inject_lambda_context(clear_state=True, log_event=False)
def on_event(event: Mapping[str, Any], context: LambdaContext) -> dict[str, object]:
    return handle_event(event, context, _ivs, _registry, metrics=_metrics)


def handle_event(
    event: Mapping[str, Any],
    context: LambdaContext,
    ivs: IvsRealtime,
    registry: Registry | None = None,
    *,
    metrics: ReplicationMetrics | None = None,
) -> dict[str, object]:
    """Validate, then create, update or delete; every failure is logged once and re-raised.

    ``registry`` Default: none (a stack without follow mode).
    ``metrics`` Default: EMF on stdout under the default namespace and service (see
    ``metrics``); one ``Requests`` per call, any outcome.
    """
    request_type = event.get("RequestType")
    # This request's keys only: a process that handles many requests (a warm Lambda called
    # without the decorator, a local deployment) must not log one request's keys on another.
    logger.remove_keys(list(c.LOG_KEYS))
    logger.append_keys(
        request_type=request_type,
        logical_id=event.get("LogicalResourceId"),
        physical_id=event.get("PhysicalResourceId"),
    )
    succeeded = False
    policy: Lifecycle | MirrorRequests | None = None
    try:
        deadline = Deadline(context.get_remaining_time_in_millis)
        owner = _logical_id(event)
        if event.get("ResourceType") == c.MIRROR_RESOURCE_TYPE:
            policy = MirrorRequests(
                paced_for_mirrors(ivs), deadline, owner=owner, registry=registry or Registry()
            )
            outcome: Outcome | MirrorOutcome = _dispatch_mirror(request_type, event, policy)
        else:
            policy = Lifecycle(ivs, deadline, owner=owner, registry=registry)
            outcome = _dispatch(request_type, event, policy)
        succeeded = True
    except (InvalidPropertyError, ReplicationFailedError) as error:
        steps = policy.steps if policy is not None else []
        logger.error("Request failed", extra={"reason": str(error), "steps": steps})
        raise
    finally:  # unexpected errors count as failures too
        (metrics or ReplicationMetrics()).record_request(request_type, succeeded=succeeded)
    # One line per request, with what it did (the lifecycle's steps are DEBUG lines).
    logger.info(
        "Request succeeded",
        extra={"result_physical_id": outcome.physical_id, "steps": policy.steps},
    )
    return outcome.response()


def _dispatch(request_type: object, event: Mapping[str, Any], lifecycle: Lifecycle) -> Outcome:
    """A ParticipantReplication's request (`Custom::IvsParticipantReplication`)."""
    if request_type == "Delete":
        physical_id = str(event.get("PhysicalResourceId", ""))
        _log_replication(parse_physical_id(physical_id))
        props = event.get("ResourceProperties")
        return lifecycle.delete(physical_id, props if isinstance(props, Mapping) else {})
    _require_known(request_type)
    # Validation happens here, before any API call; a property bag that is not a map fails
    # like any other invalid property.
    spec = parse_properties(_properties(event, "ResourceProperties"))
    _log_replication(spec.key, spec)
    if request_type == "Create":
        return lifecycle.create(spec)
    old = _properties(event, "OldResourceProperties")
    return lifecycle.update(spec, str(event.get("PhysicalResourceId", "")), old)


def _dispatch_mirror(
    request_type: object, event: Mapping[str, Any], mirrors: MirrorRequests
) -> MirrorOutcome:
    """A StageMirror destination's request (`Custom::IvsStageMirror`)."""
    physical_id = str(event.get("PhysicalResourceId", ""))
    if request_type == "Delete":
        _log_mirror(parse_mirror_physical_id(physical_id))
        props = event.get("ResourceProperties")
        return mirrors.delete(physical_id, props if isinstance(props, Mapping) else {})
    _require_known(request_type)
    spec = parse_mirror_properties(_properties(event, "ResourceProperties"))
    _log_mirror(spec.key, spec)
    if request_type == "Create":
        return mirrors.create(spec)
    return mirrors.update(spec, physical_id, _properties(event, "OldResourceProperties"))


def _require_known(request_type: object) -> None:
    if request_type not in ("Create", "Update"):
        raise InvalidPropertyError(
            "RequestType", f"{request_type!r} is unknown", "Create, Update or Delete"
        )


def _properties(event: Mapping[str, Any], name: str) -> Mapping[str, object]:
    """The event's property bag `name`; one that is not a map fails like any invalid property."""
    props = event.get(name)
    return check_properties_map(name, {} if props is None else props)


def _logical_id(event: Mapping[str, Any]) -> str:
    """The request's resource, which the registry records as an owner of its declaration."""
    logical_id = event.get("LogicalResourceId")
    if not isinstance(logical_id, str) or not logical_id:
        raise InvalidPropertyError(
            "LogicalResourceId",
            f"{logical_id!r} is not a resource's logical id",
            "the logical id CloudFormation sends with every request",
        )
    return logical_id


def _log_mirror(key: MirrorKey | None, spec: MirrorSpec | None = None) -> None:
    """Add the mirror destination's identity to every later log line (never attribute values
    or user ids, which belong to the application)."""
    if key is None:
        return
    _log_identity(key)
    if spec is not None:
        logger.append_keys(
            attribute_keys=sorted(spec.attributes),
            reconnect_window_seconds=spec.reconnect_window_seconds,
            user_ids_given=spec.user_ids is not None,
        )


def _log_replication(key: ReplicationKey | None, spec: ReplicationSpec | None = None) -> None:
    """Add the replication's identity to every later log line: ARNs, id, attribute keys only."""
    if key is None:
        return
    _log_identity(key)
    if spec is not None:
        logger.append_keys(
            attribute_keys=sorted(spec.attributes),
            reconnect_window_seconds=spec.reconnect_window_seconds,
            when_not_publishing=spec.when_not_publishing,
        )


def _log_identity(key: ReplicationKey | MirrorKey) -> None:
    """The stages and the participant (``*`` for a mirror's every publisher) on every later
    log line."""
    logger.append_keys(
        source_stage_arn=key.source_stage_arn,
        destination_stage_arn=key.destination_stage_arn,
        participant_id=key.participant_id,
    )
