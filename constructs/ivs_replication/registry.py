"""The stack's registry of declarations: one DynamoDB table, in every stack with a replication.

The handler records there which resources of the stack declare each replication (ownership:
a renamed or moved construct's old resource is deleted after the new one was created, and must
not stop what the new one declares) and, in follow mode, what the reconciler starts. It lives
at `<provider>/Follow/Registry`, the path it had when only follow mode used it, so a stack that
upgrades keeps its table and what it records.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ivs_replication_handler import contract as c

from .nag import HIPAA_SECURITY, NIST_800_53_R5, acknowledge_all, in_packs
from .tuning import Tuning

REGISTRY_SCOPE_ID = "Follow"


class Registry(Construct):
    """The registry table, and the handler's access to it (its name in
    ``IVS_REPLICATION_REGISTRY_TABLE``, `contract.REGISTRY_HANDLER_ACTIONS` on it, and the
    registry key through DynamoDB once `configure` gives one). Made by the stack's
    `ReplicationProvider`; follow mode's parts are made under it too."""

    def __init__(self, scope: Construct, on_event: lambda_.Function) -> None:
        super().__init__(scope, REGISTRY_SCOPE_ID)
        self.table = dynamodb.Table(
            self,
            "Registry",
            partition_key=dynamodb.Attribute(
                name=c.REGISTRY_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(
                name=c.REGISTRY_SORT_KEY, type=dynamodb.AttributeType.STRING
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Derived state: it records what the stack's custom resources declare, and is
            # removed with the stack.
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge_all(self.table, *NOT_IN_A_BACKUP_PLAN)
        tuning = Tuning.of(self)
        tuning.registry_table(self.table)
        on_event.add_environment(c.ENV_REGISTRY_TABLE, self.table.table_name)
        on_event.add_to_role_policy(
            iam.PolicyStatement(
                actions=list(c.REGISTRY_HANDLER_ACTIONS), resources=[self.table.table_arn]
            )
        )
        if on_event.role is not None:
            tuning.registry_access(on_event.role, write=True)


# The compliance packs ask for every table to be in an AWS Backup plan.
NOT_IN_A_BACKUP_PLAN = in_packs(
    (NIST_800_53_R5, HIPAA_SECURITY),
    "DynamoDBInBackupPlan",
    "Point-in-time recovery (35 days) keeps the registry's history; its items are derived "
    "from the stack's own custom resources and removed with them. Add the table "
    "(ReplicationProvider.registry_table) to an AWS Backup plan of your own if a policy asks.",
)
