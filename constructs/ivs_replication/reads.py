"""Answers read through jsii once and remembered: a construct's stack, a stage's ARN, a
construct's default child, a role's default policy.

Every jsii round trip costs synth time, and a stack of hundreds of replications asks the same
questions hundreds of times (each replication's scope, stage and provider). These answers never
change once given, so each is asked once per object. This is memoization only: per-stack state
lives on the stack's `ReplicationProvider`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TypeVar

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk.interfaces.aws_ivs import IStageRef
from constructs import IConstruct

K = TypeVar("K")
V = TypeVar("V")


def remembered(known: weakref.WeakKeyDictionary[K, V], key: K, find: Callable[[K], V]) -> V:
    """`find(key)`, asked once per key (a None answer is remembered too)."""
    if key in known:
        return known[key]
    value = known[key] = find(key)
    return value


_stacks: weakref.WeakKeyDictionary[IConstruct, Stack] = weakref.WeakKeyDictionary()
_stage_arns: weakref.WeakKeyDictionary[IStageRef, str] = weakref.WeakKeyDictionary()
_default_children: weakref.WeakKeyDictionary[IConstruct, IConstruct | None] = (
    weakref.WeakKeyDictionary()
)
_default_policies: weakref.WeakKeyDictionary[iam.IRole, IConstruct] = weakref.WeakKeyDictionary()


def stack_of(construct: IConstruct) -> Stack:
    """`Stack.of(construct)`."""
    return remembered(_stacks, construct, Stack.of)


def stage_arn_of_ref(stage: IStageRef) -> str:
    """The ARN a stage reference (e.g. `aws_ivs.CfnStage`) gives."""
    return remembered(_stage_arns, stage, _read_stage_arn)


def default_child_of(construct: IConstruct) -> IConstruct | None:
    """`construct.node.default_child`."""
    return remembered(_default_children, construct, _read_default_child)


def default_policy_of(role: iam.IRole) -> IConstruct:
    """The policy CDK creates for `role`'s statements and grants (once there is one)."""
    return remembered(_default_policies, role, _read_default_policy)


def _read_stage_arn(stage: IStageRef) -> str:
    return stage.stage_ref.stage_arn


def _read_default_child(construct: IConstruct) -> IConstruct | None:
    return construct.node.default_child


def _read_default_policy(role: iam.IRole) -> IConstruct:
    return role.node.find_child("DefaultPolicy")
