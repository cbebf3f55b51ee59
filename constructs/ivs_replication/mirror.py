"""`StageMirror`: every publisher of one stage, held in many stages (audience scale-out, and
the AWS guide's "VS mode" between two stages)."""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence

from aws_cdk import CustomResource, Duration, Token
from constructs import Construct

from ivs_replication_handler import contract as c

from .fanout import DESTINATIONS_PROP, destination_list, free_child_id
from .follow import FollowInfrastructure
from .provider import ReplicationProvider
from .replication import (
    SERVICE_TIMEOUT,
    StageLike,
    checked_attributes,
    describe_stage_if_same,
    is_token,
    stage_arn_of,
    window_seconds_of,
)

USER_IDS_PROP = "user_ids"


class MirrorDestination(Construct):
    """One destination stage of a `StageMirror`: its custom resource
    (``Custom::IvsStageMirror``), which holds every publisher of the source in this stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_stage_arn: str,
        destination_stage_arn: str,
        properties: Mapping[str, object],
    ) -> None:
        super().__init__(scope, construct_id)
        self.source_stage_arn = source_stage_arn
        self.destination_stage_arn = destination_stage_arn
        provider = ReplicationProvider.of(scope)
        provider.declare_mirror_destination(self, source_stage_arn, destination_stage_arn)
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type=c.MIRROR_RESOURCE_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties={
                c.PROP_SOURCE_STAGE_ARN: source_stage_arn,
                c.PROP_DESTINATION_STAGE_ARN: destination_stage_arn,
                **properties,
            },
        )

    @property
    def mirror_id(self) -> str:
        """The custom resource's physical id: "<source ARN>|<destination ARN>|*"."""
        return self.resource.ref


class StageMirror(Construct):
    """Replicates every participant who publishes in `source_stage` into each of
    `destination_stages`, whenever they publish, while the stack holds this construct.

    Only publishers whose token user id is in `user_ids` when it is given, and never a
    participant that is itself a replica: two stages may mirror each other (each shows the
    other's own publishers) without a replica being replicated back. It always follows the
    publishers: a deploy never fails because nobody publishes; creating it replicates who
    publishes now, each "Participant Published" event of the source starts that publisher
    into every destination, and a ``ReplicationSweep`` catches what an event missed. A
    destination holds at most 12 publishers, replicas included: IVS refuses more, which the
    reconciler records (``ReplicationsOverQuota``) without failing.

    Each destination is its own custom resource, whose construct id derives from the stage, not
    from its position in the list: adding or removing a destination starts or stops that
    destination's replications only. Removing one stops the replications it made there and
    nothing else: a ``ParticipantReplication`` of the same publisher into the same stage keeps
    running.

    :param source_stage: the stage whose publishers are mirrored: an ``IStageRef`` such as
        ``aws_ivs.CfnStage``, or a stage ARN.
    :param destination_stages: the stages to mirror into, each once, none equal to the source.
        A stage given as an unresolved token string (not a construct) has no stable id: add it
        with ``add_destination(stage, construct_id=...)`` instead.
    :param user_ids: only the publishers whose participant token carries one of these user ids,
        each 1-128 characters without control characters, listed once. Default: every
        publisher.
    :param attributes: attributes set on every replica. Default: none.
    :param reconnect_window: how long each replication survives its publisher disconnecting,
        whole seconds from 0 to 300. Default: ``Duration.seconds(0)`` (IVS's default).
    :raises ValueError: if a concrete value breaks these rules (the message names the property,
        the problem and the allowed form), or the stack already mirrors the source into one
        of the destinations (the message names both construct paths).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_stage: StageLike,
        destination_stages: Sequence[StageLike],
        user_ids: Sequence[str] | None = None,
        attributes: Mapping[str, str] | None = None,
        reconnect_window: Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # Everything is checked before any child exists.
        self.source_stage_arn = stage_arn_of("source_stage", source_stage)
        self.user_ids = _checked_user_ids(user_ids)
        self._properties: dict[str, object] = {
            c.PROP_ATTRIBUTES: checked_attributes(attributes or {}),
            c.PROP_RECONNECT_WINDOW_SECONDS: window_seconds_of(reconnect_window),
        }
        if self.user_ids is not None:
            self._properties[c.PROP_USER_IDS] = self.user_ids
        stages = destination_list(destination_stages)
        self._source_stage = source_stage
        self._by_destination_arn: dict[str, MirrorDestination] = {}
        listed: set[str] = set()
        for stage in stages:
            listed.add(self._checked_destination(stage, listed))
        # Every publisher of the source: its events reach the reconciler, whoever publishes.
        FollowInfrastructure.of(self).follow_every_publisher(self.source_stage_arn)
        for stage in stages:
            self.add_destination(stage)

    def add_destination(
        self, stage: StageLike, *, construct_id: str | None = None
    ) -> MirrorDestination:
        """Mirror the source into one more stage.

        :param stage: the destination: an ``IStageRef`` or a stage ARN, not yet a destination
            of this mirror and not the source stage.
        :param construct_id: the child construct's id, which must stay the same for this stage
            across deploys (it determines the custom resource's logical id). Default: derived
            from the stage (the stage construct's path, or the id at the end of a concrete
            ARN); required for a stage given as an unresolved token string.
        :returns: the new destination.
        :raises ValueError: if the stage is invalid, already a destination, equal to the
            source, or has no stable id.
        """
        destination_arn = self._checked_destination(stage, self._by_destination_arn)
        child_id = free_child_id(self, stage, construct_id, "the mirror")
        destination = MirrorDestination(
            self,
            child_id,
            source_stage_arn=self.source_stage_arn,
            destination_stage_arn=destination_arn,
            properties=self._properties,
        )
        self._by_destination_arn[destination_arn] = destination
        return destination

    def _checked_destination(self, stage: StageLike, taken: Container[str]) -> str:
        """The stage's ARN, once it is known to be a stage other than the source and not in
        `taken` (the destinations so far)."""
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
        if destination_arn in taken:
            raise c.InvalidPropertyError(
                DESTINATIONS_PROP,
                f"{c.echo(destination_arn)} is already a destination of {self.node.path}",
                "each destination stage once",
            )
        return destination_arn

    @property
    def destinations(self) -> list[MirrorDestination]:
        """One per destination stage, in the order they were added."""
        return list(self._by_destination_arn.values())


def _checked_user_ids(user_ids: object) -> list[str] | None:
    """The user ids, checked where concrete (a token list, or token entries, are checked by
    the handler at deploy)."""
    if user_ids is None:
        return None
    if isinstance(user_ids, list) and Token.is_unresolved(user_ids):
        return user_ids
    if isinstance(user_ids, str) or not isinstance(user_ids, Sequence):
        raise c.InvalidPropertyError(
            USER_IDS_PROP, f"a {type(user_ids).__name__} was given", c.USER_IDS_FORM
        )
    listed = list(user_ids)
    concrete = [user_id for user_id in listed if not is_token(user_id)]
    if not listed or concrete:  # an empty list is refused too: leave it out for everyone
        c.check_user_ids(USER_IDS_PROP, concrete)
    return listed
