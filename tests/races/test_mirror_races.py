"""StageMirror's races, played deterministically at the AWS edge (`tests/edge_hooks.py`): a
mirror deleted or changed while the reconciler starts one of its publishers, a Start whose
answer is lost during a mirror's Create. Nothing undeclared stays ACTIVE past the run that
started it; the declared settings are the last to be started; a failed Create leaves nothing
declared or running."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from ivs_realtime_emulator import IvsRealtimeEmulator
from ivs_replication.testing.cloudformation import LocalLambdaContext, custom_resource_event
from ivs_replication.testing.dynamodb import LocalDynamoDB
from ivs_replication_handler import contract as c
from ivs_replication_handler.errors import ReplicationFailedError
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.ivs import IvsRealtime, make_client
from ivs_replication_handler.reconciler import handle_event as reconcile
from ivs_replication_handler.registry import Registry
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.spec import parse_mirror_properties
from tests.edge_hooks import HookedIvs, HookedRegistry
from tests.publishing import published_event
from tests.service_profiles import local_ivs, service_profile

__all__ = ["local_ivs", "service_profile"]  # fixtures: every test here runs under each profile

HOST = "host-1"
_tables = iter(range(10**6))


@pytest.fixture
def registry(dynamodb: LocalDynamoDB) -> HookedRegistry:
    table = dynamodb.create_registry_table(f"mirror-races-{next(_tables)}")
    return HookedRegistry(table, dynamodb.client())


@pytest.fixture
def stages(local_ivs: IvsRealtimeEmulator) -> tuple[str, str]:
    return local_ivs.create_stage("main"), local_ivs.create_stage("audience")


def mirror_props(stages: tuple[str, str], **extra: object) -> dict[str, object]:
    return {
        c.PROP_SOURCE_STAGE_ARN: stages[0],
        c.PROP_DESTINATION_STAGE_ARN: stages[1],
        c.PROP_ATTRIBUTES: {"tier": "old"},
        c.PROP_RECONNECT_WINDOW_SECONDS: 0,
        **extra,
    }


def mirror_request(
    request_type: str,
    properties: Mapping[str, object],
    ivs: IvsRealtime,
    registry: Registry,
    **event: Any,
) -> dict[str, object]:
    cfn_event = custom_resource_event(
        request_type,
        properties,
        logical_id="Mirror",
        resource_type=c.MIRROR_RESOURCE_TYPE,
        **event,
    )
    return handle_event(cfn_event, LocalLambdaContext(timeout_seconds=60), ivs, registry)


def running(local_ivs: IvsRealtimeEmulator) -> list[Any]:
    """Replicas ACTIVE, a Stop answered but not landed yet counted as ended."""
    return [r for r in local_ivs.replicas(state="ACTIVE") if not r.stopping]


def live_host(local_ivs: IvsRealtimeEmulator, source: str) -> None:
    local_ivs.publish(source, HOST)
    local_ivs.clock.advance(local_ivs.profile.publish_propagation_seconds)


def test_a_mirror_deleted_while_the_reconciler_starts_its_publisher_leaves_nothing(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """The reconciler read the mirror; the stack deletes it (withdraw, then stop what it
    made: nothing yet) before the reconciler's Start lands. The reconciler's second read
    finds no mirror and stops what it started."""
    props = mirror_props(stages)
    physical_id = mirror_request("Create", props, IvsRealtime(make_client()), registry)[
        "PhysicalResourceId"
    ]
    live_host(local_ivs, stages[0])
    reconciler_ivs = HookedIvs()
    reconciler_ivs.sleep = local_ivs.clock.advance
    reconciler_ivs.before_start = lambda: mirror_request(
        "Delete", props, IvsRealtime(make_client()), registry, physical_id=physical_id
    )

    report = reconcile(
        published_event(stages[0], HOST), LocalLambdaContext(), reconciler_ivs, registry
    )

    assert report["withdrawn"] == [f"{stages[0]}|{stages[1]}|{HOST}"]
    local_ivs.clock.advance(local_ivs.profile.stop_effect_delay_seconds)
    assert running(local_ivs) == [], "a withdrawn mirror's replication outlived the run"


def test_a_mirror_changed_while_the_reconciler_starts_runs_the_new_settings(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """The reconciler read the old attributes; an Update writes its new declaration (its
    first step) before the reconciler's Start lands: the reconciler's second read restarts
    the replication with the declared settings, so they are the last to be started."""
    old = mirror_props(stages)
    mirror_request("Create", old, IvsRealtime(make_client()), registry)
    live_host(local_ivs, stages[0])
    new = parse_mirror_properties(mirror_props(stages, **{c.PROP_ATTRIBUTES: {"tier": "new"}}))
    reconciler_ivs = HookedIvs()
    reconciler_ivs.sleep = local_ivs.clock.advance
    reconciler_ivs.before_start = lambda: registry.declare(new, "Mirror", _deadline())

    report = reconcile(
        published_event(stages[0], HOST), LocalLambdaContext(), reconciler_ivs, registry
    )
    local_ivs.clock.advance(local_ivs.profile.stop_effect_delay_seconds)

    assert report["started"] == [f"{stages[0]}|{stages[1]}|{HOST}"]
    [replica] = running(local_ivs)
    assert replica.attributes == {"tier": "new"}, "a stale run's settings outlived the Update"


def test_a_lost_start_answer_in_a_mirror_create_leaves_nothing_declared_or_running(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """IVS carried the Start out, its answer was lost: the Create fails, and since no Delete
    follows a failed Create, it stops what it may have started and withdraws the mirror."""
    live_host(local_ivs, stages[0])
    handler_ivs = HookedIvs()
    handler_ivs.sleep = local_ivs.clock.advance
    handler_ivs.lose_start_answer = True

    with pytest.raises(ReplicationFailedError):
        mirror_request("Create", mirror_props(stages), handler_ivs, registry)
    local_ivs.clock.advance(local_ivs.profile.stop_effect_delay_seconds)

    assert running(local_ivs) == []
    assert registry.mirrors_of(stages[0], _deadline()) == []
    report = reconcile({c.SWEEP_INPUT_KEY: True}, LocalLambdaContext(), handler_ivs, registry)
    assert report["started"] == []


def test_deleting_a_mirror_while_an_explicit_create_adopts_its_replica_keeps_it(
    local_ivs: IvsRealtimeEmulator, stages: tuple[str, str], registry: HookedRegistry
) -> None:
    """An explicit ParticipantReplication created while the mirror runs the host declares it
    first; the mirror's Delete then leaves it running (it is the explicit declaration's)."""
    props = mirror_props(stages)
    live_host(local_ivs, stages[0])
    physical_id = mirror_request("Create", props, IvsRealtime(make_client()), registry)[
        "PhysicalResourceId"
    ]
    explicit = {
        c.PROP_SOURCE_STAGE_ARN: stages[0],
        c.PROP_DESTINATION_STAGE_ARN: stages[1],
        c.PROP_PARTICIPANT_ID: HOST,
        c.PROP_ATTRIBUTES: {"tier": "old"},
        c.PROP_RECONNECT_WINDOW_SECONDS: 0,
        c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FOLLOW,
        c.PROP_WAIT_SECONDS: 0,
    }
    handle_event(
        custom_resource_event("Create", explicit, logical_id="Explicit"),
        LocalLambdaContext(timeout_seconds=60),
        IvsRealtime(make_client()),
        registry,
    )

    mirror_request("Delete", props, IvsRealtime(make_client()), registry, physical_id=physical_id)
    local_ivs.clock.advance(local_ivs.profile.stop_effect_delay_seconds)

    assert [r.participant_id for r in running(local_ivs)] == [HOST]


def _deadline() -> Deadline:
    return Deadline(lambda: 60_000)
