"""`ParticipantFanOut` and `IngestReplication`: one publisher replicated into many stages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from aws_cdk import Duration, Names
from aws_cdk import aws_ivs as ivs
from constructs import Construct, IConstruct

from ivs_replication_handler import contract as c

from .modes import WhenNotPublishing, checked_mode
from .replication import (
    ParticipantReplication,
    StageLike,
    checked_attributes,
    describe_stage_if_same,
    is_token,
    stage_arn_of,
    window_seconds_of,
)

DESTINATIONS_PROP = "destination_stages"
DESTINATION_ID_FORM = (
    "a stage construct (e.g. CfnStage) or a concrete stage ARN, or else "
    "add_destination(stage, construct_id=...) with an id that stays the same for that stage"
)


class ParticipantFanOut(Construct):
    """Replicates participant `participant_id`, publishing in `source_stage`, into each of
    `destination_stages` while the stack holds this construct.

    Each destination is its own ``ParticipantReplication`` (one custom resource), whose
    construct id derives from the stage, not from its position in the list: adding or
    removing a destination starts or stops that replication only.

    :param source_stage: the stage the participant publishes in: an ``IStageRef`` such as
        ``aws_ivs.CfnStage``, or a stage ARN.
    :param participant_id: the publisher's participant id: 1-64 characters of
        ``[a-zA-Z0-9-_]``.
    :param destination_stages: the stages to replicate into, each once, none equal to the
        source. A stage given as an unresolved token string (not a construct) has no stable
        id: add it with ``add_destination(stage, construct_id=...)`` instead.
    :param attributes: attributes set on every replica. Default: none.
    :param reconnect_window: how long the replications survive the publisher disconnecting,
        whole seconds from 0 to 300. Default: ``Duration.seconds(0)`` (IVS's default).
    :param when_not_publishing: what deploy does if the participant is not publishing.
        Default: ``WhenNotPublishing.follow()``.
    :raises ValueError: if a concrete value breaks these rules; the message names the
        property, the problem and the allowed form.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_stage: StageLike,
        participant_id: str,
        destination_stages: Sequence[StageLike],
        attributes: Mapping[str, str] | None = None,
        reconnect_window: Duration | None = None,
        when_not_publishing: WhenNotPublishing | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # Validation first, so that even a fan-out with no destination yet reports bad input.
        self.when_not_publishing = checked_mode(when_not_publishing)
        self.source_stage_arn = stage_arn_of("source_stage", source_stage)
        if not is_token(participant_id):
            c.check_participant_id("participant_id", participant_id)
        checked_attributes(attributes or {})
        window_seconds_of(reconnect_window)
        stages = destination_list(destination_stages)
        for stage in stages:  # every destination checked before any child exists
            stage_arn_of(DESTINATIONS_PROP, stage)

        self.participant_id = participant_id
        self._source_stage = source_stage
        self._attributes = dict(attributes or {})
        self._reconnect_window = reconnect_window
        self._by_destination_arn: dict[str, ParticipantReplication] = {}
        for stage in stages:
            self.add_destination(stage)

    def add_destination(
        self, stage: StageLike, *, construct_id: str | None = None
    ) -> ParticipantReplication:
        """Replicate the participant into one more stage.

        :param stage: the destination: an ``IStageRef`` or a stage ARN, not yet a destination
            of this fan-out and not the source stage.
        :param construct_id: the child construct's id, which must stay the same for this stage
            across deploys (it determines the custom resource's logical id). Default: derived
            from the stage (the stage construct's path, or the id at the end of a concrete
            ARN); required for a stage given as an unresolved token string.
        :returns: the new replication.
        :raises ValueError: if the stage is invalid, already a destination, equal to the
            source, or has no stable id.
        """
        destination_arn = stage_arn_of(DESTINATIONS_PROP, stage)
        c.check_distinct_stages(
            "source_stage",
            DESTINATIONS_PROP,
            self.source_stage_arn,
            destination_arn,
            shown_as=describe_stage_if_same(
                self._source_stage, self.source_stage_arn, destination_arn
            ),
        )
        if destination_arn in self._by_destination_arn:
            raise c.InvalidPropertyError(
                DESTINATIONS_PROP,
                f"{c.echo(destination_arn)} is already a destination of {self.node.path}",
                "each destination stage once",
            )
        child_id = free_child_id(self, stage, construct_id, "the fan-out")
        replication = ParticipantReplication(
            self,
            child_id,
            source_stage=self._source_stage,
            destination_stage=stage,
            participant_id=self.participant_id,
            attributes=self._attributes,
            reconnect_window=self._reconnect_window,
            when_not_publishing=self.when_not_publishing,
        )
        self._by_destination_arn[destination_arn] = replication
        return replication

    @property
    def replications(self) -> list[ParticipantReplication]:
        """One replication per destination, in the order they were added."""
        return list(self._by_destination_arn.values())


class IngestReplication(ParticipantFanOut):
    """Replicates the participant an IVS ingest configuration (an RTMP or RTMPS encoder
    pushed into a stage) publishes as, into each of `destination_stages`.

    An encoder publishes when it is switched on, not when the stack deploys, so this follows
    it by default: each replication starts whenever the encoder publishes.

    :param ingest_configuration: the encoder's ``aws_ivs.CfnIngestConfiguration``; its
        ``stage_arn`` is the source stage and its ``ParticipantId`` the participant.
    :param destination_stages: as for ``ParticipantFanOut``.
    :param attributes: attributes set on every replica. Default: none.
    :param reconnect_window: how long the replications survive the encoder disconnecting,
        whole seconds from 0 to 300. Default: ``Duration.seconds(0)`` (IVS's default).
    :param when_not_publishing: what deploy does if the encoder is not publishing.
        Default: ``WhenNotPublishing.follow()``.
    :raises ValueError: if the ingest configuration has no stage, or a concrete value breaks
        the rules of ``ParticipantFanOut``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ingest_configuration: ivs.CfnIngestConfiguration,
        destination_stages: Sequence[StageLike],
        attributes: Mapping[str, str] | None = None,
        reconnect_window: Duration | None = None,
        when_not_publishing: WhenNotPublishing | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            source_stage=_ingest_stage_arn(ingest_configuration),
            participant_id=ingest_configuration.attr_participant_id,
            destination_stages=destination_stages,
            attributes=attributes,
            reconnect_window=reconnect_window,
            when_not_publishing=(
                WhenNotPublishing.follow() if when_not_publishing is None else when_not_publishing
            ),
        )
        self.ingest_configuration = ingest_configuration


def free_child_id(
    parent: Construct, stage: StageLike, construct_id: str | None, parent_kind: str
) -> str:
    """The id of `parent`'s child for `stage`: `construct_id`, or the stage's own
    (`destination_id`).

    :raises ValueError: if another child of `parent` has that id already.
    """
    child_id = construct_id if construct_id is not None else destination_id(stage)
    if parent.node.try_find_child(child_id) is not None:
        raise c.InvalidPropertyError(
            "construct_id",
            f"{child_id!r} already names a child of {parent.node.path}",
            f"an id unique within {parent_kind}",
        )
    return child_id


def destination_id(stage: StageLike) -> str:
    """A construct id for the replication into `stage` that does not change while the stage
    stays a destination: derived from the stage, never from a list position."""
    if Construct.is_construct(stage):
        # Unique in the app and as stable as the stage's own construct path.
        return Names.unique_id(cast(IConstruct, stage))
    arn = stage_arn_of(DESTINATIONS_PROP, stage)
    if is_token(arn):
        raise c.InvalidPropertyError(
            DESTINATIONS_PROP,
            "a destination is an unresolved token string, which gives its replication no "
            "stable construct id",
            DESTINATION_ID_FORM,
        )
    return arn.split(":stage/", 1)[1]


def destination_list(stages: object) -> list[StageLike]:
    # A lone ARN is a Sequence too: iterating it would give one "stage" per character.
    if isinstance(stages, str) or not isinstance(stages, Sequence):
        raise c.InvalidPropertyError(
            DESTINATIONS_PROP,
            f"a {type(stages).__name__} was given",
            "a list of stages (IStageRef or stage ARN)",
        )
    return list(stages)


def _ingest_stage_arn(ingest_configuration: object) -> str:
    """The stage the encoder publishes in; the ingest configuration's `stage_arn`."""
    prop = "ingest_configuration"
    if not isinstance(ingest_configuration, ivs.CfnIngestConfiguration):
        raise c.InvalidPropertyError(
            prop,
            f"a {type(ingest_configuration).__name__} was given",
            "an aws_ivs.CfnIngestConfiguration",
        )
    stage_arn = ingest_configuration.stage_arn
    if not stage_arn:
        raise c.InvalidPropertyError(
            prop,
            f"{ingest_configuration.node.path} has no stage_arn, so it publishes in no stage",
            "a CfnIngestConfiguration whose stage_arn names the stage the encoder publishes in",
        )
    if not is_token(stage_arn):
        c.check_stage_arn(f"{prop}.stage_arn", stage_arn)
    return stage_arn
