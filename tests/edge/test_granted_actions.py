"""Every AWS call the functions make is one the construct grants them: the handler's and the
reconciler's calls, recorded at their botocore clients through a follow-mode life (create,
in-place update, rename, events, sweep, delete), stay within `contract`'s action lists, which
the construct's tests hold equal to the template's policies. A call missing from a list fails
in production only (the local endpoints enforce no IAM)."""

from __future__ import annotations

from typing import Any

from ivs_replication.testing.cloudformation import LocalLambdaContext, custom_resource_event
from ivs_replication.testing.dynamodb import LocalDynamoDB, local_client
from ivs_replication_handler import contract as c
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.ivs import IvsRealtime, make_client
from ivs_replication_handler.reconciler import handle_event as reconcile
from ivs_replication_handler.registry import Registry
from tests.edge.follow_world import FollowWorld


def recording(client: Any, service: str, into: set[str]) -> Any:
    """`client`, recording each operation it sends as an IAM action (`service:Operation`)."""

    def record(model: Any, **_: Any) -> None:
        into.add(f"{service}:{model.name}")

    client.meta.events.register("before-parameter-build", record)
    return client


def test_the_functions_call_only_what_they_are_granted(
    world: FollowWorld, dynamodb: LocalDynamoDB
) -> None:
    handler_calls: set[str] = set()
    reconciler_calls: set[str] = set()
    table = world.registry.table_name

    def registry_client(calls: set[str]) -> Any:
        return recording(local_client("dynamodb", dynamodb.endpoint_url), "dynamodb", calls)

    handler_registry = Registry(table, client=registry_client(handler_calls))
    reconciler_registry = Registry(table, client=registry_client(reconciler_calls))
    handler_ivs = IvsRealtime(recording(make_client(), "ivs", handler_calls))
    reconciler_ivs = IvsRealtime(recording(make_client(), "ivs", reconciler_calls))
    main, side = world.stage("main"), world.stage("side")
    props = world.props(main, side)

    def request(kind: str, logical_id: str, **event: Any) -> str:
        answer = handle_event(
            custom_resource_event(kind, logical_id=logical_id, **event),  # type: ignore[arg-type]
            LocalLambdaContext(),
            handler_ivs,
            handler_registry,
        )
        return str(answer["PhysicalResourceId"])

    physical_id = request("Create", "Old", properties=props)
    world.ivs_endpoint.publish(main, "encoder-1")
    for event in world.events:
        reconcile(event, LocalLambdaContext(), reconciler_ivs, reconciler_registry)
    new = {**props, c.PROP_ATTRIBUTES: {"role": "cohost"}}
    request("Update", "Old", properties=new, old_properties=props, physical_id=physical_id)
    request("Create", "Renamed", properties=new)
    request("Delete", "Old", properties=new, physical_id=physical_id)
    reconcile({c.SWEEP_INPUT_KEY: True}, LocalLambdaContext(), reconciler_ivs, reconciler_registry)
    request("Delete", "Renamed", properties=new, physical_id=physical_id)

    granted_to_handler = {*c.IAM_ACTIONS, *c.REGISTRY_HANDLER_ACTIONS}
    assert handler_calls <= granted_to_handler, handler_calls - granted_to_handler
    assert {"dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= handler_calls
    granted_to_reconciler = {*c.IAM_ACTIONS, *c.REGISTRY_RECONCILER_ACTIONS}
    assert reconciler_calls <= granted_to_reconciler, reconciler_calls - granted_to_reconciler
    assert {"dynamodb:Query", "dynamodb:Scan", "ivs:StartParticipantReplication"} <= (
        reconciler_calls
    )
