"""Read a synthesized CloudFormation template well enough to deploy its replications locally.

Only what a template of this library uses is resolved: literals, ``Ref`` to an
``AWS::IVS::Stage`` (which returns the stage ARN) and ``Fn::GetAtt [stage, "Arn"]``.
Everything else (``Fn::Join``, ``Fn::Sub``, parameters, pseudo parameters, conditions,
attributes of other resources) raises ``UnsupportedTemplateError`` naming the resource, the
property and the intrinsic, rather than guessing a value. ``ServiceToken`` is dropped: locally
the handler is called directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ivs_replication._handler.ivs_replication_handler.constants import RESOURCE_TYPE
from ivs_replication.local.intrinsics import (
    LocalValues,
    Resolver,
    UnsupportedTemplateError,
    require_unconditional,
)

if TYPE_CHECKING:
    from ivs_replication.local.server import LocalIvsRealtime

__all__ = [
    "REPLICATION_TYPE",
    "SERVICE_TOKEN",
    "STAGE_ARN_ATTRIBUTE",
    "STAGE_TYPE",
    "TEMPLATE_SUPPORTED",
    "LocalTemplate",
    "TemplateReplication",
    "TemplateStage",
    "UnsupportedTemplateError",
    "resolve_properties",
    "resources_of_type",
    "template_replications",
    "template_stages",
]

STAGE_TYPE = "AWS::IVS::Stage"
REPLICATION_TYPE = RESOURCE_TYPE
SERVICE_TOKEN = "ServiceToken"  # noqa: S105 - a property name, not a secret
STAGE_ARN_ATTRIBUTE = "Arn"
TEMPLATE_SUPPORTED = (
    f"literals, Ref to an {STAGE_TYPE} and Fn::GetAtt [stage, {STAGE_ARN_ATTRIBUTE}]"
)


@dataclass(frozen=True)
class TemplateStage:
    """One ``AWS::IVS::Stage``: its logical id and the name a local stage gets."""

    logical_id: str
    name: str


@dataclass(frozen=True)
class TemplateReplication:
    """One replication custom resource, its properties as written (``ServiceToken`` dropped)."""

    logical_id: str
    properties: Mapping[str, object]


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, Any]:
    """The template's resources of ``resource_type`` by logical id, in template order."""
    resources = template.get("Resources") or {}
    if not isinstance(resources, Mapping):
        raise UnsupportedTemplateError(
            "(template)",
            "Resources",
            "a non-object",
            "not a template",
            supported=TEMPLATE_SUPPORTED,
        )
    return {
        str(logical_id): resource
        for logical_id, resource in resources.items()
        if isinstance(resource, Mapping) and resource.get("Type") == resource_type
    }


def template_stages(template: Mapping[str, Any]) -> list[TemplateStage]:
    """Every stage; its name is the literal ``Name`` property, or else its logical id."""
    stages = []
    for logical_id, resource in resources_of_type(template, STAGE_TYPE).items():
        require_unconditional(logical_id, resource, supported=TEMPLATE_SUPPORTED)
        name = (resource.get("Properties") or {}).get("Name", logical_id)
        if not isinstance(name, str):
            raise UnsupportedTemplateError(
                logical_id,
                "Name",
                _intrinsic_name(name),
                "a stage name must be a literal",
                supported=TEMPLATE_SUPPORTED,
            )
        stages.append(TemplateStage(logical_id, name))
    return stages


def template_replications(template: Mapping[str, Any]) -> list[TemplateReplication]:
    """Every ``Custom::IvsParticipantReplication``, properties unresolved."""
    replications = []
    for logical_id, resource in resources_of_type(template, REPLICATION_TYPE).items():
        require_unconditional(logical_id, resource, supported=TEMPLATE_SUPPORTED)
        properties = dict(resource.get("Properties") or {})
        properties.pop(SERVICE_TOKEN, None)
        replications.append(TemplateReplication(logical_id, properties))
    return replications


def resolve_properties(
    template: Mapping[str, Any],
    replication: TemplateReplication,
    stage_arns: Mapping[str, str],
) -> dict[str, object]:
    """The replication's properties with every intrinsic replaced by its local value.

    ``stage_arns`` maps stage logical ids to local ARNs. Raises ``UnsupportedTemplateError``.
    """
    values = {
        logical_id: LocalValues(arn, {STAGE_ARN_ATTRIBUTE: arn})
        for logical_id, arn in stage_arns.items()
    }
    resolver = _StageResolver(
        template, values, replication.logical_id, pseudo={}, supported=TEMPLATE_SUPPORTED
    )
    return {name: resolver.resolve(value, name) for name, value in replication.properties.items()}


class _StageResolver(Resolver):
    """The general ``Resolver`` with stages as the only values, saying so when it refuses."""

    NO_PSEUDO_VALUE = "pseudo parameters have no local value"

    def _not_created(self, target: str) -> str:
        resource = self._resources.get(target)
        if isinstance(resource, Mapping):
            if resource.get("Type") == STAGE_TYPE:
                return f"stage {target} has no local ARN yet"
            return f"{target} is a {resource.get('Type')}, not an {STAGE_TYPE}"
        return f"{target} is not in the template"

    def _no_attribute(self, target: str, attribute: str, values: LocalValues) -> str:
        return f"only a stage's {STAGE_ARN_ATTRIBUTE} is known"


def _intrinsic_name(value: object) -> str:
    if isinstance(value, Mapping) and len(value) == 1:
        return str(next(iter(value)))
    return type(value).__name__


class LocalTemplate:
    """A synthesized template deployed onto a ``LocalIvsRealtime``: its stages become local
    stages, its replications resolved property dicts.

    ``create_stages()`` first; ``replication_properties()`` raises ``UnsupportedTemplateError``
    for anything it cannot resolve.
    """

    def __init__(self, template: Mapping[str, Any], ivs: LocalIvsRealtime) -> None:
        self._template = template
        self._ivs = ivs
        self.stages = template_stages(template)
        self.replications = template_replications(template)
        self._stage_arns: dict[str, str] = {}

    @property
    def stage_arns(self) -> dict[str, str]:
        """Local stage ARNs by stage logical id (empty before ``create_stages()``)."""
        return dict(self._stage_arns)

    @property
    def stage_names(self) -> dict[str, str]:
        """Stage names by local ARN."""
        names = {stage.logical_id: stage.name for stage in self.stages}
        return {arn: names[logical_id] for logical_id, arn in self._stage_arns.items()}

    def create_stages(self) -> dict[str, str]:
        """Create one local stage per template stage (once); returns ARNs by logical id."""
        for stage in self.stages:
            if stage.logical_id not in self._stage_arns:
                self._stage_arns[stage.logical_id] = self._ivs.create_stage(stage.name)
        return self.stage_arns

    def replication_properties(self) -> dict[str, dict[str, object]]:
        """Resolved properties of every replication, by logical id."""
        return {
            replication.logical_id: resolve_properties(
                self._template, replication, self._stage_arns
            )
            for replication in self.replications
        }
