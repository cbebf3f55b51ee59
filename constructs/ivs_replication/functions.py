"""The parts every function of the library is built from: the function itself (one bundle, one
runtime), its role (its own log group only, plus the IVS grant), its log group, and the records
of why a cdk-nag finding on them is intended."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from aws_cdk import (
    Acknowledgment,
    CfnElement,
    CfnResource,
    Duration,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from ivs_replication_handler import contract as c

from .asset import ARCHITECTURE, RUNTIME, handler_code
from .reads import default_child_of, default_policy_of

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


def grant_ivs(role: iam.Role, stack: Stack, *, why: str) -> None:
    """Let `role` call the IVS actions the functions need (`contract.IAM_ACTIONS`) on the
    stack's account's stages, and record why cdk-nag's wildcard finding on it is intended:
    `why` says what this role does with them."""
    role.add_to_policy(
        iam.PolicyStatement(actions=list(c.IAM_ACTIONS), resources=[stage_arns_of_account(stack)])
    )
    acknowledge(
        default_policy_of(role),
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ivs:*:<AWS::AccountId>:stage/*]",
        f"Only the replication actions and the reads that tell whether a participant "
        f"publishes, on stages of this account only. {why}",
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


def new_log_group(scope: Construct, construct_id: str) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        construct_id,
        retention=LOG_RETENTION,
        # Logs of a removed provider have no owner left; keep them only for the retention.
        removal_policy=RemovalPolicy.DESTROY,
    )


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


def acknowledge_synchronous_function(function: IConstruct, caller: str) -> None:
    """A function that answers its caller itself (the provider's two): a failure becomes a
    FAILED response with its reason, so a dead-letter queue would only hold requests whose
    pre-signed ResponseURL nobody may replay."""
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


# X-Ray needs `xray:PutTraceSegments` on Resource "*" (it has no resource-level permissions),
# which this library never grants; metrics and JSON logs cover its functions' calls.
NO_TRACING = finding(
    "Serverless-LambdaTracing",
    "Active tracing needs xray:PutTraceSegments on Resource '*' (X-Ray has no "
    "resource-level permissions), which this library never grants; its structured logs "
    "and CloudWatch metrics record each call instead.",
    pack="Serverless",
)
