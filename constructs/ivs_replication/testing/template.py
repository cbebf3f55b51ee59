"""What a template deployment will do, decided before anything is created (``plan_stack``).

As CloudFormation does before its first resource: parameters get their values, the ``Rules``
are checked, conditions are evaluated, resources whose ``Condition`` is false are left out,
each ``Fn::If`` is decided and each ``AWS::NoValue`` removed, every ``Fn::ImportValue`` is
looked up, and the resources are put in dependency order (``DependsOn`` plus every ``Ref``,
``Fn::GetAtt`` and ``Fn::Sub`` reference; template order among equals). A ``DependsOn`` or a
reference to a resource that is left out is refused, as CloudFormation refuses it.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ivs_realtime_emulator import assumptions
from ivs_replication.testing.intrinsics import (
    LocalValues,
    Location,
    ParameterValue,
    TemplateScope,
    UnsupportedTemplateError,
    construct_path,
    import_sites,
    reference_sites,
)
from ivs_replication.testing.parameters import template_parameters

DEFAULT_STACK_NAME: Final = "TemplateDeployment"
LOCAL_STACK_UUID: Final = "00000000-0000-0000-0000-000000000000"


def local_pseudo_parameters(
    stack_name: str,
    region: str = assumptions.DEFAULT_REGION,
    account: str = assumptions.DEFAULT_ACCOUNT,
) -> dict[str, ParameterValue]:
    """The pseudo parameters of a stack deployed locally as ``stack_name`` (``region`` and
    ``account`` default: the emulator's, us-east-1 and 123456789012)."""
    return {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::StackId": (
            f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/{LOCAL_STACK_UUID}"
        ),
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
    }


@dataclass(frozen=True)
class Output:
    """An output of the template that is produced (its ``Condition``, if any, is true)."""

    logical_id: str
    value: object
    export_name: str | None = None


@dataclass(frozen=True)
class StackPlan:
    """A template's deployment, decided: ``order`` the resources to create, ``properties``
    theirs with ``Fn::If`` decided and ``AWS::NoValue`` removed, ``skipped`` the resources
    left out (each to its false condition), ``outputs`` the outputs produced, ``failed_rules``
    each rule assertion that fails (rule name, its description), and ``scope`` what values
    resolve against."""

    scope: TemplateScope
    order: list[str]
    properties: Mapping[str, Mapping[str, Any]]
    skipped: Mapping[str, str]
    outputs: list[Output]
    failed_rules: list[tuple[str, str]]

    @property
    def export_names(self) -> dict[str, str]:
        """Export name -> the output that exports it."""
        return {o.export_name: o.logical_id for o in self.outputs if o.export_name is not None}

    def dependencies(self) -> dict[str, set[str]]:
        """Each created resource's dependencies: ``DependsOn`` plus the resources its
        properties refer to."""
        return _dependencies(self.scope, self.properties)


def plan_stack(
    template: Mapping[str, Any],
    *,
    pseudo: Mapping[str, ParameterValue] | None = None,
    parameters: Mapping[str, str] | None = None,
    ssm_parameters: Mapping[str, str] | None = None,
    values: Mapping[str, LocalValues] | None = None,
    exports: Mapping[str, str] | None = None,
    check_imports: bool = True,
) -> StackPlan:
    """Decide ``template``'s deployment. ``pseudo`` default: a stack named
    "TemplateDeployment" in us-east-1 of 123456789012; ``parameters`` (default none given)
    and ``ssm_parameters`` (default none) as for ``template_parameters``; ``values`` (default
    empty) the live view of the created resources the plan's ``scope`` will resolve against;
    ``exports`` (default none) the export names ``Fn::ImportValue`` may read, each looked up
    now unless ``check_imports`` (default True) is False.

    Raises ``UnsupportedTemplateError`` (a ``MissingExportError`` for an import nobody
    exports) or ``ParameterValueError``.
    """
    resources = template_resources(template)
    if "Transform" in template:
        raise UnsupportedTemplateError(
            "(template)", "Transform", str(template["Transform"]), "macros are not expanded"
        )
    scope = TemplateScope(
        template,
        pseudo if pseudo is not None else local_pseudo_parameters(DEFAULT_STACK_NAME),
        template_parameters(template, parameters or {}, ssm_parameters or {}),
        values if values is not None else {},
        exports if exports is not None else {},
    )
    failed_rules = _failed_rules(scope)
    skipped = _skipped(scope, resources)
    scope.skipped = skipped
    properties = {
        logical_id: _selected_properties(scope, logical_id, resource)
        for logical_id, resource in resources.items()
        if logical_id not in skipped
    }
    outputs = _outputs(scope)
    if check_imports:
        _check_imports(scope, properties, outputs)
    order = _order(_dependencies(scope, properties))
    return StackPlan(scope, order, properties, skipped, outputs, failed_rules)


def dependencies(template: Mapping[str, Any]) -> dict[str, set[str]]:
    """Each created resource's dependencies (parameters at their defaults): ``DependsOn`` plus
    the resources its properties refer to. Raises ``UnsupportedTemplateError`` for a
    ``DependsOn`` on a resource not in the template or left out by its condition."""
    return plan_stack(template, check_imports=False).dependencies()


def creation_order(template: Mapping[str, Any]) -> list[str]:
    """The created resources (parameters at their defaults) in an order where each comes after
    its dependencies; among resources that are ready together, template order. Raises
    ``UnsupportedTemplateError`` on a cycle."""
    return plan_stack(template, check_imports=False).order


# --- the steps ---------------------------------------------------------------------------------


def template_resources(template: Mapping[str, Any]) -> Mapping[str, Any]:
    """The template's ``Resources``; raises ``UnsupportedTemplateError`` for a non-template."""
    resources = template.get("Resources")
    if not isinstance(resources, Mapping):
        raise UnsupportedTemplateError("(template)", "Resources", "a non-object", "not a template")
    return resources


def _failed_rules(scope: TemplateScope) -> list[tuple[str, str]]:
    """Each assertion of the template's ``Rules`` that fails, as (rule name, description)."""
    failed: list[tuple[str, str]] = []
    for name, rule in scope.section("Rules").items():
        resolver = scope.resolver(Location(name, "Rule"), static=True)
        if "RuleCondition" in rule and not resolver.evaluate(
            rule["RuleCondition"], "RuleCondition", rule=True
        ):
            continue
        for index, assertion in enumerate(rule.get("Assertions") or []):
            prop = f"Assertions[{index}].Assert"
            if not resolver.evaluate(assertion.get("Assert"), prop, rule=True):
                failed.append((name, str(assertion.get("AssertDescription", "assertion failed"))))
    return failed


def _skipped(scope: TemplateScope, resources: Mapping[str, Any]) -> dict[str, str]:
    """The resources whose ``Condition`` is false, each to that condition."""
    skipped: dict[str, str] = {}
    for logical_id, resource in resources.items():
        if "Condition" in resource:
            condition = resource["Condition"]
            if not scope.resource_resolver(logical_id).condition_named(condition, "Condition"):
                skipped[logical_id] = str(condition)
    return skipped


def _selected_properties(
    scope: TemplateScope, logical_id: str, resource: Mapping[str, Any]
) -> Mapping[str, Any]:
    selected = scope.resource_resolver(logical_id).select(resource.get("Properties") or {}, "")
    return selected if isinstance(selected, Mapping) else {}


def _outputs(scope: TemplateScope) -> list[Output]:
    """The outputs produced, their values selected and their export names resolved."""
    outputs: list[Output] = []
    exported: dict[str, str] = {}
    for logical_id, output in scope.section("Outputs").items():
        location = Location(logical_id, "Output", construct_path(output))
        resolver = scope.resolver(location)
        if "Condition" in output and not resolver.condition_named(output["Condition"], "Condition"):
            continue
        export = output.get("Export")
        name = None
        if isinstance(export, Mapping) and "Name" in export:
            # Importers must know the name before this stack exists: no resource in it.
            name = scope.resolver(location, static=True).resolve_text(export["Name"], "Export.Name")
            if name in exported:
                raise resolver.unsupported(
                    "Export.Name", name, f"output {exported[name]} exports that name already"
                )
            exported[name] = logical_id
        outputs.append(Output(logical_id, resolver.select(output.get("Value"), "Value"), name))
    return outputs


def _check_imports(
    scope: TemplateScope, properties: Mapping[str, Mapping[str, Any]], outputs: list[Output]
) -> None:
    """Look up every import now, as CloudFormation does before creating anything."""
    for logical_id, selected in properties.items():
        resolver = scope.resource_resolver(logical_id)
        for prop, argument in import_sites(selected, ""):
            resolver.imported_value(argument, prop)
    for output in outputs:
        resolver = scope.resolver(Location(output.logical_id, "Output"))
        for prop, argument in import_sites(output.value, "Value"):
            resolver.imported_value(argument, prop)


def _dependencies(
    scope: TemplateScope, properties: Mapping[str, Mapping[str, Any]]
) -> dict[str, set[str]]:
    resources = scope.section("Resources")
    found: dict[str, set[str]] = {}
    for logical_id, selected in properties.items():
        resolver = scope.resource_resolver(logical_id)
        depends_on = resources[logical_id].get("DependsOn") or []
        explicit = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        for missing in sorted(explicit - set(properties)):
            raise resolver.unsupported("DependsOn", missing, _absent(scope, missing))
        implicit: set[str] = set()
        for prop, target in reference_sites(selected, ""):
            if target in scope.skipped:
                raise resolver.unsupported(prop, f"a reference to {target}", _absent(scope, target))
            if target in properties:
                implicit.add(target)
        found[logical_id] = (explicit | implicit) - {logical_id}
    return found


def _absent(scope: TemplateScope, target: str) -> str:
    if target in scope.skipped:
        return f"{target} is not created: its Condition {scope.skipped[target]} is false"
    return "not in the template"


def _order(depends: Mapping[str, set[str]]) -> list[str]:
    order, stuck = topological_order(depends)
    if stuck:
        raise UnsupportedTemplateError(
            stuck[0], "DependsOn", "a dependency cycle", f"among {', '.join(stuck)}"
        )
    return order


def topological_order(depends: Mapping[str, set[str]]) -> tuple[list[str], list[str]]:
    """The keys of ``depends`` (each to the keys it needs first) in an order where each comes
    after what it needs, ties in ``depends``' own order; and, sorted, those a cycle holds."""
    position = {key: index for index, key in enumerate(depends)}
    waiting = {key: set(needs) for key, needs in depends.items()}
    ready = [(position[key], key) for key, needs in waiting.items() if not needs]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, key = heapq.heappop(ready)
        order.append(key)
        for other, needs in waiting.items():
            if key in needs:
                needs.discard(key)
                if not needs:
                    heapq.heappush(ready, (position[other], other))
    return order, sorted(set(depends) - set(order))
