"""What an operator needs to run ``ivs-replication status`` and ``ivs-replication reconcile``
on a stack (`ReplicationProvider.grant_status`, `grant_reconcile`), and no more.

The actions are the command's own calls (``contract.CLI_*``), on this stack only: its
CloudFormation stack, the stages of its account and region (the replications may name any of
them), its reconciler and its registry. ``reconcile --local`` runs the reconciler's own code,
so it needs what the reconciler's role has. Wildcard findings that cdk-nag reports on the
grantee's policy are acknowledged there, with their reasons, when the policy is a construct of
the app.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from ivs_replication_handler import contract as c

from .functions import stage_arns_of_region
from .nag import AWS_SOLUTIONS, Finding, acknowledge_all, resource_finding

if TYPE_CHECKING:
    from .follow import FollowInfrastructure
    from .provider import ReplicationProvider


def grant_status(provider: ReplicationProvider, grantee: iam.IGrantable) -> iam.Grant:
    """The stack's CloudFormation reads and the IVS reads of ``status``."""
    stack = Stack.of(provider)
    stack_arns = stack.format_arn(
        service="cloudformation", resource="stack", resource_name=f"{stack.stack_name}/*"
    )
    stages = stage_arns_of_region(stack)
    grant = _grant(grantee, c.CLI_STACK_READ_ACTIONS, [stack_arns]).combine(
        _grant(grantee, c.CLI_STATUS_IVS_ACTIONS, [stages])
    )
    _acknowledge_on_grantee(
        grantee,
        (
            stack_arns,
            f"Reads this stack's resources and template only (every deployment of the stack "
            f"{stack.stack_name} has its own id after the name): what ivs-replication status "
            "and reconcile read.",
        ),
        (
            stages,
            "Reads replicas, stages and participants of this account's and region's stages: "
            "the stack's replications may name any of them (ivs-replication status).",
        ),
    )
    return grant


def grant_reconcile(provider: ReplicationProvider, grantee: iam.IGrantable) -> iam.Grant:
    """``status``'s reads, then invoking the reconciler and what the reconciler's own code
    does with ``--local``: its IVS actions on the region's stages, its registry reads (and the
    registry key, through DynamoDB). Invoking the reconciler is granted when the stack has
    follow mode, now or later."""
    grant = grant_status(provider, grantee)
    stages = stage_arns_of_region(Stack.of(provider))
    grant = grant.combine(_grant(grantee, c.IAM_ACTIONS, [stages])).combine(
        _grant(grantee, c.REGISTRY_RECONCILER_ACTIONS, [provider.registry_table.table_arn])
    )
    provider.tuning.registry_access(grantee.grant_principal, write=False)

    def reconciler_parts(follow: FollowInfrastructure) -> None:
        _grant(grantee, c.CLI_RECONCILE_INVOKE_ACTIONS, [follow.reconciler.function_arn])

    provider.when_following(reconciler_parts)
    _acknowledge_on_grantee(
        grantee,
        (
            stages,
            "Starts and stops replications between this account's and region's stages, as "
            "the reconciler does (ivs-replication reconcile --local runs its code).",
        ),
    )
    return grant


def _grant(grantee: iam.IGrantable, actions: Sequence[str], resources: list[str]) -> iam.Grant:
    return iam.Grant.add_to_principal(
        grantee=grantee, actions=list(actions), resource_arns=resources
    )


def _acknowledge_on_grantee(grantee: iam.IGrantable, *granted: tuple[str, str]) -> None:
    """Acknowledge the IAM5 finding of each wildcard resource granted, on the grantee's
    default policy (a role, user or group of the app); an imported principal has none here."""
    principal = grantee.grant_principal
    if not isinstance(principal, iam.Role | iam.User | iam.Group):
        return
    policy: IConstruct | None = principal.node.try_find_child("DefaultPolicy")
    if policy is None:
        return
    acknowledge_all(
        policy,
        *(
            Finding(
                AWS_SOLUTIONS, "AwsSolutions-IAM5", reason, resource_finding(principal, resource)
            )
            for resource, reason in granted
        ),
    )
