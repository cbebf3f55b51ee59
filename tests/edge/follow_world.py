"""Follow and wait modes end to end: the real handler and reconciler, the local IVS endpoint,
and the registry in a local DynamoDB (moto's server), all through real boto3 clients.

`FollowWorld` plays CloudFormation (custom-resource events to the handler) and EventBridge
(IVS events handed to the reconciler, or held back to play a lost delivery).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from ivs_realtime_emulator import IvsRealtimeEmulator
from ivs_replication.testing.cloudformation import LocalLambdaContext, custom_resource_event
from ivs_replication.testing.dynamodb import LocalDynamoDB
from ivs_replication_handler import contract as c
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.ivs import IvsRealtime, make_client
from ivs_replication_handler.reconciler import handle_event as reconcile
from ivs_replication_handler.registry import Registry

_table_numbers = itertools.count()


@dataclass
class FollowWorld:
    """One registry table, one IVS endpoint, and the events the endpoint announced."""

    ivs_endpoint: IvsRealtimeEmulator
    registry: Registry
    ivs: IvsRealtime
    events: list[dict[str, Any]] = field(default_factory=list)
    # What the handler's Lambda context measures its time on (Default: real time); the
    # endpoint's clock makes every wait of the handler bring its deadline closer.
    lambda_clock: Callable[[], float] = time.monotonic

    def stage(self, name: str) -> str:
        return self.ivs_endpoint.create_stage(name)

    def props(
        self, source: str, destination: str, participant: str = "encoder-1", **extra: object
    ) -> dict[str, object]:
        return {
            c.PROP_SOURCE_STAGE_ARN: source,
            c.PROP_DESTINATION_STAGE_ARN: destination,
            c.PROP_PARTICIPANT_ID: participant,
            c.PROP_ATTRIBUTES: {},
            c.PROP_RECONNECT_WINDOW_SECONDS: 0,
            c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FOLLOW,
            c.PROP_WAIT_SECONDS: 0,
            **extra,
        }

    def mirror_props(
        self, source: str, destination: str, *, user_ids: list[str] | None = None, **extra: object
    ) -> dict[str, object]:
        """A StageMirror destination's properties (every publisher, unless `user_ids`)."""
        props: dict[str, object] = {
            c.PROP_SOURCE_STAGE_ARN: source,
            c.PROP_DESTINATION_STAGE_ARN: destination,
            c.PROP_ATTRIBUTES: {},
            c.PROP_RECONNECT_WINDOW_SECONDS: 0,
            **extra,
        }
        if user_ids is not None:
            props[c.PROP_USER_IDS] = user_ids
        return props

    def create(
        self,
        props: Mapping[str, object],
        logical_id: str = "Replication",
        *,
        resource_type: str = c.RESOURCE_TYPE,
    ) -> str:
        event = custom_resource_event(
            "Create", logical_id=logical_id, properties=props, resource_type=resource_type
        )
        return str(self._handle(event)["PhysicalResourceId"])

    def create_mirror(self, props: Mapping[str, object], logical_id: str = "Mirror") -> str:
        return self.create(props, logical_id, resource_type=c.MIRROR_RESOURCE_TYPE)

    def update_mirror(
        self,
        physical_id: str,
        props: Mapping[str, object],
        old: Mapping[str, object],
        logical_id: str = "Mirror",
    ) -> str:
        return self.update(physical_id, props, old, logical_id, c.MIRROR_RESOURCE_TYPE)

    def delete_mirror(
        self, physical_id: str, props: Mapping[str, object], logical_id: str = "Mirror"
    ) -> None:
        self.delete(physical_id, props, logical_id, c.MIRROR_RESOURCE_TYPE)

    def update(
        self,
        physical_id: str,
        props: Mapping[str, object],
        old: Mapping[str, object],
        logical_id: str = "Replication",
        resource_type: str = c.RESOURCE_TYPE,
    ) -> str:
        event = custom_resource_event(
            "Update",
            logical_id=logical_id,
            properties=props,
            old_properties=old,
            physical_id=physical_id,
            resource_type=resource_type,
        )
        return str(self._handle(event)["PhysicalResourceId"])

    def delete(
        self,
        physical_id: str,
        props: Mapping[str, object],
        logical_id: str = "Replication",
        resource_type: str = c.RESOURCE_TYPE,
    ) -> Mapping[str, object]:
        """The Delete's answer to the provider framework."""
        event = custom_resource_event(
            "Delete",
            logical_id=logical_id,
            properties=props,
            physical_id=physical_id,
            resource_type=resource_type,
        )
        return self._handle(event)

    def deliver_events(self) -> list[dict[str, object]]:
        """Hand every announced event to the reconciler, as the follow rule would."""
        pending, self.events[:] = list(self.events), []
        return [self.reconcile(event) for event in pending]

    def drop_events(self) -> None:
        """Lose the announced events: EventBridge delivery is best effort."""
        self.events.clear()

    def reconcile(self, event: Mapping[str, Any]) -> dict[str, object]:
        return reconcile(event, LocalLambdaContext(), self.ivs, self.registry)

    def sweep(self) -> dict[str, object]:
        return self.reconcile({c.SWEEP_INPUT_KEY: True})

    def state(self, source: str, destination: str, participant: str = "encoder-1") -> str | None:
        """The state IVS settles in: a replica whose Stop IVS answered counts as STOPPED,
        though a profile may list it ACTIVE for a moment longer (`stop_effect_delay_seconds`)."""
        replicas = self.ivs_endpoint.replicas(
            source_stage_arn=source, participant_id=participant, destination_stage_arn=destination
        )
        if not replicas:
            return None
        running = any(r.state == "ACTIVE" and not r.stopping for r in replicas)
        return "ACTIVE" if running else "STOPPED"

    def stop_out_of_band(
        self, source: str, destination: str, participant: str = "encoder-1"
    ) -> None:
        """Stop the replication behind the stack's back (an operator, another tool), a while
        ago: the Stop has taken effect, whatever the profile's delay."""
        self.ivs.client.stop_participant_replication(
            sourceStageArn=source, destinationStageArn=destination, participantId=participant
        )
        self.ivs_endpoint.clock.advance(self.ivs_endpoint.profile.stop_effect_delay_seconds)

    def replica_ids(self, source: str, destination: str) -> set[str]:
        """The participants replicated from `source` that run in `destination` now (a replica
        whose Stop IVS answered counts as ended)."""
        return {
            r.participant_id
            for r in self.ivs_endpoint.replicas(
                source_stage_arn=source, destination_stage_arn=destination
            )
            if r.state == "ACTIVE" and not r.stopping
        }

    def declared(self) -> list[dict[str, Any]]:
        """The replications declared in follow mode: the registry's items whose declaration in
        force follows the publisher (what the reconciler starts)."""
        table = self.registry.table_name
        assert table is not None
        return [
            {"publisher": item[c.REGISTRY_PARTITION_KEY], "destination": item[c.REGISTRY_SORT_KEY]}
            for item in _scan(self.registry, table)
            if item.get(c.PROP_WHEN_NOT_PUBLISHING, c.MODE_FOLLOW) == c.MODE_FOLLOW
        ]

    def _handle(self, event: dict[str, object]) -> Mapping[str, object]:
        context = LocalLambdaContext(clock=self.lambda_clock)
        return handle_event(event, context, self.ivs, self.registry)


def _scan(registry: Registry, table: str) -> list[dict[str, Any]]:
    items = registry.client.scan(TableName=table, ConsistentRead=True)["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


@pytest.fixture
def world(local_ivs: IvsRealtimeEmulator, dynamodb: LocalDynamoDB) -> Iterator[FollowWorld]:
    table = dynamodb.create_registry_table(f"registry-{next(_table_numbers)}")
    # The handler's own client factory, aimed at the endpoint by the local_ivs fixture's env.
    built = FollowWorld(
        ivs_endpoint=local_ivs,
        registry=Registry(table, client=dynamodb.client()),
        # Waits move the endpoint's clock, not the test's: a publisher IVS needs seconds to
        # replicate (a profile's propagation delay) is settled at once.
        ivs=IvsRealtime(make_client(), sleep=local_ivs.clock.advance),
    )
    unsubscribe = local_ivs.subscribe(built.events.append)
    try:
        yield built
    finally:
        unsubscribe()
