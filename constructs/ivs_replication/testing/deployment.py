"""``TemplateDeployment``: a whole synthesized stack deployed, and deleted, against local endpoints.

Before anything is created the template is planned as CloudFormation plans it (``plan_stack``):
parameters get their values, ``Rules`` are checked, conditions decide which resources exist and
which ``Fn::If`` branch holds, imports are looked up. Resources are then created in dependency
order (``DependsOn`` plus every ``Ref``, ``Fn::GetAtt`` and ``Fn::Sub`` reference, template order
among equals), the ``Outputs`` resolved and their exports published on the ``LocalExports``, and
deleted in exactly the reverse order, as CloudFormation does (``remove_resource()`` deletes one,
as an update that drops it from the template does). What each type becomes locally:

- ``AWS::IVS::Stage``: a stage of the ``IvsRealtimeEmulator``; ``Ref`` and ``Arn`` give its ARN.
- ``AWS::IVS::IngestConfiguration``: an ARN, a generated ``ParticipantId`` and ``StreamKey``
  (as the service generates them); ``start_encoder()`` makes that participant publish in the
  configuration's ``StageArn``.
- ``AWS::DynamoDB::Table``: a table of the ``LocalDynamoDB`` with the template's keys;
  ``Ref`` gives its name. ``DeletionPolicy: Retain`` keeps it on delete.
- ``AWS::Lambda::Function``: a ``LocalFunction`` (nothing runs until something invokes it).
- ``AWS::Events::Rule``: a rule of the ``LocalEventBus``, its targets (functions of this
  stack) run through the ``FunctionRuntime``; a target's ``Input`` is its constant input.
- ``Custom::IvsParticipantReplication`` and ``Custom::IvsStageMirror``: a ``LocalDeployment``
  request to the custom-resource handler (the function whose ``Handler`` is the library's
  entry point).
- IAM, log groups, Lambda permissions and invoke configurations, the dead-letter queue and its
  policy, alarms, dashboards and CDK metadata are recorded but do nothing: IAM is not enforced
  locally (cdk-nag and the construct tests check the policies), and a failed delivery is not
  retried nor dead-lettered (``LocalEventBus`` logs it).

Anything else, and any intrinsic that cannot be resolved, raises ``UnsupportedTemplateError``
before or while creating, naming the resource and its construct path.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn

from ivs_realtime_emulator import assumptions
from ivs_realtime_emulator.models import random_id
from ivs_replication.testing.deploy import LocalDeployment
from ivs_replication.testing.dynamodb import LocalDynamoDB
from ivs_replication.testing.events import LocalEventBus
from ivs_replication.testing.exports import LocalExports
from ivs_replication.testing.intrinsics import (
    LocalValues,
    Location,
    Resolver,
    UnsupportedTemplateError,
    construct_path,
)
from ivs_replication.testing.runtime import (
    LAMBDA_DEFAULT_TIMEOUT_SECONDS,
    RUNNABLE_ENTRY_POINTS,
    FunctionRuntime,
    HandlerRuntime,
    LocalFunction,
)
from ivs_replication.testing.template import (
    DEFAULT_STACK_NAME,
    StackPlan,
    creation_order,
    dependencies,
    local_pseudo_parameters,
    plan_stack,
    template_resources,
)
from ivs_replication_handler.contract import (
    MIRROR_RESOURCE_TYPE,
    ON_EVENT_ENTRY_POINT,
    RESOURCE_TYPE,
)

if TYPE_CHECKING:
    from ivs_realtime_emulator.server import IvsRealtimeEmulator
    from ivs_replication.testing.events import TargetSpec

STAGE_TYPE: Final = "AWS::IVS::Stage"
INGEST_TYPE: Final = "AWS::IVS::IngestConfiguration"
TABLE_TYPE: Final = "AWS::DynamoDB::Table"
FUNCTION_TYPE: Final = "AWS::Lambda::Function"
RULE_TYPE: Final = "AWS::Events::Rule"
INERT_TYPES: Final = frozenset(
    {
        "AWS::CDK::Metadata",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Lambda::Permission",
        "AWS::Logs::LogGroup",
        "AWS::SQS::Queue",
        "AWS::SQS::QueuePolicy",
    }
)
INGEST_INITIAL_STATE: Final = "INACTIVE"
SERVICE_TOKEN: Final = "ServiceToken"  # noqa: S105 - a property name, not a secret
_RETAINED_POLICIES: Final = ("Retain", "RetainExceptOnCreate")
_UNSUPPORTED_TARGET_KEYS: Final = ("InputPath", "InputTransformer")

__all__ = [
    "DEFAULT_STACK_NAME",
    "FUNCTION_TYPE",
    "INERT_TYPES",
    "INGEST_INITIAL_STATE",
    "INGEST_TYPE",
    "RULE_TYPE",
    "SERVICE_TOKEN",
    "STAGE_TYPE",
    "TABLE_TYPE",
    "LocalIngestConfiguration",
    "StackEvent",
    "TemplateDeployment",
    "TemplateDeploymentError",
    "creation_order",
    "dependencies",
]

StackStatus = Literal[
    "CREATE_COMPLETE", "CREATE_FAILED", "DELETE_COMPLETE", "DELETE_FAILED", "DELETE_SKIPPED"
]


class TemplateDeploymentError(RuntimeError):
    """A resource (or the stack, a rule or an output) could not be created or deleted; the
    message names it and says why."""

    def __init__(self, status: StackStatus, logical_id: str, reason: str) -> None:
        super().__init__(f"{logical_id}: {status}: {reason}")
        self.status = status
        self.logical_id = logical_id
        self.reason = reason


@dataclass(frozen=True)
class StackEvent:
    """One line of the stack's event history, as CloudFormation shows it."""

    logical_id: str
    resource_type: str
    status: StackStatus
    physical_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class LocalIngestConfiguration:
    """An ``AWS::IVS::IngestConfiguration``: the encoder publishes as ``participant_id``."""

    logical_id: str
    arn: str
    participant_id: str
    stage_arn: str | None
    stream_key: str


@dataclass(frozen=True)
class _Created:
    """A created resource: what ``Ref`` (its physical id) and ``Fn::GetAtt`` give, and how
    to delete it."""

    values: LocalValues
    delete: Callable[[], object] | None = field(default=None, compare=False)
    retain: bool = False

    @property
    def physical_id(self) -> str:
        return self.values.ref


class TemplateDeployment:
    """A synthesized template, deployed onto local endpoints.

    ``ivs`` is required; ``dynamodb`` (default: when the template declares a table - every stack
    with a replication has its registry - a ``LocalDynamoDB`` of the deployment's own, started
    now and stopped once the stack is deleted); ``bus`` default a new ``LocalEventBus`` (either
    way attached to ``ivs``);
    ``runtime`` default a ``HandlerRuntime`` running this library's handlers;
    ``stack_name`` default "TemplateDeployment"; ``inert_types`` (default: IAM, log groups, Lambda
    permissions, CDK metadata) are created as placeholders. ``parameters`` (default none) are
    the values of the template's parameters by name, as strings (a list comma-separated), over
    their defaults; ``ssm_parameters`` (default none; CDK's bootstrap version reads
    ``LOCAL_BOOTSTRAP_VERSION``) answer parameters of SSM types. ``exports`` (default a new,
    empty ``LocalExports``) is where ``Fn::ImportValue`` reads and this stack's exports go:
    share one between stacks deployed on the same endpoints, each with its own ``stack_name``
    (``AppDeployment`` does).
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        ivs: IvsRealtimeEmulator,
        dynamodb: LocalDynamoDB | None = None,
        bus: LocalEventBus | None = None,
        runtime: FunctionRuntime | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        inert_types: Iterable[str] = INERT_TYPES,
        parameters: Mapping[str, str] | None = None,
        ssm_parameters: Mapping[str, str] | None = None,
        exports: LocalExports | None = None,
    ) -> None:
        self._template = template
        self._resources: Mapping[str, Any] = template_resources(template)
        self._parameters = dict(parameters or {})
        self._ssm_parameters = dict(ssm_parameters or {})
        self.exports = exports if exports is not None else LocalExports()
        self._ivs = ivs
        # A stack with a table and no endpoint given gets one of its own, for its lifetime.
        self._owned_dynamodb = (
            LocalDynamoDB().start()
            if dynamodb is None and _declares_a_table(self._resources)
            else None
        )
        dynamodb = dynamodb or self._owned_dynamodb
        self._dynamodb = dynamodb
        self.bus = bus if bus is not None else LocalEventBus()
        self.bus.attach(ivs)
        self._runtime = runtime or HandlerRuntime(ivs=ivs, dynamodb=dynamodb)
        self.stack_name = stack_name
        self._inert_types = frozenset(inert_types)
        self._region = assumptions.DEFAULT_REGION
        self._account = assumptions.DEFAULT_ACCOUNT
        self._created: dict[str, _Created] = {}
        self._outputs: dict[str, str] = {}
        self._deployed = False
        self._history: list[StackEvent] = []
        self._functions: dict[str, LocalFunction] = {}
        self._ingest: dict[str, LocalIngestConfiguration] = {}
        self._deployment: LocalDeployment | None = None
        self._creators: dict[str, Callable[[str, Mapping[str, Any], Resolver], _Created]] = {
            STAGE_TYPE: self._create_stage,
            INGEST_TYPE: self._create_ingest_configuration,
            TABLE_TYPE: self._create_table,
            FUNCTION_TYPE: self._create_function,
            RULE_TYPE: self._create_rule,
            RESOURCE_TYPE: self._create_replication,
            MIRROR_RESOURCE_TYPE: self._create_mirror,
        }

    # --- reading -----------------------------------------------------------------------------

    @property
    def history(self) -> list[StackEvent]:
        """Every resource event so far, oldest first."""
        return list(self._history)

    @property
    def deployment(self) -> LocalDeployment | None:
        """The custom resources' ``LocalDeployment`` (None until one is created); its
        ``history`` holds every request sent to the handler."""
        return self._deployment

    @property
    def dynamodb(self) -> LocalDynamoDB | None:
        """The local DynamoDB its tables go to: the one given, or its own (started for a
        template with a table, stopped once the stack is deleted); None for neither."""
        return self._dynamodb

    @property
    def physical_ids(self) -> dict[str, str]:
        """Physical ids of the resources that exist now, in creation order."""
        return {logical_id: c.physical_id for logical_id, c in self._created.items()}

    @property
    def functions(self) -> dict[str, LocalFunction]:
        """The stack's functions by logical id."""
        return dict(self._functions)

    @property
    def ingest_configurations(self) -> dict[str, LocalIngestConfiguration]:
        """The stack's ingest configurations by logical id."""
        return dict(self._ingest)

    @property
    def deployed(self) -> bool:
        """True from a successful ``deploy()`` until ``delete()`` succeeds."""
        return self._deployed

    @property
    def outputs(self) -> dict[str, str]:
        """The stack's outputs by logical id (those whose condition holds), once deployed."""
        return dict(self._outputs)

    @property
    def exported(self) -> dict[str, str]:
        """The stack's exports, name -> value, once deployed."""
        return self.exports.exported_by(self.stack_name) if self._deployed else {}

    def logical_ids(self, resource_type: str) -> list[str]:
        """Logical ids of the template's resources of ``resource_type``, in template order."""
        return [lid for lid, r in self._resources.items() if r.get("Type") == resource_type]

    def creation_order(self) -> list[str]:
        """The order ``deploy()`` creates resources in (``delete()`` uses the reverse); the
        resources whose condition is false are not in it. Raises what ``deploy()`` raises
        before creating anything, except for an import nobody exports yet."""
        return self._plan(check_imports=False).order

    # --- the encoder of an ingest configuration ----------------------------------------------

    def start_encoder(self, logical_id: str) -> str:
        """The ingest configuration's encoder connects: its participant publishes in the
        configuration's stage. Returns the session id."""
        ingest, stage_arn = self._ingest_with_stage(logical_id)
        return self._ivs.publish(stage_arn, ingest.participant_id)

    def stop_encoder(self, logical_id: str) -> bool:
        """The encoder disconnects; False if it was not publishing."""
        ingest, stage_arn = self._ingest_with_stage(logical_id)
        return self._ivs.unpublish(stage_arn, ingest.participant_id)

    # --- deploy and delete -------------------------------------------------------------------

    def deploy(self, *, rollback: bool = True) -> None:
        """Create every resource in dependency order, then resolve the outputs and publish the
        stack's exports (and record its imports) on ``exports``.

        Before anything is created, ``UnsupportedTemplateError`` (a ``MissingExportError`` for
        an import nobody exports) or ``ParameterValueError`` is raised for what cannot be
        deployed locally, and ``TemplateDeploymentError`` for a failed rule assertion, an
        export name another stack holds, or a second ``deploy()`` before ``delete()`` (updates
        are not simulated). On a failure while creating, the resources created so far are
        deleted again in reverse order (``rollback`` default True, as CloudFormation does),
        then ``TemplateDeploymentError`` is raised from the cause.
        """
        if self._deployed or self._created:
            raise TemplateDeploymentError(
                "CREATE_FAILED", self.stack_name, "already deployed; delete() first"
            )
        plan = self._plan()
        self._check_deployable(plan)
        self._check_outputs(plan)
        for logical_id in plan.order:
            try:
                self._create(logical_id, plan)
            except Exception as error:
                self._record(logical_id, "CREATE_FAILED", reason=str(error))
                self._fail(logical_id, error, rollback=rollback)
        outputs = self._resolved_outputs(plan, rollback=rollback)
        self._outputs = {output_id: value for output_id, (value, _) in outputs.items()}
        exported = {name: value for value, name in outputs.values() if name is not None}
        self.exports.add(self.stack_name, exported, plan.scope.imported)
        self._deployed = True

    def delete(self) -> None:
        """Delete every created resource, newest first, then withdraw the stack's exports.

        Raises ``TemplateDeploymentError`` before deleting anything while another stack
        imports one of its exports (as CloudFormation refuses), and at the first resource that
        fails to delete (it stays)."""
        in_use = self.exports.in_use(self.stack_name)
        if in_use:
            name, importers = next(iter(in_use.items()))
            raise TemplateDeploymentError(
                "DELETE_FAILED",
                self.stack_name,
                f"Export {name} cannot be deleted as it is in use by {', '.join(importers)}"
                " (delete the importing stacks first)",
            )
        for logical_id in reversed(list(self._created)):
            self._delete_or_fail(logical_id)
        self.exports.remove(self.stack_name)
        self._outputs = {}
        self._deployed = False
        if self._owned_dynamodb is not None:
            self._owned_dynamodb.stop()
            self._owned_dynamodb = None

    def remove_resource(self, logical_id: str) -> None:
        """Delete one created resource, as CloudFormation does when an update's template no
        longer declares it (in the update's cleanup): a custom resource gets its Delete, the
        other resources stay as they are, and ``delete()`` leaves it out.

        Raises ``KeyError`` for a resource not created, ``ValueError`` when a created resource
        depends on it (CloudFormation refuses a template that refers to a resource it does not
        declare), and ``TemplateDeploymentError`` when its delete fails (it stays created).
        """
        if logical_id not in self._created:
            raise KeyError(f"{logical_id} is not a created resource of {self.stack_name}")
        dependencies = self._plan(check_imports=False).dependencies()
        dependents = sorted(
            other
            for other, needs in dependencies.items()
            if logical_id in needs and other in self._created
        )
        if dependents:
            raise ValueError(
                f"{', '.join(dependents)} depend on {logical_id}: remove them first, or keep it"
            )
        self._delete_or_fail(logical_id)

    # --- internals: bookkeeping ----------------------------------------------------------------

    def _plan(self, *, check_imports: bool = True) -> StackPlan:
        return plan_stack(
            self._template,
            pseudo=local_pseudo_parameters(self.stack_name, self._region, self._account),
            parameters=self._parameters,
            ssm_parameters=self._ssm_parameters,
            values=_CreatedValues(self._created),
            exports=self.exports,
            check_imports=check_imports,
        )

    def _check_deployable(self, plan: StackPlan) -> None:
        """What CloudFormation refuses before creating anything: a failed rule, an export
        name another stack holds; and here also a type with no local simulation and an
        intrinsic function no resolver here evaluates (inert resources' are never read)."""
        for rule, description in plan.failed_rules:
            raise TemplateDeploymentError("CREATE_FAILED", rule, f"Rule {rule}: {description}")
        for name, stack in self.exports.taken(self.stack_name, plan.export_names).items():
            raise TemplateDeploymentError(
                "CREATE_FAILED",
                plan.export_names[name],
                f"Export with name {name} is already exported by stack {stack}",
            )
        for logical_id in plan.order:
            resource_type = str(self._resources[logical_id].get("Type"))
            if resource_type in self._creators:
                resolver = plan.scope.resource_resolver(logical_id)
                resolver.check_functions(plan.properties[logical_id], "")
            elif resource_type not in self._inert_types:
                raise UnsupportedTemplateError(
                    logical_id,
                    "Type",
                    resource_type,
                    "no local simulation of this type; name it in inert_types to create it "
                    "as a placeholder",
                    supported=", ".join(sorted(self._creators)) + " resources",
                    construct_path=construct_path(self._resources[logical_id]),
                )

    def _check_outputs(self, plan: StackPlan) -> None:
        for output in plan.outputs:
            path = construct_path(plan.scope.section("Outputs").get(output.logical_id))
            resolver = plan.scope.resolver(Location(output.logical_id, "Output", path))
            resolver.check_functions(output.value, "Value")

    def _fail(self, failed: str, error: Exception, *, rollback: bool) -> NoReturn:
        if rollback:
            self._roll_back()
        raise TemplateDeploymentError("CREATE_FAILED", failed, str(error)) from error

    def _resolved_outputs(
        self, plan: StackPlan, *, rollback: bool
    ) -> dict[str, tuple[str, str | None]]:
        """Each output's value and export name; a failure fails the deploy like a resource's."""
        resolved: dict[str, tuple[str, str | None]] = {}
        for output in plan.outputs:
            path = construct_path(plan.scope.section("Outputs").get(output.logical_id))
            resolver = plan.scope.resolver(Location(output.logical_id, "Output", path))
            try:
                value = resolver.resolve_text(output.value, "Value")
            except UnsupportedTemplateError as error:
                self._fail(output.logical_id, error, rollback=rollback)
            resolved[output.logical_id] = (value, output.export_name)
        return resolved

    def _create(self, logical_id: str, plan: StackPlan) -> None:
        resource = self._resources[logical_id]
        resource_type = str(resource.get("Type"))
        creator = self._creators.get(resource_type)
        if creator is None:  # an inert type: nothing happens locally
            created = _Created(LocalValues(f"{self.stack_name}-{logical_id}"))
        else:
            resolver = plan.scope.resource_resolver(logical_id)
            created = creator(logical_id, plan.properties[logical_id], resolver)
        retain = resource.get("DeletionPolicy") in _RETAINED_POLICIES
        self._created[logical_id] = dataclasses.replace(created, retain=retain)
        self._record(logical_id, "CREATE_COMPLETE", created.physical_id)

    def _delete_or_fail(self, logical_id: str) -> None:
        """Delete one resource; a failure is recorded and raised, and the resource stays."""
        try:
            self._delete(logical_id)
        except Exception as error:
            self._record(logical_id, "DELETE_FAILED", reason=str(error))
            raise TemplateDeploymentError("DELETE_FAILED", logical_id, str(error)) from error

    def _delete(self, logical_id: str) -> None:
        created = self._created[logical_id]
        if created.retain:
            self._record(logical_id, "DELETE_SKIPPED", created.physical_id, "DeletionPolicy")
        else:
            if created.delete is not None:
                created.delete()
            self._record(logical_id, "DELETE_COMPLETE", created.physical_id)
        del self._created[logical_id]

    def _roll_back(self) -> None:
        """Delete what was created, newest first; a failure is recorded and rollback goes on."""
        for logical_id in reversed(list(self._created)):
            try:
                self._delete(logical_id)
            except Exception as error:  # recorded; the create failure is what gets raised
                self._record(logical_id, "DELETE_FAILED", reason=str(error))
                del self._created[logical_id]

    def _record(
        self,
        logical_id: str,
        status: StackStatus,
        physical_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        resource_type = str(self._resources[logical_id].get("Type"))
        self._history.append(StackEvent(logical_id, resource_type, status, physical_id, reason))

    def _generated_name(self, logical_id: str, max_length: int = 64) -> str:
        """A name like CloudFormation generates: stack, logical id and a random suffix."""
        suffix = random_id(12).upper()
        return f"{self.stack_name}-{logical_id}"[: max_length - len(suffix) - 1] + f"-{suffix}"

    def _ingest_with_stage(self, logical_id: str) -> tuple[LocalIngestConfiguration, str]:
        ingest = self._ingest[logical_id]
        if ingest.stage_arn is None:
            raise ValueError(f"ingest configuration {logical_id} has no StageArn to publish in")
        return ingest, ingest.stage_arn

    # --- internals: one creator per type -------------------------------------------------------

    def _create_stage(
        self, logical_id: str, properties: Mapping[str, Any], resolver: Resolver
    ) -> _Created:
        name = resolver.resolve_text(properties.get("Name", logical_id), "Name")
        arn = self._ivs.create_stage(name)
        values = LocalValues(arn, {"Arn": arn})
        return _Created(values, delete=lambda: self._ivs.delete_stage(arn))

    def _create_ingest_configuration(
        self, logical_id: str, properties: Mapping[str, Any], resolver: Resolver
    ) -> _Created:
        stage_arn = None
        if properties.get("StageArn"):
            stage_arn = resolver.resolve_text(properties["StageArn"], "StageArn")
            self._ivs.state.get_stage(stage_arn)  # an unknown stage fails, as with the service
        ingest = LocalIngestConfiguration(
            logical_id=logical_id,
            arn=(
                f"arn:aws:ivs:{self._region}:{self._account}:ingest-configuration/"
                f"{random_id(assumptions.INGEST_CONFIGURATION_ID_LENGTH)}"
            ),
            participant_id=random_id(assumptions.PARTICIPANT_ID_LENGTH),
            stage_arn=stage_arn,
            stream_key=f"sk_{self._region}_{random_id(assumptions.STREAM_KEY_LENGTH)}",
        )
        self._ingest[logical_id] = ingest
        values = LocalValues(
            ingest.arn,
            {
                "Arn": ingest.arn,
                "ParticipantId": ingest.participant_id,
                "StreamKey": ingest.stream_key,
                "State": INGEST_INITIAL_STATE,
            },
        )

        def delete() -> None:
            # Deleting the configuration disconnects its encoder.
            if ingest.stage_arn is not None:
                self._ivs.unpublish(ingest.stage_arn, ingest.participant_id)
            del self._ingest[logical_id]

        return _Created(values, delete=delete)

    def _create_table(
        self, logical_id: str, properties: Mapping[str, Any], resolver: Resolver
    ) -> _Created:
        dynamodb = self._dynamodb
        if dynamodb is None:
            raise ValueError(f"{logical_id} is a {TABLE_TYPE}: give the stack a LocalDynamoDB")
        name = (
            resolver.resolve_text(properties["TableName"], "TableName")
            if "TableName" in properties
            else self._generated_name(logical_id, max_length=255)
        )
        dynamodb.create_table(
            name,
            key_schema=_records(resolver.resolve(properties.get("KeySchema"), "KeySchema")),
            attribute_definitions=_records(
                resolver.resolve(properties.get("AttributeDefinitions"), "AttributeDefinitions")
            ),
        )
        arn = f"arn:aws:dynamodb:{self._region}:{self._account}:table/{name}"
        values = LocalValues(name, {"Arn": arn})
        return _Created(values, delete=lambda: dynamodb.delete_table(name))

    def _create_function(
        self, logical_id: str, properties: Mapping[str, Any], resolver: Resolver
    ) -> _Created:
        name = (
            resolver.resolve_text(properties["FunctionName"], "FunctionName")
            if "FunctionName" in properties
            else self._generated_name(logical_id)
        )
        handler = properties.get("Handler")
        handler = handler if isinstance(handler, str) else None
        environment: dict[str, str] = {}
        if handler in RUNNABLE_ENTRY_POINTS:  # only the functions that run locally need it
            variables = (properties.get("Environment") or {}).get("Variables") or {}
            for key, value in variables.items():
                environment[key] = resolver.resolve_text(value, f"Environment.Variables.{key}")
        timeout = properties.get("Timeout")
        function = LocalFunction(
            logical_id=logical_id,
            name=name,
            arn=f"arn:aws:lambda:{self._region}:{self._account}:function:{name}",
            handler=handler,
            timeout_seconds=(
                float(timeout)
                if isinstance(timeout, int | float)
                else LAMBDA_DEFAULT_TIMEOUT_SECONDS
            ),
            environment=environment,
        )
        self._functions[logical_id] = function

        def delete() -> None:
            del self._functions[logical_id]

        values = LocalValues(name, {"Arn": function.arn})
        return _Created(values, delete=delete)

    def _create_rule(
        self, logical_id: str, properties: Mapping[str, Any], resolver: Resolver
    ) -> _Created:
        bus_name = properties.get("EventBusName", "default")
        if bus_name != "default":
            raise resolver.unsupported("EventBusName", str(bus_name), "only the default bus is")
        name = (
            resolver.resolve_text(properties["Name"], "Name")
            if "Name" in properties
            else self._generated_name(logical_id)
        )
        rule = self.bus.put_rule(
            name,
            pattern=_pattern(resolver, properties.get("EventPattern")),
            schedule=(
                resolver.resolve_text(properties["ScheduleExpression"], "ScheduleExpression")
                if "ScheduleExpression" in properties
                else None
            ),
            targets=self._targets(logical_id, properties.get("Targets") or [], resolver),
            enabled=properties.get("State", "ENABLED") == "ENABLED",
        )
        values = LocalValues(name, {"Arn": rule.arn})
        return _Created(values, delete=lambda: self.bus.delete_rule(rule.name))

    def _targets(
        self, logical_id: str, targets: list[Mapping[str, Any]], resolver: Resolver
    ) -> list[TargetSpec]:
        specs: list[TargetSpec] = []
        for index, target in enumerate(targets):
            prop = f"Targets[{index}]"
            for key in _UNSUPPORTED_TARGET_KEYS:
                if key in target:
                    raise resolver.unsupported(
                        f"{prop}.{key}", key, "targets get the event or Input"
                    )
            arn = resolver.resolve_text(target.get("Arn"), f"{prop}.Arn")
            function = self._function_by_arn(resolver, f"{prop}.Arn", arn)
            invoke = self._runtime.event_target(function)
            if "Input" in target:
                text = resolver.resolve_text(target["Input"], f"{prop}.Input")
                specs.append((invoke, json.loads(text)))
            else:
                specs.append(invoke)
        return specs

    def _function_by_arn(self, resolver: Resolver, prop: str, arn: str) -> LocalFunction:
        for function in self._functions.values():
            if function.arn == arn:
                return function
        raise resolver.unsupported(prop, arn, "only functions of this stack are local targets")

    def _create_replication(
        self,
        logical_id: str,
        properties: Mapping[str, Any],
        resolver: Resolver,
        resource_type: str = RESOURCE_TYPE,
    ) -> _Created:
        deployment = self._replication_deployment(resolver)
        resolved = {
            name: resolver.resolve(value, name)
            for name, value in properties.items()
            if name != SERVICE_TOKEN  # locally the handler is called directly
        }
        resource = deployment.create(logical_id, resolved, resource_type=resource_type)
        attributes = {key: str(value) for key, value in resource.data.items()}
        values = LocalValues(resource.physical_id, attributes)

        def delete() -> None:
            deployment.delete(logical_id)

        return _Created(values, delete=delete)

    def _create_mirror(
        self, logical_id: str, properties: Mapping[str, Any], resolver: Resolver
    ) -> _Created:
        return self._create_replication(logical_id, properties, resolver, MIRROR_RESOURCE_TYPE)

    def _replication_deployment(self, resolver: Resolver) -> LocalDeployment:
        if self._deployment is None:
            handlers = [f for f in self._functions.values() if f.handler == ON_EVENT_ENTRY_POINT]
            if len(handlers) != 1:
                raise resolver.unsupported(
                    SERVICE_TOKEN,
                    "the handler",
                    f"{len(handlers)} functions with Handler {ON_EVENT_ENTRY_POINT} were "
                    "created before it; exactly one is expected",
                )
            [function] = handlers
            self._deployment = LocalDeployment(
                self._runtime.custom_resource_handler(function),
                timeout_seconds=function.timeout_seconds,
                clock=self._clock(),
            )
        return self._deployment

    def _clock(self) -> Callable[[], float]:
        """The clock the handler's deadline is measured on: the runtime's, if it has one."""
        return self._runtime.clock if isinstance(self._runtime, HandlerRuntime) else time.monotonic


# --- template helpers ------------------------------------------------------------------------


class _CreatedValues(Mapping[str, LocalValues]):
    """A live view of what the created resources give ``Ref`` and ``Fn::GetAtt``."""

    def __init__(self, created: Mapping[str, _Created]) -> None:
        self._created = created

    def __getitem__(self, logical_id: str) -> LocalValues:
        return self._created[logical_id].values

    def __iter__(self) -> Iterator[str]:
        return iter(self._created)

    def __len__(self) -> int:
        return len(self._created)


def _pattern(resolver: Resolver, value: object) -> Mapping[str, Any] | None:
    if value is None:
        return None
    # CloudFormation accepts the pattern as an object or as a JSON string.
    pattern = json.loads(value) if isinstance(value, str) else value
    resolved = resolver.resolve(pattern, "EventPattern")
    if not isinstance(resolved, Mapping):
        raise resolver.unsupported("EventPattern", type(resolved).__name__, "it is no object")
    return resolved


def _records(value: object) -> list[Mapping[str, str]]:
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ValueError(f"expected a list of objects, got {json.dumps(value)}")
    return [{str(k): str(v) for k, v in item.items()} for item in value]


def _declares_a_table(resources: Mapping[str, Any]) -> bool:
    return any(
        isinstance(resource, Mapping) and resource.get("Type") == TABLE_TYPE
        for resource in resources.values()
    )
