"""Resolve a resource's properties against what a template deployment has created so far.

Understood: literals, ``Ref`` to a created resource (its physical value) or to a pseudo
parameter (``AWS::Region``, ``AWS::AccountId``, ``AWS::Partition``, ``AWS::StackName``,
``AWS::URLSuffix``), and ``Fn::GetAtt`` of an attribute the local resource has. Everything else
raises ``UnsupportedTemplateError`` naming the resource, the property and the intrinsic:
values are never guessed. ``references`` lists what a value depends on, for ordering.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

STACK_SUPPORTED: Final = (
    "literals, Ref to a created resource or a pseudo parameter, and Fn::GetAtt of an "
    "attribute the local resource has"
)
_SUB_REFERENCE: Final = re.compile(r"\$\{(?!!)([^}.]+)(?:\.[^}]*)?\}")


class UnsupportedTemplateError(ValueError):
    """The template uses something a local deployment cannot resolve.

    ``supported`` (default: what ``TemplateDeployment`` resolves) ends the message.
    """

    def __init__(
        self,
        logical_id: str,
        prop: str,
        intrinsic: str,
        why: str,
        *,
        supported: str = STACK_SUPPORTED,
    ) -> None:
        super().__init__(
            f"Resource {logical_id}, property {prop}: {intrinsic} is not supported locally "
            f"({why}); only {supported} are"
        )
        self.logical_id = logical_id
        self.prop = prop
        self.intrinsic = intrinsic


@dataclass(frozen=True)
class LocalValues:
    """What ``Ref`` and ``Fn::GetAtt`` of one created resource return."""

    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


class Resolver:
    """Resolves the property values of one resource (``logical_id``).

    ``values`` maps logical ids of created resources to their ``LocalValues``; ``pseudo``
    maps pseudo parameters (``AWS::Region``, ...) to their local values; ``supported``
    (default: what ``TemplateDeployment`` resolves) ends the message of every error. Subclasses may
    reword why a target or an attribute has no value (``_not_created``, ``_no_attribute``).
    """

    NO_PSEUDO_VALUE = "this pseudo parameter has no value"

    def __init__(
        self,
        template: Mapping[str, Any],
        values: Mapping[str, LocalValues],
        logical_id: str,
        *,
        pseudo: Mapping[str, str],
        supported: str = STACK_SUPPORTED,
    ) -> None:
        self._resources: Mapping[str, Any] = template.get("Resources") or {}
        self._parameters: Mapping[str, Any] = template.get("Parameters") or {}
        self._values = values
        self._pseudo = pseudo
        self._logical_id = logical_id
        self._supported = supported

    def resolve(self, value: object, prop: str) -> object:
        """``value`` with every intrinsic replaced; ``prop`` names it in errors."""
        if isinstance(value, list):
            return [self.resolve(item, f"{prop}[{index}]") for index, item in enumerate(value)]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            [(key, argument)] = value.items()
            if key == "Ref":
                return self._ref(argument, prop)
            if key == "Fn::GetAtt":
                return self._get_att(argument, prop)
            if key.startswith("Fn::") or key == "Condition":
                raise self.unsupported(prop, key, "intrinsic functions are not evaluated")
        return {str(key): self.resolve(item, f"{prop}.{key}") for key, item in value.items()}

    def resolve_text(self, value: object, prop: str) -> str:
        """``resolve`` for a property that must end up a string."""
        resolved = self.resolve(value, prop)
        if not isinstance(resolved, str):
            raise self.unsupported(prop, type(resolved).__name__, "a string is expected")
        return resolved

    def _ref(self, target: object, prop: str) -> str:
        if not isinstance(target, str):
            raise self.unsupported(prop, "Ref", "its target must be a logical id")
        if target in self._values:
            return self._values[target].ref
        if target in self._pseudo:
            return self._pseudo[target]
        if target.startswith("AWS::"):
            raise self.unsupported(prop, f"Ref {target}", self.NO_PSEUDO_VALUE)
        if target in self._parameters:
            raise self.unsupported(prop, f"Ref {target}", "parameters have no local value")
        raise self.unsupported(prop, f"Ref {target}", self._not_created(target))

    def _get_att(self, argument: object, prop: str) -> str:
        if isinstance(argument, str) and "." in argument:
            argument = argument.split(".", 1)
        if not (
            isinstance(argument, list)
            and len(argument) == 2  # noqa: PLR2004 - [logical id, attribute]
            and all(isinstance(part, str) for part in argument)
        ):
            raise self.unsupported(prop, "Fn::GetAtt", "expected [logical id, attribute]")
        target, attribute = argument
        shown = f"Fn::GetAtt {target}.{attribute}"
        values = self._values.get(target)
        if values is None:
            raise self.unsupported(prop, shown, self._not_created(target))
        if attribute not in values.attributes:
            raise self.unsupported(prop, shown, self._no_attribute(target, attribute, values))
        return values.attributes[attribute]

    def _not_created(self, target: str) -> str:
        """Why ``target`` (not among ``values``) has no value."""
        if target in self._resources:
            return f"{target} ({self._type_of(target)}) has no local value yet"
        return f"{target} is not in the template"

    def _no_attribute(self, target: str, attribute: str, values: LocalValues) -> str:
        """Why the created ``target`` has no value for ``attribute``."""
        known = ", ".join(sorted(values.attributes)) or "none"
        return f"the local {self._type_of(target)} has no {attribute} (it has: {known})"

    def _type_of(self, target: str) -> str:
        resource = self._resources.get(target)
        return str(resource.get("Type")) if isinstance(resource, Mapping) else "resource"

    def unsupported(self, prop: str, intrinsic: str, why: str) -> UnsupportedTemplateError:
        """The error for something this resource uses that cannot be resolved locally."""
        return UnsupportedTemplateError(
            self._logical_id, prop, intrinsic, why, supported=self._supported
        )


def require_unconditional(
    logical_id: str, resource: Mapping[str, Any], *, supported: str = STACK_SUPPORTED
) -> None:
    """Raise ``UnsupportedTemplateError`` for a resource with a ``Condition`` (never evaluated)."""
    if "Condition" in resource:
        raise UnsupportedTemplateError(
            logical_id,
            "Condition",
            f"Condition {resource['Condition']}",
            "conditions are not evaluated",
            supported=supported,
        )


def references(value: object) -> set[str]:
    """Logical ids ``value`` refers to through ``Ref``, ``Fn::GetAtt`` or ``Fn::Sub``
    (pseudo parameters included; callers keep the ones that are resources)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, Mapping):
        for key, argument in value.items():
            found |= _references_of(str(key), argument)
    return found


def _references_of(key: str, argument: object) -> set[str]:
    if key == "Ref" and isinstance(argument, str):
        return {argument}
    if key == "Fn::GetAtt":
        if isinstance(argument, str):
            return {argument.split(".", 1)[0]}
        if isinstance(argument, list) and argument and isinstance(argument[0], str):
            return {argument[0]}
    if key == "Fn::Sub":
        text = argument[0] if isinstance(argument, list) and argument else argument
        found = set(_SUB_REFERENCE.findall(text)) if isinstance(text, str) else set()
        return found | references(argument)
    return references(argument)
