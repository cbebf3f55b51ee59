"""A deployed stack as the CLI needs it: its replications, its stage mirrors' destinations,
its reconciler and its registry.

Read with two CloudFormation calls: ``ListStackResources`` (physical ids) and ``GetTemplate``
(the replications' modes, the mirrors' user ids, the reconciler's ``Handler``, the table it is
given and the rest of its environment, such as the IVS pace the construct set).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ivs_replication_handler import contract as c
from ivs_replication_handler.spec import (
    MirrorKey,
    ReplicationKey,
    parse_mirror_physical_id,
    parse_physical_id,
)

FUNCTION_TYPE = "AWS::Lambda::Function"


@dataclass(frozen=True)
class DeclaredReplication:
    """One ``Custom::IvsParticipantReplication`` of the stack; ``key`` is None when its
    physical id is not a replication's (a failed create's marker)."""

    logical_id: str
    physical_id: str
    status: str
    mode: str
    key: ReplicationKey | None


@dataclass(frozen=True)
class DeclaredMirror:
    """One ``Custom::IvsStageMirror`` of the stack (a ``StageMirror``'s destination); ``key`` is
    None when its physical id is not a mirror's (a failed create's marker).

    ``user_ids``: the token user ids whose publishers it takes, as the template states them
    (None: every publisher). ``user_ids_stated`` is False when the template gives them as a
    value only CloudFormation resolves (a parameter, an import): ``user_ids`` is None then, and
    the declaration the registry holds tells them.
    """

    logical_id: str
    physical_id: str
    status: str
    key: MirrorKey | None
    user_ids: tuple[str, ...] | None
    user_ids_stated: bool = True


@dataclass(frozen=True)
class DeployedStack:
    """``reconciler_environment``: the reconciler's environment variables whose values the
    template states as plain text (Default: none); the others (a ``Ref``) are left out."""

    name: str
    replications: list[DeclaredReplication]
    reconciler_function: str | None
    registry_table: str | None
    reconciler_environment: Mapping[str, str] = field(default_factory=dict)
    mirrors: list[DeclaredMirror] = field(default_factory=list)


def read_stack(cloudformation: Any, stack_name: str) -> DeployedStack:  # noqa: ANN401 - a boto3 client
    """The stack's replications and mirror destinations (in template order), reconciler and
    registry table.

    Raises botocore's ClientError as CloudFormation answers (no such stack, access denied).
    """
    physical = _physical_ids(cloudformation, stack_name)
    resources = _template(cloudformation, stack_name).get("Resources") or {}
    replications = [
        _declared(logical_id, resource, physical[logical_id])
        for logical_id, resource in resources.items()
        if resource.get("Type") == c.RESOURCE_TYPE and logical_id in physical
    ]
    mirrors = [
        _declared_mirror(logical_id, resource, physical[logical_id])
        for logical_id, resource in resources.items()
        if resource.get("Type") == c.MIRROR_RESOURCE_TYPE and logical_id in physical
    ]
    reconciler = _reconciler_logical_id(resources)
    variables = _variables(resources[reconciler]) if reconciler is not None else {}
    table = _registry_table_logical_id(variables)
    return DeployedStack(
        name=stack_name,
        replications=replications,
        reconciler_function=physical[reconciler][0] if reconciler in physical else None,
        registry_table=physical[table][0] if table in physical else None,
        reconciler_environment={k: v for k, v in variables.items() if isinstance(v, str)},
        mirrors=mirrors,
    )


def _physical_ids(cloudformation: Any, stack_name: str) -> dict[str, tuple[str, str]]:  # noqa: ANN401
    """logical id -> (physical id, status) of every resource that has a physical id."""
    found: dict[str, tuple[str, str]] = {}
    request: dict[str, str] = {"StackName": stack_name}
    while True:
        page = cloudformation.list_stack_resources(**request)
        for summary in page.get("StackResourceSummaries", []):
            if summary.get("PhysicalResourceId"):
                found[summary["LogicalResourceId"]] = (
                    summary["PhysicalResourceId"],
                    summary.get("ResourceStatus", ""),
                )
        token = page.get("NextToken")
        if not token:
            return found
        request["NextToken"] = token


def _template(cloudformation: Any, stack_name: str) -> Mapping[str, Any]:  # noqa: ANN401
    body = cloudformation.get_template(StackName=stack_name)["TemplateBody"]
    # botocore decodes a JSON body into a dict; a CDK template is always JSON.
    template = json.loads(body) if isinstance(body, str) else body
    return template if isinstance(template, Mapping) else {}


def _declared(
    logical_id: str, resource: Mapping[str, Any], physical: tuple[str, str]
) -> DeclaredReplication:
    properties = resource.get("Properties") or {}
    mode = properties.get(c.PROP_WHEN_NOT_PUBLISHING)
    physical_id, status = physical
    return DeclaredReplication(
        logical_id=logical_id,
        physical_id=physical_id,
        status=status,
        # Properties of an older template carry no mode: they run as FAIL.
        mode=mode if mode in c.MODES else c.MODE_FAIL,
        key=parse_physical_id(physical_id),
    )


def _declared_mirror(
    logical_id: str, resource: Mapping[str, Any], physical: tuple[str, str]
) -> DeclaredMirror:
    user_ids = (resource.get("Properties") or {}).get(c.PROP_USER_IDS)
    physical_id, status = physical
    stated = user_ids is None or _is_list_of_text(user_ids)
    return DeclaredMirror(
        logical_id=logical_id,
        physical_id=physical_id,
        status=status,
        key=parse_mirror_physical_id(physical_id),
        user_ids=tuple(user_ids) if stated and user_ids is not None else None,
        user_ids_stated=stated,
    )


def _is_list_of_text(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _reconciler_logical_id(resources: Mapping[str, Any]) -> str | None:
    for logical_id, resource in resources.items():
        properties = resource.get("Properties") or {}
        is_function = resource.get("Type") == FUNCTION_TYPE
        if is_function and properties.get("Handler") == c.RECONCILER_ENTRY_POINT:
            return str(logical_id)
    return None


def _variables(function: Mapping[str, Any]) -> Mapping[str, Any]:
    """A function's ``Environment.Variables`` as the template states them."""
    environment = (function.get("Properties") or {}).get("Environment") or {}
    variables = environment.get("Variables") or {}
    return variables if isinstance(variables, Mapping) else {}


def _registry_table_logical_id(variables: Mapping[str, Any]) -> str | None:
    """The table the reconciler is given: ``{"Ref": <table>}`` in its environment."""
    value = variables.get(c.ENV_REGISTRY_TABLE)
    if isinstance(value, Mapping) and isinstance(value.get("Ref"), str):
        return str(value["Ref"])
    return None
