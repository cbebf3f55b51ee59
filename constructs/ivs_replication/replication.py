"""`ParticipantReplication`: replicate a publishing IVS participant into another stage."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Union, cast

from aws_cdk import (
    Annotations,
    CustomResource,
    Duration,
    Stack,
    Token,
    Tokenization,
)
from aws_cdk.interfaces.aws_ivs import IStageRef
from constructs import Construct, IConstruct

from ivs_replication_handler import contract as c

from .durations import whole_or_token
from .follow import FollowInfrastructure
from .modes import WhenNotPublishing, checked_mode
from .provider import ReplicationProvider
from .reads import stack_of, stage_arn_of_ref

# A stage, as a CDK stage reference (e.g. `aws_ivs.CfnStage`) or its ARN.
StageLike = Union[IStageRef, str]  # noqa: UP007 - an alias jsii users can read in docs

# CDK encodes every unresolved string token with this marker: strings without it are concrete,
# and need no jsii round trip to tell (synth time counts at 200 replications).
_UNRESOLVED_STRING_MARK = "${Token["

FAIL_WITH_NEW_SOURCE_STAGE_WARNING = "ivs-replication:fail-with-new-source-stage"

# CloudFormation's own default is one hour; a broken handler should fail in minutes. A
# replication that waits for its publisher gets its wait on top.
SERVICE_TIMEOUT_SECONDS = 600
SERVICE_TIMEOUT = Duration.seconds(SERVICE_TIMEOUT_SECONDS)


class ParticipantReplication(Construct):
    """Replicates participant `participant_id`, publishing in `source_stage`, into
    `destination_stage` while the stack holds this construct.

    Creating it starts the replication; removing it stops the replication. IVS only starts a
    replication while the participant publishes: `when_not_publishing` says what deploy does
    otherwise. Every replication in a stack shares one provider.

    :param source_stage: the stage the participant publishes in: an ``IStageRef`` such as
        ``aws_ivs.CfnStage``, or a stage ARN.
    :param destination_stage: the stage to replicate into; must differ from the source.
    :param participant_id: the publisher's participant id: 1-64 characters of
        ``[a-zA-Z0-9-_]``.
    :param attributes: attributes set on the replicated participant, merged over its token's
        attributes and visible to every participant of the destination stage. At most 1 KB
        of UTF-8 in keys and values. Default: none.
    :param reconnect_window: how long the replication survives the publisher disconnecting,
        whole seconds from 0 to 300. Default: ``Duration.seconds(0)`` (IVS's default).
    :param when_not_publishing: what deploy does if the participant is not publishing:
        ``WhenNotPublishing.follow()``, ``.wait_up_to(duration)`` or ``.fail()``.
        Default: ``WhenNotPublishing.follow()`` (deploy succeeds; the replication starts
        whenever the participant publishes). ``fail()`` with a source stage created in the
        same stack gets the acknowledgeable warning
        ``ivs-replication:fail-with-new-source-stage``.
    :raises ValueError: if a concrete (non-token) value breaks these rules (the message names
        the property, the problem and the allowed form), or if the stack already declares the
        same (source stage, destination stage, participant) (the message names both
        construct paths).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_stage: StageLike,
        destination_stage: StageLike,
        participant_id: str,
        attributes: Mapping[str, str] | None = None,
        reconnect_window: Duration | None = None,
        when_not_publishing: WhenNotPublishing | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        mode = checked_mode(when_not_publishing)
        source_arn = stage_arn_of("source_stage", source_stage)
        destination_arn = stage_arn_of("destination_stage", destination_stage)
        if not is_token(participant_id):
            c.check_participant_id("participant_id", participant_id)
        # Unresolved tokens encode to equal strings only when they name the same stage.
        c.check_distinct_stages(
            "source_stage",
            "destination_stage",
            source_arn,
            destination_arn,
            shown_as=describe_stage_if_same(source_stage, source_arn, destination_arn),
        )
        attributes_checked = checked_attributes(attributes or {})
        window_seconds = window_seconds_of(reconnect_window)
        provider = ReplicationProvider.of(scope)
        provider.declare(self, (source_arn, destination_arn, participant_id))
        self._warn_if_cross_boundary(provider.account, source_arn, destination_arn)
        # The scope's stack is this construct's: asked once per scope, not once per replication.
        if mode.mode == c.MODE_FAIL and _created_in(stack_of(scope), source_stage):
            Annotations.of(self).add_warning_v2(
                FAIL_WITH_NEW_SOURCE_STAGE_WARNING,
                "when_not_publishing=WhenNotPublishing.fail() with a source stage created in "
                "this stack: nobody can publish in a stage before it exists, so the first "
                "deploy fails and rolls back. Use WhenNotPublishing.follow() (the default) or "
                "wait_up_to(), or acknowledge this warning if the stage already exists.",
            )

        self.source_stage_arn = source_arn
        self.destination_stage_arn = destination_arn
        self.participant_id = participant_id
        self.when_not_publishing = mode
        provider.allow_wait(mode.wait_seconds)
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type=c.RESOURCE_TYPE,
            service_timeout=_service_timeout(mode.wait_seconds),
            properties={
                c.PROP_SOURCE_STAGE_ARN: source_arn,
                c.PROP_DESTINATION_STAGE_ARN: destination_arn,
                c.PROP_PARTICIPANT_ID: participant_id,
                c.PROP_ATTRIBUTES: attributes_checked,
                c.PROP_RECONNECT_WINDOW_SECONDS: window_seconds,
                c.PROP_WHEN_NOT_PUBLISHING: mode.mode,
                c.PROP_WAIT_SECONDS: mode.wait_seconds,
            },
        )
        if mode.mode == c.MODE_FOLLOW:
            self._follow_the_publisher()

    @property
    def replication_id(self) -> str:
        """The custom resource's physical id: "<source ARN>|<destination ARN>|<participant>"."""
        return self.resource.ref

    def _follow_the_publisher(self) -> None:
        """Route the publisher's "Participant Published" events to the reconciler, through
        the stack's one rule (see `FollowInfrastructure`). The rule does not depend on this
        custom resource: the registry protocol keeps a late event from restarting it once
        its Stop has run, whatever the order CloudFormation deletes them in."""
        FollowInfrastructure.of(self).follow(self.source_stage_arn, self.participant_id)

    def _warn_if_cross_boundary(
        self, account: str | None, source_arn: str, destination_arn: str
    ) -> None:
        """IVS does not document replication across regions or accounts: warn, don't block.
        `account`: the stack's, when concrete."""
        source = _region_and_account(source_arn)
        destination = _region_and_account(destination_arn)
        if source and destination and source != destination:
            Annotations.of(self).add_warning_v2(
                "ivs-replication:cross-region-or-account",
                f"source_stage is in {'/'.join(source)} and destination_stage in "
                f"{'/'.join(destination)} (region/account): IVS does not document replication "
                "across regions or accounts, and the handler calls IVS in its own stack's "
                "region and account.",
            )
        for prop, where in (("source_stage", source), ("destination_stage", destination)):
            if where and account is not None and where[1] != account:
                Annotations.of(self).add_warning_v2(
                    "ivs-replication:foreign-account",
                    f"{prop} belongs to account {where[1]}, not this stack's account "
                    f"{account}: the handler's role cannot reach it.",
                )


def _created_in(stack: Stack, stage: StageLike) -> bool:
    """Whether `stage` is a stage construct (or a reference to one) of `stack`."""
    target: object = stage
    if isinstance(stage, str):
        if not is_token(stage):
            return False
        token = Tokenization.reverse_string(stage).first_token
        target = getattr(token, "target", None)
    if not isinstance(target, Construct):
        return False
    return stack_of(target) is stack


def stage_arn_of(prop: str, stage: StageLike) -> str:
    arn = stage if isinstance(stage, str) else _arn_of_stage_ref(prop, stage)
    if not is_token(arn):
        c.check_stage_arn(prop, arn)
    return arn


def describe_stage_if_same(stage: StageLike, arn: str, other_arn: str) -> str | None:
    """`describe_stage` for the message about a stage equal to `other_arn`; None (and no jsii
    round trip) while they differ."""
    return describe_stage(stage, arn) if arn == other_arn else None


def describe_stage(stage: StageLike, arn: str) -> str:
    """A stage as a user recognizes it in a message: its construct path, else its ARN."""
    if Construct.is_construct(stage):
        return f"the stage construct {cast(IConstruct, stage).node.path}"
    return c.echo(arn)


def _arn_of_stage_ref(prop: str, stage: object) -> str:
    # IStageRef is a jsii interface: no isinstance check. Anything else (say, an int) is also
    # not weakly referenceable, so it is refused before the cache is asked.
    if not hasattr(type(stage), "stage_ref"):
        raise c.InvalidPropertyError(
            prop,
            f"a {type(stage).__name__} was given",
            "an IStageRef (e.g. CfnStage) or a stage ARN",
        )
    return stage_arn_of_ref(cast(IStageRef, stage))


def _service_timeout(wait_seconds: int) -> Duration:
    # The shared Duration unless there is a wait: each jsii call costs synth time, x200.
    if not wait_seconds:
        return SERVICE_TIMEOUT
    return Duration.seconds(SERVICE_TIMEOUT_SECONDS + wait_seconds)


def _region_and_account(arn: str) -> tuple[str, str] | None:
    """(region, account) of a concrete stage ARN; None for a token."""
    if is_token(arn):
        return None
    parts = arn.split(":")
    return parts[3], parts[4]


def checked_attributes(attributes: Mapping[str, str]) -> dict[str, str]:
    """Check what is concrete now; pairs holding tokens are checked by the handler at deploy."""
    plain = dict(attributes)
    concrete = {k: v for k, v in plain.items() if not is_token(k) and not is_token(v)}
    c.check_attributes("attributes", concrete)
    return plain


def is_token(value: object) -> bool:
    if not isinstance(value, str) or _UNRESOLVED_STRING_MARK not in value:
        return False
    return _is_unresolved_string(value)


@lru_cache(maxsize=4096)
def _is_unresolved_string(value: str) -> bool:
    # Whether a string is a token depends on its text alone (CDK matches its marker), so one
    # answer per distinct string holds: one round trip per stage, not several per replication.
    return bool(Token.is_unresolved(value))


def window_seconds_of(window: Duration | None) -> int | str:
    """The reconnect window in whole seconds (Default: 0); a token as its string, which the
    handler checks at deploy."""
    if window is None:
        return 0
    seconds = whole_or_token("reconnect_window", window, "seconds", c.RECONNECT_WINDOW_FORM)
    if isinstance(seconds, str):
        return seconds
    return c.check_reconnect_window_seconds("reconnect_window", seconds)
