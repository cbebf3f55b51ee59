"""The one provider per stack that every ParticipantReplication in the stack shares, and the
stack's per-stack state: what it declares, its settings, its follow-mode infrastructure."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING

import jsii
from aws_cdk import Annotations, Duration, IStableStringProducer, Lazy, Stack, Token
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct, IValidation

from ivs_replication_handler import contract as c

from .functions import (
    acknowledge,
    acknowledge_synchronous_function,
    cfn_function_of,
    depend_on_policy_only,
    grant_ivs,
    handler_function,
    logical_id,
    new_log_group,
    role_writing_to,
)
from .reads import default_policy_of, remembered, stack_of
from .registry import Registry

if TYPE_CHECKING:
    from .follow import FollowInfrastructure

PROVIDER_ID = "IvsParticipantReplicationProvider"

# The handler's timeout when no replication of the stack waits for its publisher.
HANDLER_TIMEOUT = Duration.seconds(c.REQUEST_BUDGET_SECONDS)
# Lambda's default, stated explicitly for the provider framework's function.
FRAMEWORK_MEMORY_MB = 128

# What identifies one replication in IVS: (source ARN, destination ARN, participant id).
ReplicationIdentity = tuple[str, str, str]

# Each stack's provider, found through jsii once per stack (memoization, as in `reads`).
_providers: weakref.WeakKeyDictionary[Stack, ReplicationProvider] = weakref.WeakKeyDictionary()

# A replication declared in two stacks of one app: deleting either stack stops it for the other.
DECLARED_IN_SEVERAL_STACKS_WARNING = "ivs-replication:declared-in-several-stacks"


class _AppDeclarations:
    """Which construct first declared each replication, across the stacks of one app (CDK has
    no per-app singleton construct to hold it; it lives as long as the app's root)."""

    def __init__(self) -> None:
        self.first: dict[ReplicationIdentity, Construct] = {}


_apps: weakref.WeakKeyDictionary[IConstruct, _AppDeclarations] = weakref.WeakKeyDictionary()


class ReplicationProvider(Construct):
    """Shared by all replications of a stack, at a fixed construct path so the ServiceToken
    never changes; its size does not grow with the number of replications. It holds the
    stack's state: the replications it declares, the settings its functions get, and its
    follow-mode infrastructure once there is one.

    Use `ReplicationProvider.of(scope)`; constructing it directly is for that method only.
    """

    def __init__(self, scope: Stack, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self._stack = scope
        self._longest_wait_seconds = 0
        self._replications = 0
        self._mirror_destinations = 0
        self._ivs_calls_per_second: float | None = None
        self._service_token: str | None = None
        self._account: str | None = None
        self._account_read = False
        # Each replication the stack declares, and the construct that declares it.
        self._declared: dict[ReplicationIdentity, Construct] = {}
        # Replications also declared in another stack of the app: (here, there).
        self._shared: list[tuple[Construct, Construct]] = []
        self._app = remembered(_apps, scope.node.root, lambda _root: _AppDeclarations())
        self.node.add_validation(_DeclaredOnce(self))
        # Set by FollowInfrastructure when the stack's first follow-mode declaration makes it.
        self.follow: FollowInfrastructure | None = None
        self.metrics_namespace = c.METRICS_NAMESPACE_DEFAULT
        self.metrics_service = c.METRICS_SERVICE_DEFAULT
        handler_logs = new_log_group(self, "OnEventLogs")
        handler_role = role_writing_to(self, "OnEventRole", handler_logs)
        grant_ivs(
            handler_role,
            scope,
            why="A fixed pattern keeps the policy's size constant and lets a replacement stop "
            "the replication it replaces; exact ARNs would be dropped before that Stop runs.",
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
        acknowledge_synchronous_function(self.on_event_function, "the provider framework")
        acknowledge_synchronous_function(framework_function, "CloudFormation")
        # Which resources declare each replication (ownership), in every mode.
        self.registry = Registry(self, self.on_event_function)

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

    @property
    def account(self) -> str | None:
        """The stack's account when it is concrete (None while it is a token); read once."""
        if not self._account_read:
            account = self._stack.account
            self._account = None if Token.is_unresolved(account) else account
            self._account_read = True
        return self._account

    def declare(self, replication: Construct, identity: ReplicationIdentity) -> None:
        """Record that `replication` declares the replication `identity` (source ARN,
        destination ARN, participant id) in this stack.

        :raises ValueError: if another construct of the stack declares it already: both would
            share one physical id and one registry item, so removing either would stop the
            other's (the message names both construct paths).
        """
        self._claim(
            replication,
            identity,
            "declares the same replication as {first} (same source stage, destination stage "
            "and participant id): declare each replication once per stack.",
        )
        self._replications += 1

    def declare_mirror_destination(
        self, destination: Construct, source_arn: str, destination_arn: str
    ) -> None:
        """Record that `destination` (a StageMirror's) mirrors `source_arn` into
        `destination_arn` in this stack; its handler paces its Starts at its share of the
        stack's rate (the stack's mirror destinations may all be created at once).

        :raises ValueError: if another construct of the stack mirrors the same source into the
            same destination (the message names both construct paths).
        """
        self._claim(
            destination,
            (source_arn, destination_arn, c.EVERY_PUBLISHER),
            "mirrors the same source stage into the same destination stage as {first}: "
            "mirror each source into each destination once per stack.",
        )
        if self._mirror_destinations == 0:
            self.on_event_function.add_environment(
                c.ENV_STACK_MIRROR_DESTINATIONS, Lazy.string(_MirrorDestinationCount(self))
            )
        self._mirror_destinations += 1

    @property
    def mirror_destinations(self) -> int:
        """How many StageMirror destinations of the stack use this provider."""
        return self._mirror_destinations

    def _claim(self, construct: Construct, identity: ReplicationIdentity, clash: str) -> None:
        """`construct` declares `identity`; `clash` (with "{first}") says why a second one
        in the stack is refused."""
        # The construct, not its path: a path is a jsii round trip, needed only for the error.
        first = self._declared.setdefault(identity, construct)
        if first is not construct:
            raise ValueError(f"{construct.node.path} {clash.format(first=first.node.path)}")
        in_app = self._app.first.setdefault(identity, construct)
        if in_app is not construct:
            self._shared.append((construct, in_app))

    def shared_declarations(self) -> list[str]:
        """The stack's replications declared in another stack of the app too, each as an error
        unless its warning is acknowledged (`Annotations.acknowledge_warning`) on either
        construct or an ancestor: deleting either stack would stop it for the other."""
        errors = []
        for here, there in self._shared:
            message = (
                f"{here.node.path} and {there.node.path} declare the same replication (same "
                "source stage, destination stage and participant id) in two stacks of one "
                "app: each stack's registry owns it alone, so deleting either stack (or the "
                "construct) stops it for the other. Declare it in one stack; if the stacks "
                "deploy to different accounts or regions, acknowledge "
                f"{DECLARED_IN_SEVERAL_STACKS_WARNING}."
            )
            Annotations.of(there).add_warning_v2(DECLARED_IN_SEVERAL_STACKS_WARNING, message)
            Annotations.of(here).add_warning_v2(DECLARED_IN_SEVERAL_STACKS_WARNING, message)
            if _warned(here) and _warned(there):
                errors.append(message)
        return errors

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
        self._ivs_calls_per_second = c.check_calls_per_second("calls_per_second", calls_per_second)
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
        if self.follow is not None:
            functions.append(self.follow.reconciler)
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
        cfn_function_of(self.on_event_function).timeout = c.REQUEST_BUDGET_SECONDS + wait_seconds

    @classmethod
    def of(cls, scope: IConstruct) -> ReplicationProvider:
        """The stack's provider, created on first use."""
        return remembered(_providers, stack_of(scope), cls._find_or_create)

    @classmethod
    def _find_or_create(cls, stack: Stack) -> ReplicationProvider:
        existing = stack.node.try_find_child(PROVIDER_ID)
        if existing is None:
            return cls(stack, PROVIDER_ID)
        if not isinstance(existing, cls):
            raise ValueError(
                f"The construct id '{PROVIDER_ID}' is reserved for the IVS replication provider "
                f"in stack {stack.stack_name}; rename the construct that uses it."
            )
        return existing


@jsii.implements(IValidation)
class _DeclaredOnce:
    """Fails synth for a replication declared in two stacks of one app (see
    `ReplicationProvider.shared_declarations`)."""

    def __init__(self, provider: ReplicationProvider) -> None:
        self._provider = provider

    def validate(self) -> list[str]:
        return self._provider.shared_declarations()


def _warned(construct: IConstruct) -> bool:
    """Whether `construct` carries the several-stacks warning (not acknowledged)."""
    tag = f"[ack: {DECLARED_IN_SEVERAL_STACKS_WARNING}]"
    return any(tag in str(entry.data) for entry in construct.node.metadata)


@jsii.implements(IStableStringProducer)
class _MirrorDestinationCount:
    """The stack's mirror destination count, as the handler's environment variable."""

    def __init__(self, provider: ReplicationProvider) -> None:
        self._provider = provider

    def produce(self) -> str:
        return str(self._provider.mirror_destinations)


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
    cfn_function_of(framework_function).memory_size = FRAMEWORK_MEMORY_MB
