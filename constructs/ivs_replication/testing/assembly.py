"""``AppDeployment``: every stack of a synthesized CDK app, deployed locally in dependency order.

The app is a cloud assembly: what ``app.synth()`` returns, or a ``cdk.out`` directory. Each
CloudFormation stack of it (those of nested stages included) becomes a ``TemplateDeployment``
on shared endpoints: one IVS emulator, one ``LocalDynamoDB``, one ``LocalEventBus``, one
function runtime and one ``LocalExports``, so one stack's ``Fn::ImportValue`` reads what
another exports (CDK's cross-stack references are such exports and imports). Stacks deploy in
the assembly's dependency order, plus each import of a literal export name another stack of
the app makes, and are deleted in reverse. Every stack is deployed in the emulator's account and
region, whatever environment it names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_cdk import cx_api

from ivs_replication.testing.deployment import INERT_TYPES, TemplateDeployment
from ivs_replication.testing.dynamodb import LocalDynamoDB
from ivs_replication.testing.events import LocalEventBus
from ivs_replication.testing.exports import LocalExports
from ivs_replication.testing.intrinsics import import_sites
from ivs_replication.testing.runtime import FunctionRuntime, HandlerRuntime
from ivs_replication.testing.template import topological_order

if TYPE_CHECKING:
    from ivs_realtime_emulator.server import IvsRealtimeEmulator


class AppDeployment:
    """A synthesized CDK app's stacks, deployed onto local endpoints.

    ``assembly`` is a ``aws_cdk.cx_api.CloudAssembly`` (what ``app.synth()`` returns) or the
    path of a ``cdk.out`` directory. ``ivs`` is required; ``dynamodb`` (default: when a stack
    declares a table, a ``LocalDynamoDB`` of the deployment's own, started now and stopped once
    every stack is deleted); ``bus`` default a new ``LocalEventBus``; ``runtime`` default a
    ``HandlerRuntime`` running this library's handlers; all shared by every stack.
    ``parameters`` (default none) maps a stack name to its parameter values (over those the
    assembly's manifest names); ``ssm_parameters`` (default none) and ``inert_types`` (default
    ``INERT_TYPES``) go to every stack. Raises ``ValueError`` for two stacks of one name,
    parameters for a stack the app does not have, or stacks that import from each other in
    a cycle.
    """

    def __init__(
        self,
        assembly: cx_api.CloudAssembly | str | os.PathLike[str],
        *,
        ivs: IvsRealtimeEmulator,
        dynamodb: LocalDynamoDB | None = None,
        bus: LocalEventBus | None = None,
        runtime: FunctionRuntime | None = None,
        parameters: Mapping[str, Mapping[str, str]] | None = None,
        ssm_parameters: Mapping[str, str] | None = None,
        inert_types: Iterable[str] = INERT_TYPES,
    ) -> None:
        loaded = (
            assembly
            if isinstance(assembly, cx_api.CloudAssembly)
            else cx_api.CloudAssembly(os.fspath(assembly))
        )
        artifacts = _stack_artifacts(loaded)
        given = dict(parameters or {})
        unknown = sorted(set(given) - set(artifacts))
        if unknown:
            raise ValueError(f"parameters for stacks the app does not have: {unknown}")
        self.bus = bus if bus is not None else LocalEventBus()
        self.exports = LocalExports()
        templates = {name: _template(artifact) for name, artifact in artifacts.items()}
        self._owned_dynamodb = (
            LocalDynamoDB().start()
            if dynamodb is None and any(_declares_a_table(t) for t in templates.values())
            else None
        )
        dynamodb = dynamodb or self._owned_dynamodb
        self.runtime = runtime or HandlerRuntime(ivs=ivs, dynamodb=dynamodb)
        self._stacks = {
            name: TemplateDeployment(
                templates[name],
                ivs=ivs,
                dynamodb=dynamodb,
                bus=self.bus,
                runtime=self.runtime,
                stack_name=name,
                inert_types=inert_types,
                parameters={**(artifacts[name].parameters or {}), **given.get(name, {})},
                ssm_parameters=ssm_parameters,
                exports=self.exports,
            )
            for name in _deployment_order(artifacts, templates)
        }

    @property
    def stacks(self) -> dict[str, TemplateDeployment]:
        """Each stack's deployment by stack name, in deployment order."""
        return dict(self._stacks)

    def stack(self, name: str) -> TemplateDeployment:
        """The deployment of stack ``name``; raises ``KeyError`` naming the app's stacks."""
        if name not in self._stacks:
            raise KeyError(f"no stack {name!r} in the app; it has {', '.join(self._stacks)}")
        return self._stacks[name]

    def deploy(self, *, rollback: bool = True) -> None:
        """Deploy every stack not deployed yet, in order. A stack that fails rolls itself back
        (``rollback`` default True) and its ``TemplateDeploymentError`` (or the error that
        refused it before creating anything) is raised; the stacks before it stay deployed,
        as with ``cdk deploy --all``, for ``delete()`` to remove."""
        for stack in self._stacks.values():
            if not stack.deployed:
                stack.deploy(rollback=rollback)

    def delete(self) -> None:
        """Delete every deployed stack (and what a failed one left), importers before their
        exporters; raises ``TemplateDeploymentError`` at the first that fails."""
        for stack in reversed(self._stacks.values()):
            if stack.deployed or stack.physical_ids:
                stack.delete()
        if self._owned_dynamodb is not None:
            self._owned_dynamodb.stop()
            self._owned_dynamodb = None


def _stack_artifacts(
    assembly: cx_api.CloudAssembly,
) -> dict[str, cx_api.CloudFormationStackArtifact]:
    """The assembly's CloudFormation stacks (nested stages' too) by stack name."""
    found: dict[str, cx_api.CloudFormationStackArtifact] = {}
    for artifact in assembly.stacks_recursively:
        if artifact.stack_name in found:
            raise ValueError(
                f"two stacks are named {artifact.stack_name} ({found[artifact.stack_name].id} "
                f"and {artifact.id}); locally every stack shares one account and region"
            )
        found[artifact.stack_name] = artifact
    return found


def _template(artifact: cx_api.CloudFormationStackArtifact) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(
        Path(artifact.template_full_path).read_text(encoding="utf-8")
    )
    return template


def _deployment_order(
    artifacts: Mapping[str, cx_api.CloudFormationStackArtifact],
    templates: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Stack names, each after the stacks the assembly says it depends on and those whose
    exports it imports by a literal name; assembly order among equals."""
    names_by_id = {artifact.id: name for name, artifact in artifacts.items()}
    exporters = {
        export: name for name, template in templates.items() for export in _export_names(template)
    }
    depends: dict[str, set[str]] = {}
    for name, artifact in artifacts.items():
        declared = {names_by_id[d.id] for d in artifact.dependencies if d.id in names_by_id}
        imported = {exporters[i] for i in _import_names(templates[name]) if i in exporters}
        depends[name] = (declared | imported) - {name}
    order, stuck = topological_order(depends)
    if stuck:
        raise ValueError(f"these stacks depend on each other in a cycle: {', '.join(stuck)}")
    return order


def _export_names(template: Mapping[str, Any]) -> list[str]:
    outputs = template.get("Outputs") or {}
    names = [(output.get("Export") or {}).get("Name") for output in outputs.values()]
    return [name for name in names if isinstance(name, str)]


def _import_names(template: Mapping[str, Any]) -> set[str]:
    sections = (template.get("Resources") or {}, template.get("Outputs") or {})
    return {
        argument
        for section in sections
        for _, argument in import_sites(section, "")
        if isinstance(argument, str)
    }


def _declares_a_table(template: Mapping[str, Any]) -> bool:
    resources = template.get("Resources") or {}
    return any(
        isinstance(resource, Mapping) and resource.get("Type") == "AWS::DynamoDB::Table"
        for resource in resources.values()
    )
