"""Resolve a template's values against what a template deployment has created so far.

Understood: literals; ``Ref`` to a created resource (its physical value), to a parameter (its
value), to a pseudo parameter (``AWS::Region``, ``AWS::AccountId``, ``AWS::Partition``,
``AWS::StackName``, ``AWS::StackId``, ``AWS::URLSuffix``, ``AWS::NotificationARNs``) or to
``AWS::NoValue`` (the property or list element is removed); ``Fn::GetAtt`` of an attribute the
local resource has; ``Fn::Sub`` (a string, or [string, variables]; ``${Ref}``,
``${Logical.Attribute}``, ``${!Literal}``), ``Fn::Join``, ``Fn::Select``, ``Fn::Split``,
``Fn::FindInMap``, ``Fn::GetAZs``, ``Fn::ImportValue`` (an export of a stack deployed on the
same ``LocalExports``) and ``Fn::If``; and the template's ``Conditions`` (``Fn::Equals``,
``Fn::And``, ``Fn::Or``, ``Fn::Not``, ``Condition``) and ``Rules`` (those, plus
``Fn::Contains``, ``Fn::EachMemberEquals`` and ``Fn::EachMemberIn``). Everything else raises
``UnsupportedTemplateError`` naming the resource (and its construct path), the property and
the intrinsic: values are never guessed. ``references`` lists what a value depends on, for
ordering.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

STACK_SUPPORTED: Final = (
    "literals, Ref (to a created resource, a parameter, a pseudo parameter or AWS::NoValue), "
    "Fn::GetAtt of an attribute the local resource has, Fn::Sub, Fn::Join, Fn::Select, "
    "Fn::Split, Fn::FindInMap, Fn::GetAZs, Fn::ImportValue, Fn::If, and Conditions made of "
    "Fn::Equals, Fn::And, Fn::Or, Fn::Not and Condition"
)
CONDITION_FUNCTIONS: Final = ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition")
RULE_FUNCTIONS: Final = ("Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn")
CDK_PATH_METADATA: Final = "aws:cdk:path"
LOCAL_AVAILABILITY_ZONES: Final = ("a", "b", "c")
# Fn::And and Fn::Or take between 2 and 10 conditions.
_MIN_CONDITIONS: Final = 2
_MAX_CONDITIONS: Final = 10
_SUB_VARIABLE: Final = re.compile(r"\$\{([^}]*)\}")
_SUB_REFERENCE: Final = re.compile(r"\$\{(?!!)([^}.]+)(?:\.[^}]*)?\}")

ParameterValue: TypeAlias = str | list[str]
"""A parameter's value: a string, or a list for ``CommaDelimitedList`` and ``List<...>``."""


class _NoValue:
    """What ``Ref AWS::NoValue`` resolves to: the enclosing property or element is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()


class UnsupportedTemplateError(ValueError):
    """The template uses something a local deployment cannot resolve.

    The message names the ``kind`` (default "Resource"; "Output", "Condition", "Rule") and
    ``logical_id``, the ``construct_path`` (default None: the template has no
    ``aws:cdk:path`` metadata there), the property, the intrinsic and why; ``supported``
    (default: what ``TemplateDeployment`` resolves) ends it.
    """

    def __init__(
        self,
        logical_id: str,
        prop: str,
        intrinsic: str,
        why: str,
        *,
        supported: str = STACK_SUPPORTED,
        construct_path: str | None = None,
        kind: str = "Resource",
    ) -> None:
        super().__init__(
            f"{_where(kind, logical_id, construct_path, prop)}: {intrinsic} is not supported "
            f"locally ({why}); only {supported} are"
        )
        self.logical_id = logical_id
        self.prop = prop
        self.intrinsic = intrinsic
        self.construct_path = construct_path


class MissingExportError(UnsupportedTemplateError):
    """An ``Fn::ImportValue`` of a name no stack deployed on the same ``LocalExports`` exports."""

    def __init__(
        self,
        logical_id: str,
        prop: str,
        export_name: str,
        known: list[str],
        *,
        construct_path: str | None = None,
        kind: str = "Resource",
    ) -> None:
        ValueError.__init__(
            self,
            f"{_where(kind, logical_id, construct_path, prop)}: Fn::ImportValue "
            f"{export_name!r}: no stack deployed on these local endpoints exports it (exports: "
            f"{', '.join(known) or 'none'}); deploy the exporting stack first with the same "
            "LocalExports (AppDeployment deploys an app's stacks in dependency order)",
        )
        self.logical_id = logical_id
        self.prop = prop
        self.intrinsic = "Fn::ImportValue"
        self.construct_path = construct_path
        self.export_name = export_name


def _where(kind: str, logical_id: str, construct_path: str | None, prop: str) -> str:
    """E.g. "Resource Main (Live/Main), property Name" (without what is unknown or empty)."""
    path = f" ({construct_path})" if construct_path else ""
    return f"{kind} {logical_id}{path}" + (f", property {prop}" if prop else "")


@dataclass(frozen=True)
class LocalValues:
    """What ``Ref`` and ``Fn::GetAtt`` of one created resource return."""

    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Location:
    """Where a value sits: a resource, an output, a condition or a rule of the template."""

    logical_id: str
    kind: str = "Resource"
    construct_path: str | None = None


def construct_path(entry: object) -> str | None:
    """The construct path CDK writes in an entry's ``Metadata`` (None without one)."""
    metadata = entry.get("Metadata") if isinstance(entry, Mapping) else None
    path = metadata.get(CDK_PATH_METADATA) if isinstance(metadata, Mapping) else None
    return path if isinstance(path, str) else None


@dataclass
class TemplateScope:
    """Everything the values of one template resolve against.

    ``pseudo`` maps pseudo parameters to their local values; ``parameters`` the template's
    parameters to theirs (``template_parameters``); ``values`` the created resources to their
    ``LocalValues`` (a live view: it grows as the deployment creates); ``exports`` the export
    names a ``Fn::ImportValue`` may read (a live view too); ``skipped`` the resources left out
    because their ``Condition`` is false, each to that condition. ``imported`` collects every
    export read so far. Conditions are evaluated once, on first use.
    """

    template: Mapping[str, Any]
    pseudo: Mapping[str, ParameterValue]
    parameters: Mapping[str, ParameterValue] = field(default_factory=dict)
    values: Mapping[str, LocalValues] = field(default_factory=dict)
    exports: Mapping[str, str] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)
    imported: dict[str, str] = field(default_factory=dict)
    _conditions: dict[str, bool] = field(default_factory=dict)
    _evaluating: list[str] = field(default_factory=list)

    def section(self, name: str) -> Mapping[str, Any]:
        """A top-level section of the template (empty when absent)."""
        found = self.template.get(name)
        return found if isinstance(found, Mapping) else {}

    def resolver(self, location: Location, *, static: bool = False) -> Resolver:
        """A resolver for the values at ``location``; ``static`` (default False) refuses every
        reference to a resource (conditions, rules and import names cannot depend on one)."""
        return Resolver(self, location, static=static)

    def resource_resolver(self, logical_id: str) -> Resolver:
        """The resolver of one resource's properties."""
        resource = self.section("Resources").get(logical_id)
        return self.resolver(Location(logical_id, "Resource", construct_path(resource)))

    def condition(self, name: str) -> bool:
        """The value of the template's condition ``name`` (one of its ``Conditions``:
        ``Resolver.condition_named`` checks); raises ``UnsupportedTemplateError`` for a cycle or
        a function a condition cannot use."""
        if name in self._conditions:
            return self._conditions[name]
        if name in self._evaluating:
            cycle = " -> ".join([*self._evaluating, name])
            raise UnsupportedTemplateError(
                name, "Condition", f"Condition {name}", f"a cycle: {cycle}", kind="Condition"
            )
        self._evaluating.append(name)
        try:
            resolver = self.resolver(Location(name, "Condition"), static=True)
            value = resolver.evaluate(self.section("Conditions")[name], "")
        finally:
            self._evaluating.pop()
        self._conditions[name] = value
        return value


class Resolver:
    """Resolves the values at one place of a template (``location``) in ``scope``.

    Errors are ``UnsupportedTemplateError`` naming the place, the property and the intrinsic,
    ended by ``supported`` (default: what ``TemplateDeployment`` resolves). ``static``
    (default False) refuses references to resources.
    """

    NO_PSEUDO_VALUE = "this pseudo parameter has no value"

    def __init__(
        self,
        scope: TemplateScope,
        location: Location,
        *,
        static: bool = False,
        supported: str = STACK_SUPPORTED,
    ) -> None:
        self._scope = scope
        self._location = location
        self._static = static
        self._supported = supported
        self._resources = scope.section("Resources")
        self._value_functions: Mapping[str, Callable[[object, str], object]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::FindInMap": self._find_in_map,
            "Fn::GetAZs": self._get_azs,
            "Fn::ImportValue": self.imported_value,
            "Fn::If": lambda argument, prop: self.resolve(self._chosen(argument, prop), prop),
        }

    # --- selecting: Fn::If and AWS::NoValue -----------------------------------------------------

    def select(self, value: object, prop: str) -> object:
        """``value`` with each ``Fn::If`` replaced by its chosen branch and each
        ``AWS::NoValue`` removed (from its object or list; at the top: ``NO_VALUE``). Other
        intrinsics are left as they are, to be resolved when the value is needed."""
        if isinstance(value, list):
            items = (self.select(item, f"{prop}[{index}]") for index, item in enumerate(value))
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if value == {"Ref": "AWS::NoValue"}:
            return NO_VALUE
        if len(value) == 1 and "Fn::If" in value:
            return self.select(self._chosen(value["Fn::If"], prop), prop)
        selected = {str(key): self.select(item, _child(prop, key)) for key, item in value.items()}
        return {key: item for key, item in selected.items() if item is not NO_VALUE}

    def _chosen(self, argument: object, prop: str) -> object:
        if not (isinstance(argument, list) and len(argument) == 3):  # noqa: PLR2004 - [condition, then, else]
            raise self.unsupported(prop, "Fn::If", "expected [condition name, if true, if false]")
        name, if_true, if_false = argument
        return if_true if self.condition_named(name, prop) else if_false

    # --- resolving ------------------------------------------------------------------------------

    def resolve(self, value: object, prop: str) -> object:
        """``value`` with every intrinsic replaced; ``prop`` names it in errors. An
        ``AWS::NoValue`` inside an object or a list removes its entry; a whole value that is
        one resolves to ``NO_VALUE``."""
        if isinstance(value, list):
            items = (self.resolve(item, f"{prop}[{index}]") for index, item in enumerate(value))
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            [(key, argument)] = value.items()
            function = self._value_functions.get(str(key))
            if function is not None:
                return function(argument, prop)
            if str(key).startswith("Fn::") or key == "Condition":
                raise self.unsupported(prop, str(key), self._not_a_value_function(str(key)))
        resolved = {str(key): self.resolve(item, _child(prop, key)) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def check_functions(self, value: object, prop: str) -> None:
        """Raise ``UnsupportedTemplateError`` for the first intrinsic function in ``value``
        that ``resolve`` would refuse, so that it is refused before anything is created."""
        if isinstance(value, list):
            for index, item in enumerate(value):
                self.check_functions(item, f"{prop}[{index}]")
        elif isinstance(value, Mapping):
            if len(value) == 1:
                [key] = value
                function = str(key)
                refused = function not in self._value_functions and (
                    function.startswith("Fn::") or function == "Condition"
                )
                if refused:
                    raise self.unsupported(prop, function, self._not_a_value_function(function))
                if function in self._value_functions:
                    for argument in _flattened(value[key]):  # its arguments: still this property
                        self.check_functions(argument, prop)
                    return
            for key, item in value.items():
                self.check_functions(item, _child(prop, key))

    def resolve_text(self, value: object, prop: str) -> str:
        """``resolve`` for a property that must end up a string."""
        resolved = self.resolve(value, prop)
        if resolved is NO_VALUE:
            raise self.unsupported(prop, "AWS::NoValue", "this property needs a value")
        if not isinstance(resolved, str):
            raise self.unsupported(prop, type(resolved).__name__, "a string is expected")
        return resolved

    def resolve_list(self, value: object, prop: str, intrinsic: str) -> list[str]:
        """``resolve`` for the argument of ``intrinsic`` that must end up a list of strings."""
        resolved = self._argument(value, prop)
        if not (isinstance(resolved, list) and all(isinstance(i, str) for i in resolved)):
            raise self.unsupported(prop, intrinsic, "a list of strings is expected")
        return resolved

    def _argument(self, value: object, prop: str) -> object:
        """A function's argument resolved; a literal list's items keep the property's name."""
        if isinstance(value, list):
            items = (self.resolve(item, prop) for item in value)
            return [item for item in items if item is not NO_VALUE]
        return self.resolve(value, prop)

    def import_name(self, argument: object, prop: str) -> str:
        """The export name an ``Fn::ImportValue`` reads (it may not depend on a resource)."""
        static = self._scope.resolver(self._location, static=True)
        return static.resolve_text(argument, prop)

    def _not_a_value_function(self, key: str) -> str:
        if key in CONDITION_FUNCTIONS or key in RULE_FUNCTIONS:
            return "condition functions are evaluated in Conditions and Rules only"
        return "intrinsic functions other than these are not evaluated"

    def _ref(self, target: object, prop: str) -> object:
        if not isinstance(target, str):
            raise self.unsupported(prop, "Ref", "its target must be a logical id")
        if target == "AWS::NoValue":
            return NO_VALUE
        if target in self._scope.pseudo:
            return self._scope.pseudo[target]
        if target.startswith("AWS::"):
            raise self.unsupported(prop, f"Ref {target}", self.NO_PSEUDO_VALUE)
        if target in self._scope.parameters:
            return self._scope.parameters[target]
        return self._resource_values(target, prop, f"Ref {target}").ref

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
        values = self._resource_values(target, prop, shown)
        if attribute not in values.attributes:
            raise self.unsupported(prop, shown, self._no_attribute(target, attribute, values))
        return values.attributes[attribute]

    def _resource_values(self, target: str, prop: str, shown: str) -> LocalValues:
        if self._static and target in self._resources:
            raise self.unsupported(prop, shown, "this value cannot depend on a resource")
        values = self._scope.values.get(target)
        if values is None:
            raise self.unsupported(prop, shown, self._not_created(target))
        return values

    def _sub(self, argument: object, prop: str) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif (
            isinstance(argument, list)
            and len(argument) == 2  # noqa: PLR2004 - [text, variables]
            and isinstance(argument[0], str)
            and isinstance(argument[1], Mapping)
        ):
            text = argument[0]
            variables = {
                str(name): self.resolve_text(value, prop) for name, value in argument[1].items()
            }
        else:
            raise self.unsupported(prop, "Fn::Sub", "expected a string or [string, {variables}]")

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is written as ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return variables[name]
            value = (
                self._get_att(name, prop)
                if "." in name and not name.startswith("AWS::")
                else self._ref(name, prop)
            )
            if not isinstance(value, str):
                raise self.unsupported(
                    prop,
                    f"Fn::Sub ${{{name}}}",
                    f"only strings are substituted, not {_shown(value)}",
                )
            return value

        return _SUB_VARIABLE.sub(substitute, text)

    def _join(self, argument: object, prop: str) -> str:
        if not (
            isinstance(argument, list)
            and len(argument) == 2  # noqa: PLR2004 - [delimiter, values]
            and isinstance(argument[0], str)
        ):
            raise self.unsupported(prop, "Fn::Join", "expected [delimiter, [values]]")
        return argument[0].join(self.resolve_list(argument[1], prop, "Fn::Join"))

    def _select(self, argument: object, prop: str) -> object:
        if not (isinstance(argument, list) and len(argument) == 2):  # noqa: PLR2004 - [index, list]
            raise self.unsupported(prop, "Fn::Select", "expected [index, [values]]")
        index = self.resolve(argument[0], prop)
        items = self._argument(argument[1], prop)
        if isinstance(index, str) and index.isdigit():
            index = int(index)
        if not isinstance(index, int) or isinstance(index, bool) or not isinstance(items, list):
            raise self.unsupported(prop, "Fn::Select", "expected [index, [values]]")
        if not 0 <= index < len(items):
            raise self.unsupported(prop, f"Fn::Select {index}", f"the list has {len(items)} items")
        return items[index]

    def _split(self, argument: object, prop: str) -> list[str]:
        if not (
            isinstance(argument, list)
            and len(argument) == 2  # noqa: PLR2004 - [delimiter, text]
            and isinstance(argument[0], str)
            and argument[0]
        ):
            raise self.unsupported(prop, "Fn::Split", "expected [delimiter, text]")
        return self.resolve_text(argument[1], prop).split(argument[0])

    def _find_in_map(self, argument: object, prop: str) -> object:
        if not (isinstance(argument, list) and len(argument) == 3):  # noqa: PLR2004 - [map, top, second]
            raise self.unsupported(prop, "Fn::FindInMap", "expected [map, top key, second key]")
        keys = [self.resolve_text(key, prop) for key in argument]
        found: object = self._scope.section("Mappings")
        for depth, key in enumerate(keys):
            if not isinstance(found, Mapping) or key not in found:
                shown = f"Fn::FindInMap {'.'.join(keys[: depth + 1])}"
                raise self.unsupported(prop, shown, "not in the template's Mappings")
            found = found[key]
        return found

    def _get_azs(self, argument: object, prop: str) -> list[str]:
        region = self.resolve_text(argument, prop) or self._scope.pseudo.get("AWS::Region", "")
        return [f"{region}{zone}" for zone in LOCAL_AVAILABILITY_ZONES]

    def imported_value(self, argument: object, prop: str) -> str:
        """What an ``Fn::ImportValue`` of ``argument`` reads (recorded in the scope's
        ``imported``); raises ``MissingExportError`` when no stack exports the name."""
        name = self.import_name(argument, prop)
        exports = self._scope.exports
        if name not in exports:
            raise MissingExportError(
                self._location.logical_id,
                prop,
                name,
                sorted(exports),
                construct_path=self._location.construct_path,
                kind=self._location.kind,
            )
        self._scope.imported[name] = exports[name]
        return exports[name]

    # --- conditions and rules ------------------------------------------------------------------

    def condition_named(self, name: object, prop: str) -> bool:
        """The template's condition ``name``, as ``Fn::If`` or a resource's ``Condition``
        names it."""
        if not isinstance(name, str) or name not in self._scope.section("Conditions"):
            raise self.unsupported(prop, f"Condition {name}", "not in the template's Conditions")
        return self._scope.condition(name)

    def evaluate(self, expression: object, prop: str, *, rule: bool = False) -> bool:
        """A condition expression's value; ``rule`` (default False) also allows the rule
        functions (``Fn::Contains``, ``Fn::EachMemberEquals``, ``Fn::EachMemberIn``)."""
        allowed = CONDITION_FUNCTIONS + (RULE_FUNCTIONS if rule else ())
        if not (isinstance(expression, Mapping) and len(expression) == 1):
            raise self.unsupported(
                prop, _shown(expression), f"a condition is one of {', '.join(allowed)}"
            )
        [(key, argument)] = expression.items()
        where = _child(prop, str(key))
        if key == "Condition":
            return self.condition_named(argument, where)
        if key == "Fn::Not":
            [operand] = self._operands(argument, where, key, 1, 1)
            return not self.evaluate(operand, f"{where}[0]", rule=rule)
        if key in ("Fn::And", "Fn::Or"):
            operands = self._operands(argument, where, key, _MIN_CONDITIONS, _MAX_CONDITIONS)
            # Every operand is evaluated, so an unsupported one is never hidden.
            values = [self.evaluate(o, f"{where}[{i}]", rule=rule) for i, o in enumerate(operands)]
            return all(values) if key == "Fn::And" else any(values)
        if key not in allowed:
            raise self.unsupported(prop, str(key), f"a condition is one of {', '.join(allowed)}")
        first, second = [
            self.resolve(o, f"{where}[{i}]")
            for i, o in enumerate(self._operands(argument, where, key, 2, 2))
        ]
        return _compare(str(key), first, second)

    def _operands(
        self, argument: object, prop: str, key: str, least: int, most: int
    ) -> list[object]:
        if not (isinstance(argument, list) and least <= len(argument) <= most):
            count = str(least) if least == most else f"{least} to {most}"
            raise self.unsupported(prop, key, f"expected a list of {count} operands")
        return argument

    # --- messages ------------------------------------------------------------------------------

    def _not_created(self, target: str) -> str:
        """Why ``target`` (not among the created resources) has no value."""
        if target in self._scope.skipped:
            condition = self._scope.skipped[target]
            return (
                f"{target} is not created: its Condition {condition} is false (refer to it "
                f"inside Fn::If [{condition}, ...])"
            )
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
        """The error for something at this place that cannot be resolved locally."""
        return UnsupportedTemplateError(
            self._location.logical_id,
            prop,
            intrinsic,
            why,
            supported=self._supported,
            construct_path=self._location.construct_path,
            kind=self._location.kind,
        )


def _flattened(argument: object) -> list[object]:
    """A function's arguments: a list's items (nested lists too), else the argument itself."""
    if isinstance(argument, list):
        return [leaf for item in argument for leaf in _flattened(item)]
    return [argument]


def _child(prop: str, key: object) -> str:
    """The path of ``key`` inside the property ``prop`` (at the top: the key itself)."""
    return f"{prop}.{key}" if prop else str(key)


def _compare(function: str, first: object, second: object) -> bool:
    """``Fn::Equals`` and the rule functions, on values compared as CloudFormation's strings."""
    if function == "Fn::Equals":
        return _comparable(first) == _comparable(second)
    members = first if isinstance(first, list) else [first]
    if function == "Fn::Contains":  # [list, value]
        return _comparable(second) in [_comparable(m) for m in members]
    if function == "Fn::EachMemberEquals":  # [list, value]
        return all(_comparable(m) == _comparable(second) for m in members)
    allowed = second if isinstance(second, list) else [second]  # Fn::EachMemberIn: [list, list]
    return all(_comparable(m) in [_comparable(a) for a in allowed] for m in members)


def _comparable(value: object) -> object:
    """Scalars as the strings CloudFormation compares (a parameter's value is a string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return value


def _shown(value: object) -> str:
    if isinstance(value, Mapping) and len(value) == 1:
        return str(next(iter(value)))
    return type(value).__name__ if not isinstance(value, str) else repr(value)


# --- what a value refers to ------------------------------------------------------------------


def references(value: object) -> set[str]:
    """Logical ids ``value`` refers to through ``Ref``, ``Fn::GetAtt`` or ``Fn::Sub``
    (pseudo parameters and parameters included; callers keep the ones that are resources)."""
    return {target for _, target in reference_sites(value, "")}


def reference_sites(value: object, prop: str) -> Iterator[tuple[str, str]]:
    """Each (property, logical id) ``value`` refers to, as ``references`` finds them."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from reference_sites(item, f"{prop}[{index}]")
    elif isinstance(value, Mapping):
        for key, argument in value.items():
            if key in ("Ref", "Fn::GetAtt", "Fn::Sub"):
                yield from _reference_sites_of(str(key), argument, prop)
            elif str(key).startswith("Fn::"):  # a function's arguments: still this property
                yield from reference_sites(argument, prop)
            else:
                yield from reference_sites(argument, _child(prop, key))


def _reference_sites_of(key: str, argument: object, prop: str) -> Iterator[tuple[str, str]]:
    if key == "Ref" and isinstance(argument, str):
        yield prop, argument
    elif key == "Fn::GetAtt" and isinstance(argument, str):
        yield prop, argument.split(".", 1)[0]
    elif key == "Fn::GetAtt" and isinstance(argument, list) and argument:
        if isinstance(argument[0], str):
            yield prop, argument[0]
    elif key == "Fn::Sub":
        text = argument[0] if isinstance(argument, list) and argument else argument
        variables = argument[1] if isinstance(argument, list) and len(argument) > 1 else {}
        defined = set(variables) if isinstance(variables, Mapping) else set()
        if isinstance(text, str):
            for name in _SUB_REFERENCE.findall(text):
                if name not in defined:
                    yield prop, name
        if isinstance(variables, Mapping):
            for variable in variables.values():
                yield from reference_sites(variable, prop)


def import_sites(value: object, prop: str) -> Iterator[tuple[str, object]]:
    """Each (property, argument) of an ``Fn::ImportValue`` in ``value``."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from import_sites(item, f"{prop}[{index}]")
    elif isinstance(value, Mapping):
        for key, argument in value.items():
            if key == "Fn::ImportValue":
                yield prop, argument
            elif str(key).startswith("Fn::"):  # a function's arguments: still this property
                yield from import_sites(argument, prop)
            else:
                yield from import_sites(argument, _child(prop, key))
