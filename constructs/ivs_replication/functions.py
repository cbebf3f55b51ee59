"""The parts every function of the library is built from: the function itself (one bundle, one
runtime), its role (its own log group only, plus the IVS grant), its log group, and the records
of why a cdk-nag finding on them is intended (written by `nag`, for cdk-nag 2 and 3)."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from aws_cdk import (
    CfnElement,
    CfnResource,
    Duration,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from ivs_replication_handler import contract as c

from .asset import ARCHITECTURE, RUNTIME
from .nag import (
    COMPLIANCE_PACKS,
    HIPAA_SECURITY,
    NIST_800_53_R5,
    SERVERLESS,
    Finding,
    acknowledge_all,
    finding,
    in_packs,
    resource_finding,
)
from .reads import default_child_of, default_policy_of
from .tuning import Tuning

__all__ = [
    "NO_TRACING",
    "acknowledge",
    "acknowledge_all",
    "acknowledge_synchronous_function",
    "finding",
]

LOG_RETENTION = logs.RetentionDays.ONE_MONTH
HANDLER_MEMORY_MB = 256


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
    architecture, code, memory and JSON logging for every function of the library (as the
    stack's `ReplicationProvider.configure` tunes them), depending on its role's policy only.
    The last four are `lambda_.Function`'s (default: unset)."""
    tuning = Tuning.of(scope)
    function = lambda_.Function(
        scope,
        construct_id,
        description=description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=handler,
        code=tuning.code,
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
    tuning.python_function(function, role)
    return function


def role_writing_to(scope: Construct, construct_id: str, log_group: logs.LogGroup) -> iam.Role:
    """A Lambda role that can write to its own log group only (no AWS managed policy). Its
    one policy is inline, which the compliance packs flag: acknowledged here."""
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=_lambda_principal(),
        description="IVS participant replication provider: writes its own logs",
    )
    log_group.grant_write(role)
    acknowledge_all(default_policy_of(role), *INLINE_POLICY)
    return role


def grant_ivs(role: iam.Role, stack: Stack, *, why: str) -> None:
    """Let `role` call the IVS actions the functions need (`contract.IAM_ACTIONS`) on the
    stages of the stack's account and region, and record why cdk-nag's wildcard finding on it
    is intended: `why` says what this role does with them."""
    stages = stage_arns_of_region(stack)
    role.add_to_policy(iam.PolicyStatement(actions=list(c.IAM_ACTIONS), resources=[stages]))
    acknowledge_all(
        default_policy_of(role),
        Finding(
            "AwsSolutions",
            "AwsSolutions-IAM5",
            "Only the replication actions and the reads that tell whether a participant "
            f"publishes, on stages of this account and region only. {why}",
            resource_finding(stack, stages),
        ),
    )


def stage_arns_of_region(stack: Stack) -> str:
    """Every IVS stage of the stack's account in the stack's region (``${AWS::Region}`` when
    the stack's region is not concrete): where the functions call IVS.

    One fixed ARN pattern keeps the policy's size independent of the number of replications,
    and lets a replacement stop the replication it replaces: CloudFormation updates the
    policy before it deletes the old resource, so a policy listing only the declared stages
    would no longer name the old stage when the cleanup's Stop runs.
    """
    return stack.format_arn(service="ivs", resource="stage", resource_name="*")


def new_log_group(scope: Construct, construct_id: str) -> logs.LogGroup:
    """A function's log group: one month's retention unless the stack configures another,
    encrypted with the stack's log key if it configures one."""
    group = logs.LogGroup(
        scope,
        construct_id,
        retention=LOG_RETENTION,
        # Logs of a removed provider have no owner left; keep them only for the retention.
        removal_policy=RemovalPolicy.DESTROY,
    )
    Tuning.of(scope).log_group(group)
    return group


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


def cfn_function_of(function: IConstruct) -> lambda_.CfnFunction:
    """The function's `CfnFunction`; raises TypeError when it has none."""
    resource = default_child_of(function)
    if not isinstance(resource, lambda_.CfnFunction):
        raise TypeError(f"{function.node.path} has no CfnFunction")
    return resource


def acknowledge(scope: IConstruct, rule: str, reason: str, *, pack: str = "AwsSolutions") -> None:
    """Record why a cdk-nag finding on `scope` is intended, for cdk-nag 3 and 2 (see `nag`).

    ``pack`` Default: "AwsSolutions"; "Serverless" for `ServerlessChecks`' rules.
    """
    acknowledge_all(scope, finding(rule, reason, pack=pack))


def acknowledge_synchronous_function(function: IConstruct, caller: str) -> None:
    """A function that answers its caller itself (the provider's two): a failure becomes a
    FAILED response with its reason, so a dead-letter queue would only hold requests whose
    pre-signed ResponseURL nobody may replay."""
    resource = default_child_of(function)
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{function.node.path} has no CloudFormation resource")
    acknowledge_all(
        resource,
        *no_dead_letter_queue(
            f"Called by {caller}, which gets every failure back as a FAILED custom-resource "
            "response with its reason; a dead-letter queue would only keep requests carrying a "
            "pre-signed ResponseURL, which must not be stored or replayed."
        ),
        NO_TRACING,
    )


# The packs with a rule asking every function for a dead-letter queue (LambdaDLQ).
_DLQ_PACKS = (SERVERLESS, NIST_800_53_R5, HIPAA_SECURITY)


def no_dead_letter_queue(reason: str) -> list[Finding]:
    """Every pack's "the function has no dead-letter queue" finding, for one reason."""
    return in_packs(_DLQ_PACKS, "LambdaDLQ", reason)


# The compliance packs flag every inline policy; each role of the library has exactly one.
INLINE_POLICY = in_packs(
    COMPLIANCE_PACKS,
    "IAMNoInlinePolicy",
    "The role's one policy, created and deleted with the role and the function it serves: "
    "an inline policy cannot be attached to any other principal (a managed one could), and "
    "it grants only this function's own logs and calls.",
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
