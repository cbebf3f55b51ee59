"""The one provider per stack that every ParticipantReplication in the stack shares."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Mapping
from typing import TypeVar

import jsii
from aws_cdk import (
    Acknowledgment,
    CfnElement,
    CfnResource,
    Duration,
    IStableStringProducer,
    Lazy,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from ivs_replication_handler import contract as c

from .asset import ARCHITECTURE, RUNTIME, handler_code

PROVIDER_ID = "IvsParticipantReplicationProvider"

# The handler's timeout when no replication of the stack waits for its publisher.
HANDLER_TIMEOUT = Duration.seconds(c.REQUEST_BUDGET_SECONDS)

# The provider of each scope asked so far: replications usually share their scope, and finding
# the provider through jsii twice per replication adds up at hundreds of replications.
_providers: weakref.WeakKeyDictionary[IConstruct, ReplicationProvider] = weakref.WeakKeyDictionary()
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
HANDLER_MEMORY_MB = 256
# Lambda's default, stated explicitly for the provider framework's function.
FRAMEWORK_MEMORY_MB = 128


class ReplicationProvider(Construct):
    """Shared by all replications of a stack, at a fixed construct path so the ServiceToken
    never changes; its size does not grow with the number of replications.

    Use `ReplicationProvider.of(scope)`; constructing it directly is for that method only.
    """

    def __init__(self, scope: Stack, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self._longest_wait_seconds = 0
        self._replications = 0
        self._ivs_calls_per_second: float | None = None
        self._service_token: str | None = None
        self.metrics_namespace = c.METRICS_NAMESPACE_DEFAULT
        self.metrics_service = c.METRICS_SERVICE_DEFAULT
        handler_logs = new_log_group(self, "OnEventLogs")
        handler_role = role_writing_to(self, "OnEventRole", handler_logs)
        handler_role.add_to_policy(
            iam.PolicyStatement(
                actions=list(c.IAM_ACTIONS), resources=[stage_arns_of_account(scope)]
            )
        )
        acknowledge(
            default_policy_of(handler_role),
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ivs:*:<AWS::AccountId>:stage/*]",
            "Only the replication actions and two reads, on stages of this account only. A fixed "
            "pattern keeps the policy's size constant and lets a replacement stop the "
            "replication it replaces; exact ARNs would be dropped before that Stop runs.",
        )
        self.on_event_function = handler_function(
            self,
            "OnEvent",
            description="Starts and stops IVS participant replications for CloudFormation",
            handler=c.ON_EVENT_ENTRY_POINT,
            timeout=HANDLER_TIMEOUT,
            role=handler_role,
            log_group=handler_logs,
            # Read at synth, once all replications exist: one jsii call, not one each.
            environment={c.ENV_STACK_REPLICATIONS: Lazy.string(_ReplicationCount(self))},
        )

        framework_logs = new_log_group(self, "FrameworkLogs")
        framework_role = role_writing_to(self, "FrameworkRole", framework_logs)
        self._provider = cr.Provider(
            self,
            "Framework",
            on_event_handler=self.on_event_function,
            framework_on_event_role=framework_role,
            log_group=framework_logs,
        )
        acknowledge(
            # Created by the framework when it grants itself the invoke permission.
            default_policy_of(framework_role),
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.on_event_function)}.Arn>:*]",
            "The provider framework may invoke any version of this stack's replication "
            "handler (FunctionArn:*), and no other function.",
        )
        framework_function = self._provider.node.find_child("framework-onEvent")
        depend_on_policy_only(framework_function, framework_role)
        _state_the_framework_memory(framework_function)
        _acknowledge_synchronous_function(self.on_event_function, "the provider framework")
        _acknowledge_synchronous_function(framework_function, "CloudFormation")

    @property
    def service_token(self) -> str:
        # Read through jsii once: every replication of the stack asks for it.
        if self._service_token is None:
            self._service_token = self._provider.service_token
        return self._service_token

    @property
    def replications(self) -> int:
        """How many replications of the stack use this provider."""
        return self._replications

    def count_replication(self) -> None:
        """One more replication in the stack. The handler spreads the retries of a throttled
        burst of creates over the time this many Starts need at IVS's rate."""
        self._replications += 1

    @property
    def metrics_environment(self) -> dict[str, str]:
        """The functions' metric settings; empty while they are the defaults, so a stack
        that keeps them has the same template as before metrics existed."""
        environment: dict[str, str] = {}
        if self.metrics_namespace != c.METRICS_NAMESPACE_DEFAULT:
            environment[c.ENV_METRICS_NAMESPACE] = self.metrics_namespace
        if self.metrics_service != c.METRICS_SERVICE_DEFAULT:
            environment[c.ENV_METRICS_SERVICE] = self.metrics_service
        return environment

    @property
    def ivs_pace_environment(self) -> dict[str, str]:
        """The IVS rate the functions assume, when not the default (default stacks keep their
        template)."""
        if self._ivs_calls_per_second is None:
            return {}
        return {c.ENV_IVS_CALLS_PER_SECOND: f"{self._ivs_calls_per_second:g}"}

    def pace_ivs_calls(self, *, calls_per_second: float) -> None:
        """The rate, per operation, at which this stack's functions may call IVS. The
        reconciler paces its calls at it (a fan-out's Starts run concurrently up to it, a
        sweep's Lists and Starts are spread at it); the handler spreads a throttled burst of
        creates over the time the stack's Starts need at it. Default: 5 calls per second (IVS
        documents about 5 TPS for its stage APIs); raise it only with a raised quota.

        :raises ValueError: if `calls_per_second` is not above 0 and at most 100.
        """
        maximum = c.IVS_CALLS_PER_SECOND_MAX
        if isinstance(calls_per_second, bool) or not 0 < calls_per_second <= maximum:
            raise ValueError(
                f"Invalid calls_per_second: {calls_per_second!r} is out of range. Expected a "
                f"number of calls per second above 0 and at most {maximum:g}."
            )
        self._ivs_calls_per_second = float(calls_per_second)
        self._set_on_functions(self.ivs_pace_environment)

    def use_metrics(self, *, namespace: str | None = None, service: str | None = None) -> None:
        """Publish the functions' metrics under `namespace` and `service` (the dimension).

        Default: namespace ``IvsParticipantReplication``, service
        ``ivs-participant-replication``. Applies to the handler and, whenever it exists, the
        reconciler; call it before creating ``ReplicationAlarms``.
        :raises ValueError: if a value is empty.
        """
        for name, value in (("namespace", namespace), ("service", service)):
            if value is not None and not value.strip():
                raise ValueError(f"Invalid {name}: the value is empty. Expected a metric {name}.")
        self.metrics_namespace = namespace or self.metrics_namespace
        self.metrics_service = service or self.metrics_service
        self._set_on_functions(self.metrics_environment)

    def _set_on_functions(self, environment: Mapping[str, str]) -> None:
        """Set `environment` on the handler and, if it exists yet, the reconciler (which reads
        the provider's settings when it is created later)."""
        functions = [self.on_event_function]
        follow = self.node.try_find_child("Follow")
        reconciler = follow.node.try_find_child("Reconciler") if follow is not None else None
        if isinstance(reconciler, lambda_.Function):
            functions.append(reconciler)
        for function in functions:
            for key, value in environment.items():
                function.add_environment(key, value)

    def allow_wait(self, wait_seconds: int) -> None:
        """Give the handler time to wait `wait_seconds` for a publisher, on top of the time
        any request needs: its timeout is the request budget plus the stack's longest wait,
        so a stack that never waits keeps the 5-minute timeout."""
        if wait_seconds <= self._longest_wait_seconds:
            return
        self._longest_wait_seconds = wait_seconds
        cfn_function = default_child_of(self.on_event_function)
        if not isinstance(cfn_function, lambda_.CfnFunction):
            raise TypeError(f"{self.on_event_function.node.path} has no CfnFunction")
        cfn_function.timeout = c.REQUEST_BUDGET_SECONDS + wait_seconds

    @classmethod
    def of(cls, scope: IConstruct) -> ReplicationProvider:
        """The stack's provider, created on first use."""
        return remembered(_providers, scope, cls._find_or_create)

    @classmethod
    def _find_or_create(cls, scope: IConstruct) -> ReplicationProvider:
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(PROVIDER_ID)
        if existing is None:
            return cls(stack, PROVIDER_ID)
        if not isinstance(existing, cls):
            raise ValueError(
                f"The construct id '{PROVIDER_ID}' is reserved for the IVS replication provider "
                f"in stack {stack.stack_name}; rename the construct that uses it."
            )
        return existing


@jsii.implements(IStableStringProducer)
class _ReplicationCount:
    """The stack's replication count, as the handler's environment variable."""

    def __init__(self, provider: ReplicationProvider) -> None:
        self._provider = provider

    def produce(self) -> str:
        return str(self._provider.replications)


def _state_the_framework_memory(framework_function: IConstruct) -> None:
    """The framework's function runs with Lambda's default memory; say so explicitly
    (Serverless-LambdaDefaultMemorySize), without changing it."""
    cfn_function = default_child_of(framework_function)
    if not isinstance(cfn_function, lambda_.CfnFunction):
        raise TypeError(f"{framework_function.node.path} has no CfnFunction")
    cfn_function.memory_size = FRAMEWORK_MEMORY_MB


def _acknowledge_synchronous_function(function: IConstruct, caller: str) -> None:
    """The provider's functions answer CloudFormation themselves: a failure becomes a FAILED
    response with its reason, so a dead-letter queue would only hold requests whose pre-signed
    ResponseURL nobody may replay."""
    resource = default_child_of(function)
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{function.node.path} has no CloudFormation resource")
    acknowledge_all(
        resource,
        finding(
            "Serverless-LambdaDLQ",
            f"Called by {caller}, which gets every failure back as a FAILED custom-resource "
            "response with its reason; a dead-letter queue would only keep requests carrying a "
            "pre-signed ResponseURL, which must not be stored or replayed.",
            pack="Serverless",
        ),
        NO_TRACING,
    )


def stage_arns_of_account(stack: Stack) -> str:
    """Every IVS stage of the stack's account, in any region.

    One fixed ARN pattern keeps the policy's size independent of the number of replications,
    and lets a replacement stop the replication it replaces: CloudFormation updates the
    policy before it deletes the old resource, so a policy listing exact stage ARNs would have
    dropped the old stage by then. The handler's IVS calls can only reach this account's
    stages anyway.
    """
    return stack.format_arn(
        service="ivs",
        region="*",
        resource="stage",
        resource_name="*",
        arn_format=None,
    )


def handler_function(
    scope: Construct,
    construct_id: str,
    *,
    description: str,
    handler: str,
    timeout: Duration,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    environment: Mapping[str, str] | None = None,
    retry_attempts: int | None = None,
    max_event_age: Duration | None = None,
    on_failure: lambda_.IDestination | None = None,
) -> lambda_.Function:
    """A function running one entry point of the handler package: the same runtime,
    architecture, code, memory and JSON logging for every function of the library, depending
    on its role's policy only. The last four are `lambda_.Function`'s (default: unset)."""
    function = lambda_.Function(
        scope,
        construct_id,
        description=description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=handler,
        code=handler_code(),
        timeout=timeout,
        memory_size=HANDLER_MEMORY_MB,
        role=role,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        environment=environment,
        retry_attempts=retry_attempts,
        max_event_age=max_event_age,
        on_failure=on_failure,
    )
    depend_on_policy_only(function, role)
    return function


def role_writing_to(scope: Construct, construct_id: str, log_group: logs.LogGroup) -> iam.Role:
    """A Lambda role that can write to its own log group only (no AWS managed policy)."""
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=_lambda_principal(),
        description="IVS participant replication provider: writes its own logs",
    )
    log_group.grant_write(role)
    return role


K = TypeVar("K")
V = TypeVar("V")


def remembered(known: weakref.WeakKeyDictionary[K, V], key: K, find: Callable[[K], V]) -> V:
    """`find(key)`, asked once per key: what the construct reads through jsii once per stack
    or stage rather than once per replication (each round trip counts at hundreds). A None
    answer is remembered too."""
    if key in known:
        return known[key]
    value = known[key] = find(key)
    return value


# A construct's default child, and a role's default policy: each asked through jsii once
# (the provider's functions and roles are inspected several times while it is built).
_default_children: weakref.WeakKeyDictionary[IConstruct, IConstruct | None] = (
    weakref.WeakKeyDictionary()
)
_default_policies: weakref.WeakKeyDictionary[iam.IRole, IConstruct] = weakref.WeakKeyDictionary()


def default_child_of(construct: IConstruct) -> IConstruct | None:
    return remembered(_default_children, construct, _read_default_child)


def _read_default_child(construct: IConstruct) -> IConstruct | None:
    return construct.node.default_child


def default_policy_of(role: iam.IRole) -> IConstruct:
    """The policy CDK creates for `role`'s statements and grants (once there is one)."""
    return remembered(_default_policies, role, _read_default_policy)


def _read_default_policy(role: iam.IRole) -> IConstruct:
    return role.node.find_child("DefaultPolicy")


@functools.cache
def _lambda_principal() -> iam.ServicePrincipal:
    # A plain value, shared by every role of the process: one jsii object, not one per role.
    return iam.ServicePrincipal("lambda.amazonaws.com")


def depend_on_policy_only(function: IConstruct, role: iam.IRole) -> None:
    """CDK makes a function depend on its role and its role's policy, though `Role` is
    already a `GetAtt` dependency; cfn-lint rightly warns (W3005). Keep the policy only:
    the function must not run before its permissions exist."""
    cfn_function = default_child_of(function)
    cfn_policy = default_child_of(default_policy_of(role))
    if not isinstance(cfn_function, CfnResource) or not isinstance(cfn_policy, CfnElement):
        raise TypeError(f"{function.node.path} has no role policy to depend on")
    # The logical id as a token: the override is resolved with the template, which saves
    # resolving it now (each jsii round trip counts in a stack's fixed synth time).
    cfn_function.add_override("DependsOn", [cfn_policy.logical_id])


def logical_id(construct: IConstruct) -> str:
    resource = default_child_of(construct)
    if not isinstance(resource, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return Stack.of(construct).resolve(resource.logical_id)  # type: ignore[no-any-return]


def acknowledge(scope: IConstruct, rule: str, reason: str, *, pack: str = "AwsSolutions") -> None:
    """Record why a cdk-nag finding on `scope` is intended (read by `cdk-nag` v3 packs).

    ``pack`` Default: "AwsSolutions"; "Serverless" for `ServerlessChecks`' rules.
    """
    acknowledge_all(scope, finding(rule, reason, pack=pack))


def finding(rule: str, reason: str, *, pack: str = "AwsSolutions") -> Acknowledgment:
    """One acknowledged cdk-nag finding, for `acknowledge_all`."""
    return Acknowledgment(id=f"{pack}::{rule}", reason=reason)


def acknowledge_all(scope: IConstruct, *findings: Acknowledgment) -> None:
    """Acknowledge several findings on one scope in one jsii round trip pair."""
    Validations.of(scope).acknowledge(*findings)


def new_log_group(scope: Construct, construct_id: str) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        construct_id,
        retention=LOG_RETENTION,
        # Logs of a removed provider have no owner left; keep them only for the retention.
        removal_policy=RemovalPolicy.DESTROY,
    )


# X-Ray needs `xray:PutTraceSegments` on Resource "*" (it has no resource-level permissions),
# which this library never grants; metrics and JSON logs cover its functions' calls.
NO_TRACING = finding(
    "Serverless-LambdaTracing",
    "Active tracing needs xray:PutTraceSegments on Resource '*' (X-Ray has no "
    "resource-level permissions), which this library never grants; its structured logs "
    "and CloudWatch metrics record each call instead.",
    pack="Serverless",
)
