"""Follow mode's infrastructure: once per stack, created by the first follow-mode declaration.

A reconciler function that starts declared replications whenever their publisher publishes
(reading the stack's registry, see `registry`); a dead-letter queue for the events it could
not handle; ONE EventBridge rule for every followed publisher of the stack. Stacks without
follow mode hold none of it.

One rule, whatever the number of publishers: a stack holds at most 500 resources and an
account's default bus about 300 rules, so a rule per publisher cannot scale. Its pattern lists
the stack's source stages and participant ids while they fit EventBridge's 2,048-character
limit (counting every token at the longest value it could take), then only the stages, then
neither; the reconciler filters what is left with one consistent registry read per event. The
rule does not depend on the custom resources: it exists before the first of them (so an
encoder switched on during the first deploy is caught), and the registry protocol, not the
delete order, keeps a late event from restarting a deleted replication.
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import (
    Duration,
    IStableAnyProducer,
    Lazy,
    Stack,
    Token,
)
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ivs_replication_handler import contract as c

from .functions import (
    NO_TRACING,
    acknowledge_all,
    cfn_function_of,
    finding,
    grant_ivs,
    handler_function,
    new_log_group,
    no_dead_letter_queue,
    role_writing_to,
)
from .provider import ReplicationProvider
from .tuning import Tuning

FOLLOW_ID = "Follow"
PUBLISHED_RULE_ID = "PublishedRule"
# EventBridge's limit on an event pattern, in characters.
EVENT_PATTERN_MAX_LENGTH = 2048
# What a token may turn into at deploy time, at the longest (botocore's model).
_LONGEST_STAGE_ARN = "a" * c.STAGE_ARN_MAX_LENGTH
_LONGEST_PARTICIPANT_ID = "p" * c.PARTICIPANT_ID_MAX_LENGTH
RECONCILER_TIMEOUT = Duration.seconds(c.RECONCILER_TIMEOUT_SECONDS)
RECONCILER_TARGET_ID = "Reconciler"
# SQS's longest retention: time for an operator to notice the alarm and replay.
DEAD_LETTER_RETENTION = Duration.days(14)


class FollowInfrastructure:
    """The reconciler, its dead-letter queue, its invoke permission and its one "Participant
    Published" rule, shared by a stack's follow-mode replications and mirrors, made under the
    stack's registry (`<provider>/Follow`), whose table they read.

    Use `FollowInfrastructure.of(scope)`; constructing it directly is for that method only.
    """

    def __init__(self, provider: ReplicationProvider) -> None:
        self.provider = provider
        self.scope = provider.registry
        self.table = provider.registry.table
        self.dead_letters = _dead_letter_queue(self.scope)
        self.reconciler = self._reconciler()
        self.invoke_permission = self._invoke_permission_for_rules_of_the_stack()
        # Source stage ARN -> participant ids followed there, in declaration order. Equal
        # token strings stand for the same token.
        self._followed: dict[str, dict[str, None]] = {}
        # Source stages whose every publisher is followed (a StageMirror's).
        self._mirrored: dict[str, None] = {}
        self._sweep: Construct | None = None
        self.published_rule = self._published_rule()
        provider.follow = self

    @classmethod
    def of(cls, scope: Construct) -> FollowInfrastructure:
        """The stack's follow-mode infrastructure, created (with the provider) on first use."""
        provider = ReplicationProvider.of(scope)
        return provider.follow or cls(provider)

    def follow(self, source_stage_arn: str, participant_id: str) -> None:
        """Route this publisher's "Participant Published" events to the reconciler (its
        stage and id join the stack's one rule's pattern, as long as they fit)."""
        self._followed.setdefault(source_stage_arn, {})[participant_id] = None

    def follow_every_publisher(self, source_stage_arn: str) -> None:
        """Route the "Participant Published" events of every participant of this stage to the
        reconciler: the rule then matches by stage (while the stages fit its pattern)."""
        self._mirrored[source_stage_arn] = None

    def event_pattern(self) -> dict[str, object]:
        """The rule's pattern for what is followed now (see the module docstring): a stage
        whose every publisher is followed leaves only the stages to match on."""
        stages = list(dict.fromkeys([*self._followed, *self._mirrored]))
        participants = list(dict.fromkeys(p for ps in self._followed.values() for p in ps))
        candidates = [published_event_pattern(stages, None)]
        if not self._mirrored:
            candidates.insert(0, published_event_pattern(stages, participants))
        for pattern in candidates:
            if longest_rendering(pattern) <= EVENT_PATTERN_MAX_LENGTH:
                return pattern
        return published_event_pattern(None, None)

    def _published_rule(self) -> events.CfnRule:
        rule = events.CfnRule(
            self.scope,
            PUBLISHED_RULE_ID,
            description="Starts this stack's follow-mode IVS participant replications when "
            "their publisher publishes",
            event_pattern=Lazy.any(_EventPattern(self)),
            state="ENABLED",
            targets=[self.reconciler_target()],
        )
        # An event delivered before the permission exists would be refused.
        rule.add_resource_dependency(self.invoke_permission)
        return rule

    def reconciler_target(self, rule_input: str | None = None) -> events.CfnRule.TargetProperty:
        """The reconciler as a rule target, without a permission of its own: the stack's one
        permission covers every rule (see `_invoke_permission_for_rules_of_the_stack`)."""
        return events.CfnRule.TargetProperty(
            arn=self.reconciler.function_arn,
            id=RECONCILER_TARGET_ID,
            input=rule_input,
            # An event EventBridge could not hand to Lambda lands beside the failed runs.
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(
                arn=self.dead_letters.queue_arn
            ),
        )

    @property
    def sweep(self) -> Construct | None:
        """The stack's ReplicationSweep, once one exists."""
        return self._sweep

    def claim_sweep(self, sweep: Construct) -> None:
        """Record the stack's one sweep; a second one is an error (it would only double the
        reconciler's work)."""
        if self._sweep is not None:
            raise ValueError(
                f"Invalid ReplicationSweep {sweep.node.path}: stack "
                f"{Stack.of(self.scope).stack_name} "
                f"already has one ({self._sweep.node.path}). Expected at most one "
                "ReplicationSweep per stack: one sweep covers every follow-mode replication."
            )
        self._sweep = sweep

    def _reconciler(self) -> lambda_.Function:
        reconciler_logs = new_log_group(self.scope, "ReconcilerLogs")
        role = role_writing_to(self.scope, "ReconcilerRole", reconciler_logs)
        grant_ivs(
            role,
            Stack.of(self.scope),
            why="The reconciler starts the replications the registry declares, whichever "
            "stages they name; a fixed pattern keeps the policy's size constant.",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=list(c.REGISTRY_RECONCILER_ACTIONS), resources=[self.table.table_arn]
            )
        )
        Tuning.of(self.scope).registry_access(role, write=False)
        Tuning.of(self.scope).dead_letter_sender(role)
        reconciler = handler_function(
            self.scope,
            "Reconciler",
            description="Starts follow-mode IVS participant replications when their "
            "publisher publishes",
            handler=c.RECONCILER_ENTRY_POINT,
            timeout=RECONCILER_TIMEOUT,
            role=role,
            log_group=reconciler_logs,
            environment={
                c.ENV_REGISTRY_TABLE: self.table.table_name,
                **self.provider.metrics_environment,
                **self.provider.ivs_pace_environment,
            },
            # EventBridge invokes asynchronously; a start that is an hour late is stale.
            retry_attempts=c.RECONCILER_RETRY_ATTEMPTS,
            max_event_age=Duration.seconds(c.RECONCILER_MAX_EVENT_AGE_SECONDS),
            # After Lambda's retries (or past the age), the event is kept, not dropped.
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        acknowledge_all(
            cfn_function_of(reconciler),
            *no_dead_letter_queue(
                "Failed asynchronous runs go to the on-failure destination (the dead-letter "
                "queue, EventInvokeConfig), which records the event with the error and the "
                "condition; a DeadLetterConfig as well would put every failure in the queue "
                "twice."
            ),
            NO_TRACING,
        )
        return reconciler

    def _invoke_permission_for_rules_of_the_stack(self) -> lambda_.CfnPermission:
        """ONE permission for every rule of this account and region, not one per rule: a
        stack may follow hundreds of publishers and holds at most 500 resources.

        Safe although any rule of the account may invoke the reconciler: whatever the event,
        it only starts replications the registry declares (written by this stack's handler),
        and starting one that is already running changes nothing.
        """
        stack = Stack.of(self.scope)
        return lambda_.CfnPermission(
            self.scope,
            "InvokeFromRules",
            action="lambda:InvokeFunction",
            function_name=self.reconciler.function_arn,
            principal="events.amazonaws.com",
            source_account=stack.account,
            source_arn=stack.format_arn(service="events", resource="rule", resource_name="*"),
        )


@jsii.implements(IStableAnyProducer)
class _EventPattern:
    """The rule's pattern, computed at synth once every declaration exists."""

    def __init__(self, follow: FollowInfrastructure) -> None:
        self._follow = follow

    def produce(self) -> object:
        return self._follow.event_pattern()


def published_event_pattern(
    source_stage_arns: list[str] | None, participant_ids: list[str] | None
) -> dict[str, object]:
    """IVS's "Participant Published" events, of these stages and participants where given."""
    detail: dict[str, object] = {"event_name": [c.EVENT_PARTICIPANT_PUBLISHED]}
    if participant_ids:
        detail["participant_id"] = participant_ids
    pattern: dict[str, object] = {
        "source": [c.EVENT_SOURCE],
        "detail-type": [c.EVENT_DETAIL_TYPE],
        "detail": detail,
    }
    if source_stage_arns:
        pattern["resources"] = source_stage_arns
    return pattern


def longest_rendering(pattern: dict[str, object]) -> int:
    """The pattern's length in compact JSON once deployed, every token at its longest."""

    def longest(value: object, placeholder: str) -> object:
        if isinstance(value, str) and Token.is_unresolved(value):
            return placeholder
        return value

    detail = dict(pattern["detail"])  # type: ignore[call-overload]
    rendered = {**pattern, "detail": detail}
    if "participant_id" in detail:
        detail["participant_id"] = [
            longest(p, _LONGEST_PARTICIPANT_ID) for p in detail["participant_id"]
        ]
    if "resources" in pattern:
        rendered["resources"] = [
            longest(arn, _LONGEST_STAGE_ARN)
            for arn in pattern["resources"]  # type: ignore[attr-defined]
        ]
    return len(json.dumps(rendered, separators=(",", ":")))


def sweep_input() -> str:
    """The sweep rule's constant input: a few bytes however many declarations exist."""
    return json.dumps({c.SWEEP_INPUT_KEY: True})


def _dead_letter_queue(scope: Construct) -> sqs.Queue:
    """Encrypted (SQS-managed keys, which EventBridge and Lambda can write to without a key
    policy), TLS only, 14 days' retention. Written by the reconciler's on-failure destination
    (its role) and by the rules' dead-letter config (EventBridge, allowed below)."""
    stack = Stack.of(scope)
    queue = sqs.Queue(
        scope,
        "DeadLetters",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
    )
    # One statement for every rule of the account and region, as the invoke permission:
    # a stack may follow hundreds of publishers.
    queue.add_to_resource_policy(
        iam.PolicyStatement(
            actions=["sqs:SendMessage"],
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            resources=[queue.queue_arn],
            conditions={
                "ArnLike": {
                    "aws:SourceArn": stack.format_arn(
                        service="events", resource="rule", resource_name="*"
                    )
                },
                "StringEquals": {"aws:SourceAccount": stack.account},
            },
        )
    )
    resource = queue.node.default_child
    if not isinstance(resource, sqs.CfnQueue):
        raise TypeError(f"{queue.node.path} has no CfnQueue")
    Tuning.of(scope).dead_letter_queue(queue)
    acknowledge_all(
        resource,
        finding(
            "AwsSolutions-SQS3",
            "This queue is the dead-letter destination itself: of the reconciler's failed "
            "asynchronous runs (on-failure destination) and of its rules' undeliverable "
            "events; cdk-nag only recognises a queue named in a DeadLetterConfig or a redrive "
            "policy.",
        ),
        finding(
            "Serverless-SQSRedrivePolicy",
            "A dead-letter queue has no dead-letter queue of its own: its messages stay for the "
            "retention period (14 days) until an operator replays them (see the README).",
            pack="Serverless",
        ),
    )
    return queue
