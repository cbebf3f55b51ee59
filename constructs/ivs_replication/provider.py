"""The one provider per stack that every ParticipantReplication in the stack shares, and the
stack's per-stack state: what it declares, its settings, its follow-mode infrastructure."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Unpack

import jsii
from aws_cdk import Annotations, Duration, IStableStringProducer, Lazy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
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
    new_log_group,
    role_writing_to,
)
from .metrics import PERIOD, FunctionMetrics, MetricOptions, late_string
from .nag import resource_finding
from .operators import grant_reconcile, grant_status
from .reads import default_policy_of, remembered, stack_of
from .registry import Registry
from .tuning import Tuning

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
        # First: every function, log group, table and queue registers with it as it is made.
        self.tuning = Tuning(self)
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
        self._follow: FollowInfrastructure | None = None
        self._when_following: list[Callable[[FollowInfrastructure], None]] = []
        self.metrics_namespace = c.METRICS_NAMESPACE_DEFAULT
        self.metrics_service = c.METRICS_SERVICE_DEFAULT
        self._stack_name = scope.stack_name
        # Read when the template is written: `use_metrics` may come after any metric.
        self._metrics = FunctionMetrics(
            late_string(lambda: self.metrics_namespace),
            late_string(lambda: self.metrics_service),
            self._stack_name,
        )
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
            environment={
                # Read at synth, once all replications exist: one jsii call, not one each.
                c.ENV_STACK_REPLICATIONS: Lazy.string(_ReplicationCount(self)),
                **self.metrics_environment,
            },
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
            "AwsSolutions-IAM5["
            f"{resource_finding(self, f'{self.on_event_function.function_arn}:*')}]",
            "The provider framework may invoke any version of this stack's replication "
            "handler (FunctionArn:*), and no other function.",
        )
        framework_function = self._provider.node.find_child("framework-onEvent")
        depend_on_policy_only(framework_function, framework_role)
        self.tuning.framework_function(framework_function, framework_role)
        _state_the_framework_memory(framework_function)
        acknowledge_synchronous_function(self.on_event_function, "the provider framework")
        acknowledge_synchronous_function(framework_function, "CloudFormation")
        # Which resources declare each replication (ownership), in every mode.
        self.registry = Registry(self, self.on_event_function)

    # --- what a stack may tune --------------------------------------------------------------

    def configure(
        self,
        *,
        memory_size: int | None = None,
        log_retention: logs.RetentionDays | None = None,
        log_encryption_key: kms.IKey | None = None,
        registry_encryption_key: kms.IKey | None = None,
        dead_letter_encryption_key: kms.IKey | None = None,
        reserved_concurrent_executions: int | None = None,
        architecture: lambda_.Architecture | None = None,
        runtime: lambda_.Runtime | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        bundle: str | os.PathLike[str] | None = None,
    ) -> None:
        """Tune the stack's shared functions, log groups, registry and dead-letter queue.

        Applies to what exists and to what the stack creates later (the reconciler and the
        dead-letter queue come with its first follow-mode replication or sweep): call it
        before or after declaring replications. An argument left None keeps what an
        earlier call set, or the default. Settings that grant or create something (the keys,
        the VPC, its subnets and security groups, the bundle) are set once per stack.

        :param memory_size: MB of the handler and the reconciler, 128 to 10240. Default: 256
            (the provider framework's function keeps 128).
        :param log_retention: of the three functions' log groups. Default: one month.
        :param log_encryption_key: a KMS key for the three log groups. The key's policy must
            let CloudWatch Logs of this region use it: added for a key of this app, a
            warning for an imported one. Default: CloudWatch Logs' own encryption.
        :param registry_encryption_key: a KMS key for the registry table; the handler and the
            reconciler may use it through DynamoDB only. Default: an AWS owned key.
        :param dead_letter_encryption_key: a KMS key for the dead-letter queue (follow mode);
            the reconciler may use it through SQS, and the key's policy lets EventBridge
            rules of this account use it (a warning for an imported key). Default: SQS-managed
            encryption.
        :param reserved_concurrent_executions: reserved for each of the three functions, 1 or
            more. Below the number of replications a deployment creates at once, some of its
            creates are throttled and may fail (the framework retries its call a few times).
            Default: unreserved.
        :param architecture: of the handler and the reconciler; the bundle is pure Python, so
            ``ARM_64`` and ``X86_64`` both work. Default: ``Architecture.ARM_64``.
        :param runtime: of the handler and the reconciler: ``PYTHON_3_11`` to ``PYTHON_3_14``
            (what the bundle runs on). Default: ``Runtime.PYTHON_3_14``.
        :param vpc: put the three functions in this VPC. Their subnets must reach IVS
            real-time and DynamoDB (the handler, the reconciler) and Lambda and S3 (the
            framework, for its answer to CloudFormation) over HTTPS: through a NAT gateway, or
            VPC endpoints where they exist (see the README). Default: no VPC.
        :param vpc_subnets: which subnets of `vpc`; private ones only. Default: the VPC's
            private subnets with egress (CDK's default selection).
        :param security_groups: of the functions. Default: one security group of the
            provider's, HTTPS (443) out only, nothing in.
        :param bundle: a zip built like the prebuilt bundle (``python hatch_build.py --out
            <path>``, e.g. after changing a pin in the handler's requirements.txt), used by
            both functions instead. Default: the bundle shipped in the wheel.
        :raises ValueError: if a value is out of range or of the wrong kind, a set-once
            setting changes, subnets or security groups come without a VPC, the subnets are
            public or none, or the bundle is no zip holding the handler package (each message
            names the argument and the allowed form).
        """
        self.tuning.configure(
            memory_size=memory_size,
            log_retention=log_retention,
            log_encryption_key=log_encryption_key,
            registry_encryption_key=registry_encryption_key,
            dead_letter_encryption_key=dead_letter_encryption_key,
            reserved_concurrent_executions=reserved_concurrent_executions,
            architecture=architecture,
            runtime=runtime,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=security_groups,
            bundle=bundle,
        )

    # --- what an operator may do -----------------------------------------------------------

    def grant_status(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` (an operator's role) run ``ivs-replication status`` on this stack:
        CloudFormation's ``ListStackResources`` and ``GetTemplate`` on this stack; IVS's
        ``ListParticipantReplicas``, ``GetStage``, ``GetParticipant`` and ``ListParticipants``
        (who publishes in a mirrored stage) on the stages of the stack's account and region;
        ``dynamodb:GetItem`` on the registry (a mirror's user ids, when a parameter gives
        them), with the registry key through DynamoDB if one is configured; nothing else.
        cdk-nag's wildcard findings on the grantee's default policy are acknowledged there,
        with their reasons."""
        return grant_status(self, grantee)

    def grant_reconcile(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` run ``ivs-replication reconcile`` (and ``status``) on this stack:
        ``grant_status``'s reads, ``lambda:InvokeFunction`` on the reconciler, and for
        ``--local``, which runs the reconciler's code, what the reconciler's role has (its
        ``ivs:`` actions, ``contract.IAM_ACTIONS``, on the region's stages;
        ``dynamodb:GetItem``/``Query``/``Scan`` on the registry; the registry key through
        DynamoDB if one is configured). Invoking the reconciler is granted when the stack has
        follow mode, before or after this call; the returned grant covers the statements made
        now."""
        return grant_reconcile(self, grantee)

    # --- what the stack has (read-only) -----------------------------------------------------

    @property
    def follow(self) -> FollowInfrastructure | None:
        """The stack's follow-mode infrastructure, once it has one."""
        return self._follow

    @follow.setter
    def follow(self, infrastructure: FollowInfrastructure) -> None:
        self._follow = infrastructure
        for callback in self._when_following:
            callback(infrastructure)

    def when_following(self, callback: Callable[[FollowInfrastructure], None]) -> None:
        """Call `callback` with the stack's follow-mode infrastructure: now if it exists,
        else when it is made."""
        self._when_following.append(callback)
        if self._follow is not None:
            callback(self._follow)

    @property
    def handler_function(self) -> lambda_.IFunction:
        """The custom-resource handler (every replication's requests)."""
        return self.on_event_function

    @property
    def reconciler_function(self) -> lambda_.IFunction | None:
        """The follow-mode reconciler; None while the stack has no follow mode."""
        return self.follow.reconciler if self.follow is not None else None

    @property
    def registry_table(self) -> dynamodb.ITable:
        """The stack's registry (which resources declare each replication, in every mode)."""
        return self.registry.table

    @property
    def dead_letter_queue(self) -> sqs.IQueue | None:
        """The reconciler's dead-letter queue; None while the stack has no follow mode."""
        return self.follow.dead_letters if self.follow is not None else None

    @property
    def published_rule(self) -> events.CfnRule | None:
        """The stack's one "Participant Published" rule; None without follow mode."""
        return self.follow.published_rule if self.follow is not None else None

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
        """The functions' metric settings: the stack's name (the Stack dimension of every
        metric), and the namespace and service when they are not the defaults."""
        environment = {c.ENV_STACK_NAME: self._stack_name}
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
        reconciler, and to every metric of this stack (the ``metric_*`` methods, the alarms of
        ``ReplicationAlarms``), whether they were made before or after this call: they read
        both when the template is written.

        :raises ValueError: if a value is empty.
        """
        for name, value in (("namespace", namespace), ("service", service)):
            if value is not None and not value.strip():
                raise ValueError(f"Invalid {name}: the value is empty. Expected a metric {name}.")
        self.metrics_namespace = namespace or self.metrics_namespace
        self.metrics_service = service or self.metrics_service
        self._set_on_functions(self.metrics_environment)

    # --- metrics, for dashboards and alarms --------------------------------------------------

    def metric(
        self,
        metric_name: str,
        *,
        dimensions_map: Mapping[str, str] | None = None,
        **options: Unpack[MetricOptions],
    ) -> cloudwatch.Metric:
        """A metric the stack's functions write (the names are in the README, "Metrics", and
        in ``ivs_replication_handler.contract``), with the dimensions ``service`` and
        ``Stack`` plus `dimensions_map` (e.g. ``{"Trigger": "sweep"}``; it cannot replace
        those two). Statistic Default: ``Sum``; period Default: 5 minutes; `options` as
        ``cloudwatch.MetricOptions`` (period, statistic, label, color, unit, account,
        region). For dashboards, alarms, ``cdk-monitoring-constructs``' custom metric groups.
        """
        return self._metrics.metric(metric_name, dimensions_map, **options)

    def metric_failed_requests(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Custom-resource requests (create, update, delete) that failed: each made a
        deployment fail or roll back. ``Requests`` with ``Outcome`` Failed; Sum over 5 minutes
        by default (what ``ReplicationAlarms.handler_failures`` watches)."""
        return self._metrics.metric(
            c.METRIC_REQUESTS, {c.DIMENSION_OUTCOME: c.OUTCOME_FAILED}, **options
        )

    def metric_succeeded_requests(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Custom-resource requests that succeeded (``Requests``, ``Outcome`` Succeeded)."""
        return self._metrics.metric(
            c.METRIC_REQUESTS, {c.DIMENSION_OUTCOME: c.OUTCOME_SUCCEEDED}, **options
        )

    def metric_started_replications(
        self, *, trigger: str | None = None, **options: Unpack[MetricOptions]
    ) -> cloudwatch.IMetric:
        """Replications the follow-mode reconciler started (``ReplicationsStarted``): after a
        "Participant Published" event (`trigger` ``"event"``), by a sweep (``"sweep"``), or
        both added up (Default: None, a math expression over the two).

        :raises ValueError: if `trigger` is not ``"event"``, ``"sweep"`` or None.
        """
        return self._metrics.by_trigger(c.METRIC_STARTED, trigger, **options)

    def metric_failed_replications(
        self, *, trigger: str | None = None, **options: Unpack[MetricOptions]
    ) -> cloudwatch.IMetric:
        """Declared replications the reconciler could not check or start in a run
        (``ReplicationsFailed``; Lambda retries the run, then it goes to the dead-letter
        queue). `trigger` as in `metric_started_replications` (Default: both).

        :raises ValueError: if `trigger` is not ``"event"``, ``"sweep"`` or None.
        """
        return self._metrics.by_trigger(c.METRIC_FAILED, trigger, **options)

    def metric_replications_over_quota(
        self, *, trigger: str | None = None, **options: Unpack[MetricOptions]
    ) -> cloudwatch.IMetric:
        """Publishers the reconciler did not start because their destination stage already
        held as many publishers as IVS allows (``ReplicationsOverQuota``: 12 per stage, a
        StageMirror's usual limit); recorded, not retried in a storm, not a failure. `trigger`
        as in `metric_started_replications` (Default: both).

        :raises ValueError: if `trigger` is not ``"event"``, ``"sweep"`` or None.
        """
        return self._metrics.by_trigger(c.METRIC_OVER_QUOTA, trigger, **options)

    def metric_sweep_drift(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Declarations a ``ReplicationSweep`` found not running although their publisher was
        live, or could not check (``SweepDrift``); 0 in a healthy stack. Statistic Default:
        ``Maximum``; period Default: the stack's sweep interval (5 minutes without a sweep
        yet)."""
        sweep = self.follow.sweep if self.follow is not None else None
        interval = getattr(sweep, "interval", PERIOD)
        settings: MetricOptions = {"statistic": "Maximum", "period": interval}
        settings.update(options)
        return self._metrics.metric(
            c.METRIC_SWEEP_DRIFT, {c.DIMENSION_TRIGGER: c.TRIGGER_SWEEP}, **settings
        )

    def metric_dead_letters(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Messages waiting in the dead-letter queue (the reconciler's failed runs, events
        its rules could not deliver): SQS's ``ApproximateNumberOfMessagesVisible``, Maximum
        over 5 minutes by default.

        :raises ValueError: if the stack has no follow mode yet (no queue): declare its
            follow-mode replications or its ``ReplicationSweep`` first.
        """
        settings: MetricOptions = {"statistic": "Maximum", "period": PERIOD}
        settings.update(options)
        queue = self._follow_part("metric_dead_letters").dead_letters
        return queue.metric_approximate_number_of_messages_visible(**settings)

    def metric_reconciler_errors(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Failed reconciler runs: Lambda's ``Errors`` of the reconciler, Sum over 5 minutes
        by default.

        :raises ValueError: if the stack has no follow mode yet (no reconciler): declare its
            follow-mode replications or its ``ReplicationSweep`` first.
        """
        settings: MetricOptions = {"statistic": "Sum", "period": PERIOD}
        settings.update(options)
        reconciler = self._follow_part("metric_reconciler_errors").reconciler
        return reconciler.metric_errors(**settings)

    def _follow_part(self, caller: str) -> FollowInfrastructure:
        if self.follow is None:
            raise ValueError(
                f"{caller}() of {self.node.path}: stack {self._stack_name} has no follow-mode "
                "infrastructure (no reconciler, no dead-letter queue) yet. Declare its "
                "follow-mode replications (WhenNotPublishing.follow(), the default) or its "
                "ReplicationSweep first."
            )
        return self.follow

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
