"""The one provider per stack that every ParticipantReplication in the stack shares."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from ._handler.ivs_replication_handler import constants as c
from .asset import ARCHITECTURE, RUNTIME, handler_code

PROVIDER_ID = "IvsParticipantReplicationProvider"

HANDLER_TIMEOUT = Duration.minutes(5)
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class ReplicationProvider(Construct):
    """Shared by all replications of a stack, at a fixed construct path so the ServiceToken
    never changes; its size does not grow with the number of replications.

    Use `ReplicationProvider.of(scope)`; constructing it directly is for that method only.
    """

    def __init__(self, scope: Stack, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.on_event_function = lambda_.Function(
            self,
            "OnEvent",
            description="Starts and stops IVS participant replications for CloudFormation",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=c.ON_EVENT_ENTRY_POINT,
            code=handler_code(),
            timeout=HANDLER_TIMEOUT,
            memory_size=256,
            log_group=_log_group(self, "OnEventLogs"),
            logging_format=lambda_.LoggingFormat.JSON,
        )
        self.on_event_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=list(c.IAM_ACTIONS), resources=[stage_arns_of_account(scope)]
            )
        )
        self._provider = cr.Provider(
            self,
            "Framework",
            on_event_handler=self.on_event_function,
            log_group=_log_group(self, "FrameworkLogs"),
        )

    @property
    def service_token(self) -> str:
        return self._provider.service_token

    @classmethod
    def of(cls, scope: Construct) -> ReplicationProvider:
        """The stack's provider, created on first use."""
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


def _log_group(scope: Construct, construct_id: str) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        construct_id,
        retention=LOG_RETENTION,
        # Logs of a removed provider have no owner left; keep them only for the retention.
        removal_policy=RemovalPolicy.DESTROY,
    )
