"""What a stack may tune of the library's shared resources (`ReplicationProvider.configure`):
the settings, checked once (`ProviderSettings`), and `Tuning`, which applies them to whatever
exists of the functions, log groups, registry table and dead-letter queue, now and whenever
more of them is created. So the order of the calls never matters: `configure` may come before
or after the stack's replications, its sweep or its alarms.

A setting that only states a value (memory, retention, concurrency, runtime, architecture) may
be given again; the last one wins. A setting that makes the library add grants or resources
for it (a KMS key, the VPC, its subnets and security groups, the bundle) is set once per stack:
another value later is refused, since what was granted for the first would stay.
"""

from __future__ import annotations

import os
import weakref
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, ArnFormat, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from ivs_replication_handler import contract as c

from .asset import BundleCode, bundle_path
from .nag import AWS_SOLUTIONS, Finding, acknowledge_all
from .reads import default_child_of, default_policy_of, stack_of

# The Lambda runtimes the bundle runs on. It is pure Python (no compiled extension: it runs on
# both architectures), built for the newest; its packages need 3.10 or later and the handler
# package itself 3.11 or later (the project's requires-python, where its tests run).
SUPPORTED_RUNTIMES = ("python3.11", "python3.12", "python3.13", "python3.14")
RUNTIME_FORM = "a Python Lambda runtime the bundle runs on: " + ", ".join(
    f"lambda_.Runtime.PYTHON_{r.removeprefix('python').replace('.', '_')}"
    for r in SUPPORTED_RUNTIMES
)
ARCHITECTURES = ("arm64", "x86_64")
MEMORY_MIN_MB = 128
MEMORY_MAX_MB = 10240
# What CDK writes for each `logs.RetentionDays` (INFINITE: no retention at all); a test holds
# this table equal to CDK's own rendering.
RETENTION_DAYS: dict[str, int | None] = {
    "ONE_DAY": 1,
    "THREE_DAYS": 3,
    "FIVE_DAYS": 5,
    "ONE_WEEK": 7,
    "TWO_WEEKS": 14,
    "ONE_MONTH": 30,
    "TWO_MONTHS": 60,
    "THREE_MONTHS": 90,
    "FOUR_MONTHS": 120,
    "FIVE_MONTHS": 150,
    "SIX_MONTHS": 180,
    "ONE_YEAR": 365,
    "THIRTEEN_MONTHS": 400,
    "EIGHTEEN_MONTHS": 545,
    "TWO_YEARS": 731,
    "THREE_YEARS": 1096,
    "FIVE_YEARS": 1827,
    "SIX_YEARS": 2192,
    "SEVEN_YEARS": 2557,
    "EIGHT_YEARS": 2922,
    "NINE_YEARS": 3288,
    "TEN_YEARS": 3653,
    "INFINITE": None,
}
# What a function in a VPC needs to attach its network interfaces (Lambda's own
# AWSLambdaVPCAccessExecutionRole, whose Describe actions have no resource-level permission).
VPC_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
# A role that reads the registry (Query, GetItem, Scan) and one that also writes it
# (PutItem, DeleteItem), through DynamoDB only, when it is encrypted with a customer key.
REGISTRY_KEY_READ = ("kms:Decrypt", "kms:DescribeKey")
REGISTRY_KEY_WRITE = (*REGISTRY_KEY_READ, "kms:Encrypt", "kms:GenerateDataKey")
# A producer of an encrypted SQS queue (the reconciler's on-failure destination, EventBridge).
QUEUE_KEY_SEND = ("kms:Decrypt", "kms:GenerateDataKey")
# CloudWatch Logs' use of a log group key (its documentation's key policy).
LOGS_KEY_ACTIONS = (
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
)
# Settings that make the library grant or create something for them: set once per stack.
SET_ONCE = (
    "log_encryption_key",
    "registry_encryption_key",
    "dead_letter_encryption_key",
    "vpc",
    "vpc_subnets",
    "security_groups",
    "bundle",
)
_BUNDLE_MEMBERS = (
    "ivs_replication_handler/handler.py",
    "ivs_replication_handler/reconciler.py",
    "botocore/__init__.py",
)
KEY_POLICY_NOT_CHANGED = "ivs-replication:key-policy-not-changed"


@dataclass(frozen=True)
class ProviderSettings:
    """The settings of a stack's shared resources; None means "the library's default" (see
    `ReplicationProvider.configure` for each)."""

    memory_size: int | None = None
    log_retention: logs.RetentionDays | None = None
    log_encryption_key: kms.IKey | None = None
    registry_encryption_key: kms.IKey | None = None
    dead_letter_encryption_key: kms.IKey | None = None
    reserved_concurrent_executions: int | None = None
    architecture: lambda_.Architecture | None = None
    runtime: lambda_.Runtime | None = None
    vpc: ec2.IVpc | None = None
    vpc_subnets: ec2.SubnetSelection | None = None
    security_groups: tuple[ec2.ISecurityGroup, ...] | None = None
    bundle: Path | None = None

    def updated(self, **given: Any) -> ProviderSettings:  # noqa: ANN401 - each checked below
        """These settings with `given` applied (None: left as they are).

        :raises ValueError: if a value is invalid, or changes a set-once setting.
        """
        changes = {
            name: _checked(name, value) for name, value in given.items() if value is not None
        }
        for name, value in changes.items():
            current = getattr(self, name)
            if name in SET_ONCE and current is not None and not _same(current, value):
                raise c.InvalidPropertyError(
                    name,
                    "the stack's resources already use another one (what was granted or "
                    "created for it would stay)",
                    f"the same {name} as in the first configure() call: it is set once per stack",
                )
        updated = replace(self, **changes)
        if (updated.vpc_subnets is not None or updated.security_groups) and updated.vpc is None:
            raise c.InvalidPropertyError(
                "vpc_subnets" if updated.vpc_subnets is not None else "security_groups",
                "it is given without a vpc",
                "a vpc as well (configure(vpc=..., vpc_subnets=..., security_groups=...))",
            )
        return updated


def _same(first: object, second: object) -> bool:
    if isinstance(first, tuple) and isinstance(second, tuple):
        return len(first) == len(second) and all(a is b for a, b in zip(first, second, strict=True))
    return first is second or first == second


def _checked(name: str, value: Any) -> Any:  # noqa: ANN401 - the settings' own types
    check = _CHECKS.get(name)
    return check(name, value) if check is not None else value


def _whole(name: str, value: object, low: int, high: int, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise c.InvalidPropertyError(
            name,
            f"{c.echo(value)} is out of range",
            f"a whole number of {unit} from {low} to {high}",
        )
    return value


def _memory(name: str, value: object) -> int:
    return _whole(name, value, MEMORY_MIN_MB, MEMORY_MAX_MB, "MB")


def _concurrency(name: str, value: object) -> int:
    # 0 would stop every function; Lambda's own ceiling is the account's concurrency quota.
    return _whole(name, value, 1, 1_000_000, "executions")


def _runtime(name: str, value: object) -> lambda_.Runtime:
    if not isinstance(value, lambda_.Runtime) or value.name not in SUPPORTED_RUNTIMES:
        shown = value.name if isinstance(value, lambda_.Runtime) else c.echo(value)
        raise c.InvalidPropertyError(
            name, f"{shown} is not a runtime the bundle runs on", RUNTIME_FORM
        )
    return value


def _architecture(name: str, value: object) -> lambda_.Architecture:
    if not isinstance(value, lambda_.Architecture) or value.name not in ARCHITECTURES:
        raise c.InvalidPropertyError(
            name,
            f"{c.echo(getattr(value, 'name', value))} is not an architecture of Lambda",
            "lambda_.Architecture.ARM_64 or lambda_.Architecture.X86_64 (the bundle is pure "
            "Python)",
        )
    return value


def _retention(name: str, value: object) -> logs.RetentionDays:
    if not isinstance(value, logs.RetentionDays):
        raise c.InvalidPropertyError(
            name, f"{c.echo(value)} is not a retention", "a logs.RetentionDays member"
        )
    return value


def _security_groups(name: str, value: object) -> tuple[ec2.ISecurityGroup, ...]:
    groups = tuple(value) if isinstance(value, Sequence) and not isinstance(value, str) else ()
    if not groups:
        raise c.InvalidPropertyError(
            name, "no security group is given", "one or more ec2.ISecurityGroup, or None"
        )
    return groups


def _bundle(name: str, value: object) -> Path:
    path = Path(os.fsdecode(value)) if isinstance(value, str | os.PathLike) else None
    form = (
        "the path of a zip built by hatch_build.py (python hatch_build.py --out <path>), with "
        "the ivs_replication_handler package and its SDK at its root"
    )
    if path is None or not path.is_file():
        raise c.InvalidPropertyError(name, f"{c.echo(value)} is not a file", form)
    try:
        with zipfile.ZipFile(path) as bundle:
            members = set(bundle.namelist())
    except zipfile.BadZipFile as error:
        raise c.InvalidPropertyError(name, f"{path} is not a zip file", form) from error
    missing = [member for member in _BUNDLE_MEMBERS if member not in members]
    if missing:
        raise c.InvalidPropertyError(name, f"{path} has no {', '.join(missing)}", form)
    return path.resolve()


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "memory_size": _memory,
    "reserved_concurrent_executions": _concurrency,
    "runtime": _runtime,
    "architecture": _architecture,
    "log_retention": _retention,
    "security_groups": _security_groups,
    "bundle": _bundle,
}
SETTINGS = tuple(field.name for field in fields(ProviderSettings))

Applier = Callable[[ProviderSettings], None]
_tunings: weakref.WeakKeyDictionary[Stack, Tuning] = weakref.WeakKeyDictionary()


class Tuning:
    """A stack's settings and everything they apply to, owned by its `ReplicationProvider`
    (at `scope`): each part registers itself as it is created and gets the settings now and
    after every `configure`."""

    def __init__(self, scope: Construct) -> None:
        self._scope = scope
        self._stack = stack_of(scope)
        self.settings = ProviderSettings()
        self._appliers: list[Applier] = []
        # Granted or created once per stack, when their setting is first given.
        self._done: set[str] = set()
        self._network: tuple[list[str], list[str]] | None = None
        self.code = BundleCode(scope, lambda: self.settings.bundle or bundle_path())
        _tunings[self._stack] = self

    @classmethod
    def of(cls, scope: IConstruct) -> Tuning:
        """The tuning of `scope`'s stack.

        :raises LookupError: if the stack has no replication provider (internal misuse).
        """
        tuning = _tunings.get(stack_of(scope))
        if tuning is None:
            raise LookupError(f"{scope.node.path}: the stack has no IVS replication provider")
        return tuning

    def configure(self, **given: Any) -> None:  # noqa: ANN401 - checked by ProviderSettings
        settings = self.settings.updated(**given)
        if settings.vpc is not None:
            self._network_of(settings)  # refuses unusable subnets before anything changes
        self.settings = settings
        for apply in self._appliers:
            apply(self.settings)

    def _register(self, apply: Applier) -> None:
        self._appliers.append(apply)
        apply(self.settings)

    # --- what the library creates, registered as it is created --------------------------

    def python_function(self, function: lambda_.Function, role: iam.IRole) -> None:
        """A function running the bundle (the handler, the reconciler): every setting."""
        resource = _cfn(function, lambda_.CfnFunction)

        def apply(settings: ProviderSettings) -> None:
            if settings.memory_size is not None:
                resource.memory_size = settings.memory_size
            if settings.runtime is not None:
                resource.runtime = settings.runtime.name
            if settings.architecture is not None:
                resource.architectures = [settings.architecture.name]
            self._apply_to_any_function(resource, role, settings)

        self._register(apply)

    def framework_function(self, function: IConstruct, role: iam.IRole) -> None:
        """The provider framework's Node.js function: its concurrency and network only (its
        runtime and memory are the framework's)."""
        resource = _cfn(function, lambda_.CfnFunction)
        self._register(lambda settings: self._apply_to_any_function(resource, role, settings))

    def _apply_to_any_function(
        self, resource: lambda_.CfnFunction, role: iam.IRole, settings: ProviderSettings
    ) -> None:
        if settings.reserved_concurrent_executions is not None:
            resource.reserved_concurrent_executions = settings.reserved_concurrent_executions
        if settings.vpc is not None and resource.vpc_config is None:
            subnet_ids, group_ids = self._network_of(settings)
            resource.vpc_config = lambda_.CfnFunction.VpcConfigProperty(
                subnet_ids=subnet_ids, security_group_ids=group_ids
            )
            _let_attach_network_interfaces(role)

    def log_group(self, group: logs.LogGroup) -> None:
        resource = _cfn(group, logs.CfnLogGroup)

        def apply(settings: ProviderSettings) -> None:
            if settings.log_retention is not None:
                resource.retention_in_days = RETENTION_DAYS[settings.log_retention.name]
            key = settings.log_encryption_key
            if key is not None:
                resource.kms_key_id = key.key_arn
                self._once("log-key", lambda: self._let_logs_use(key))

        self._register(apply)

    def registry_table(self, table: dynamodb.Table) -> None:
        resource = _cfn(table, dynamodb.CfnTable)

        def apply(settings: ProviderSettings) -> None:
            key = settings.registry_encryption_key
            if key is not None:
                resource.sse_specification = dynamodb.CfnTable.SSESpecificationProperty(
                    sse_enabled=True, sse_type="KMS", kms_master_key_id=key.key_arn
                )

        self._register(apply)

    def registry_access(self, role: iam.IPrincipal, *, write: bool) -> None:
        """`role` reads (and, with `write`, writes) the registry: with a customer key, it may
        use the key through DynamoDB."""
        actions = REGISTRY_KEY_WRITE if write else REGISTRY_KEY_READ
        self._register(
            lambda settings: self._grant_key(
                role, settings.registry_encryption_key, actions, "dynamodb"
            )
        )

    def dead_letter_queue(self, queue: sqs.Queue) -> None:
        resource = _cfn(queue, sqs.CfnQueue)

        def apply(settings: ProviderSettings) -> None:
            key = settings.dead_letter_encryption_key
            if key is not None:
                # A customer key replaces SQS's own (the two cannot be combined).
                resource.sqs_managed_sse_enabled = None
                resource.kms_master_key_id = key.key_arn
                self._once("queue-key", lambda: self._let_rules_use(key))

        self._register(apply)

    def dead_letter_sender(self, role: iam.IRole) -> None:
        """`role` sends to the dead-letter queue (the reconciler's on-failure destination)."""
        self._register(
            lambda settings: self._grant_key(
                role, settings.dead_letter_encryption_key, QUEUE_KEY_SEND, "sqs"
            )
        )

    # --- grants and resources made once -------------------------------------------------

    def _once(self, what: str, make: Callable[[], None]) -> None:
        if what not in self._done:
            self._done.add(what)
            make()

    def _grant_key(
        self, role: iam.IPrincipal, key: kms.IKey | None, actions: Sequence[str], service: str
    ) -> None:
        """Let `role` use `key` through `service` only (``kms:ViaService``), once."""
        if key is None:
            return

        def grant() -> None:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=list(actions),
                    resources=[key.key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": self._service_endpoint(service)}
                    },
                )
            )

        self._once(f"{service}-key:{id(role)}", grant)

    def _service_endpoint(self, service: str) -> str:
        return f"{service}.{self._stack.region}.{self._stack.url_suffix}"

    def _let_logs_use(self, key: kms.IKey) -> None:
        """CloudWatch Logs encrypts a log group with the key only if the key's policy lets it
        (for this account's and region's log groups)."""
        self._add_to_key_policy(
            key,
            "log_encryption_key",
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(self._service_endpoint("logs"))],
                actions=list(LOGS_KEY_ACTIONS),
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": self._stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            ),
            f"logs.{self._stack.region}.amazonaws.com (kms:Encrypt*, kms:Decrypt*, "
            "kms:ReEncrypt*, kms:GenerateDataKey*, kms:Describe*)",
        )

    def _let_rules_use(self, key: kms.IKey) -> None:
        """EventBridge puts an undeliverable event into the queue only if the key's policy
        lets it (for this account's rules)."""
        self._add_to_key_policy(
            key,
            "dead_letter_encryption_key",
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=list(QUEUE_KEY_SEND),
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": self._stack.account},
                    "ArnLike": {
                        "aws:SourceArn": self._stack.format_arn(
                            service="events", resource="rule", resource_name="*"
                        )
                    },
                },
            ),
            "events.amazonaws.com (kms:Decrypt, kms:GenerateDataKey) for this account's rules",
        )

    def _add_to_key_policy(
        self, key: kms.IKey, setting: str, statement: iam.PolicyStatement, who: str
    ) -> None:
        added = key.add_to_resource_policy(statement)
        if not added.statement_added:
            # An imported key's policy is not the stack's to change: say what it must allow.
            Annotations.of(self._scope).add_warning_v2(
                KEY_POLICY_NOT_CHANGED,
                f"{setting} is a key this app cannot change the policy of; its key policy "
                f"must allow {who}, or deployment fails.",
            )

    def _network_of(self, settings: ProviderSettings) -> tuple[list[str], list[str]]:
        """The functions' subnets and security groups, chosen once (the default security
        group made once)."""
        if self._network is None:
            vpc = settings.vpc
            assert vpc is not None  # the caller checked
            selected = vpc.select_subnets(**_selection(settings.vpc_subnets))
            if selected.has_public or not selected.subnet_ids:
                raise c.InvalidPropertyError(
                    "vpc_subnets",
                    "it selects public subnets" if selected.has_public else "it selects no subnet",
                    "private subnets that reach IVS real-time and DynamoDB (a NAT gateway, or "
                    "VPC endpoints; see the README): a Lambda function in a public subnet has "
                    "no route to the internet",
                )
            groups = settings.security_groups or (self._security_group(vpc),)
            self._network = (
                list(selected.subnet_ids),
                [group.security_group_id for group in groups],
            )
        return self._network

    def _security_group(self, vpc: ec2.IVpc) -> ec2.SecurityGroup:
        group = ec2.SecurityGroup(
            self._scope,
            "SecurityGroup",
            vpc=vpc,
            description="IVS participant replication functions: HTTPS to AWS APIs only",
            allow_all_outbound=False,
        )
        group.add_egress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.tcp(443),
            "AWS APIs over HTTPS: IVS real-time, DynamoDB, Lambda, S3 (the framework's answer)",
        )
        return group


def _selection(selection: ec2.SubnetSelection | None) -> dict[str, Any]:
    """A subnet selection as `IVpc.select_subnets`' keyword arguments (Default: CDK's)."""
    if selection is None:
        return {}
    names = (
        "availability_zones",
        "one_per_az",
        "subnet_filters",
        "subnet_group_name",
        "subnets",
        "subnet_type",
    )
    return {name: getattr(selection, name) for name in names if getattr(selection, name)}


def _let_attach_network_interfaces(role: iam.IRole) -> None:
    """What Lambda needs of a function's role to place it in a VPC; the Describe actions have
    no resource-level permission, hence the acknowledged wildcard."""
    role.add_to_principal_policy(iam.PolicyStatement(actions=list(VPC_ACTIONS), resources=["*"]))
    acknowledge_all(
        default_policy_of(role),
        Finding(
            AWS_SOLUTIONS,
            "AwsSolutions-IAM5",
            "Lambda attaches a function to its VPC with these EC2 network-interface actions "
            "(its AWSLambdaVPCAccessExecutionRole's, granted inline); the Describe actions "
            "have no resource-level permissions.",
            "Resource::*",
        ),
    )


def _cfn(construct: IConstruct, kind: type[Any]) -> Any:  # noqa: ANN401 - the given kind
    resource = default_child_of(construct)
    if not isinstance(resource, kind):
        raise TypeError(f"{construct.node.path} has no {kind.__name__}")
    return resource
