"""The registry's DynamoDB requests, checked against botocore's own model by Stubber."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from ivs_replication_handler import contract as c
from ivs_replication_handler.errors import RegistryUnavailableError, ServiceError
from ivs_replication_handler.registry import Registry
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.settings import FunctionSettings
from ivs_replication_handler.spec import ReplicationKey, ReplicationSpec

TABLE = "registry"
SOURCE = "arn:aws:ivs:us-east-1:123456789012:stage/SourceStage01"
DESTINATION = "arn:aws:ivs:us-east-1:123456789012:stage/DestinationStage01"
KEY = ReplicationKey(SOURCE, DESTINATION, "encoder-1")
SPEC = ReplicationSpec(KEY, {"role": "cohost"}, 30, c.MODE_FOLLOW)
ITEM_KEY = {
    "Publisher": {"S": f"{SOURCE}|encoder-1"},
    "DestinationStageArn": {"S": DESTINATION},
}
ITEM = {
    **ITEM_KEY,
    "SourceStageArn": {"S": SOURCE},
    "ParticipantId": {"S": "encoder-1"},
    "Attributes": {"M": {"role": {"S": "cohost"}}},
    "ReconnectWindowSeconds": {"N": "30"},
}


def deadline() -> Deadline:
    return Deadline(lambda: 60_000)


@pytest.fixture
def stubbed() -> Iterator[tuple[Registry, Stubber]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield Registry(TABLE, client=client, sleep=lambda _: None), stubber
        stubber.assert_no_pending_responses()


def test_put_writes_the_whole_declaration(stubbed: tuple[Registry, Stubber]) -> None:
    registry, stubber = stubbed
    stubber.add_response("put_item", {}, {"TableName": TABLE, "Item": ITEM})
    registry.put(SPEC, deadline())


def test_reads_are_consistent_and_round_trip_the_declaration(
    stubbed: tuple[Registry, Stubber],
) -> None:
    registry, stubber = stubbed
    stubber.add_response(
        "get_item",
        {"Item": ITEM},
        {"TableName": TABLE, "Key": ITEM_KEY, "ConsistentRead": True},
    )
    stubber.add_response(
        "query",
        {"Items": [ITEM]},
        {
            "TableName": TABLE,
            "KeyConditionExpression": "#publisher = :publisher",
            "ExpressionAttributeNames": {"#publisher": "Publisher"},
            "ExpressionAttributeValues": {":publisher": {"S": f"{SOURCE}|encoder-1"}},
            "ConsistentRead": True,
        },
    )
    assert registry.declaration(KEY, deadline()) == SPEC
    [spec] = registry.declarations_of(SOURCE, "encoder-1", deadline())
    assert spec == SPEC


def test_a_scan_follows_pages_and_skips_malformed_items(stubbed: tuple[Registry, Stubber]) -> None:
    registry, stubber = stubbed
    broken = {**ITEM, "ReconnectWindowSeconds": {"N": "301"}}
    stubber.add_response(
        "scan", {"Items": [ITEM], "LastEvaluatedKey": ITEM_KEY}, {"TableName": TABLE}
    )
    stubber.add_response(
        "scan", {"Items": [broken]}, {"TableName": TABLE, "ExclusiveStartKey": ITEM_KEY}
    )
    assert list(registry.all_declarations(deadline())) == [SPEC]


def test_throttling_is_retried(stubbed: tuple[Registry, Stubber]) -> None:
    registry, stubber = stubbed
    stubber.add_client_error(
        "put_item", "ProvisionedThroughputExceededException", http_status_code=400
    )
    stubber.add_client_error("put_item", "ThrottlingException", http_status_code=400)
    stubber.add_response("put_item", {}, {"TableName": TABLE, "Item": ITEM})
    registry.put(SPEC, deadline())


def test_a_deleted_table_means_nothing_is_declared(stubbed: tuple[Registry, Stubber]) -> None:
    """While a stack is deleted, the table may go before the last reconciler run."""
    registry, stubber = stubbed
    stubber.add_client_error("delete_item", "ResourceNotFoundException", http_status_code=400)
    stubber.add_client_error("get_item", "ResourceNotFoundException", http_status_code=400)
    stubber.add_client_error("scan", "ResourceNotFoundException", http_status_code=400)
    registry.remove(KEY, deadline())
    assert registry.declaration(KEY, deadline()) is None
    assert list(registry.all_declarations(deadline())) == []


def test_access_denied_is_not_retried(stubbed: tuple[Registry, Stubber]) -> None:
    registry, stubber = stubbed
    stubber.add_client_error("put_item", "AccessDeniedException", http_status_code=400)
    with pytest.raises(ServiceError) as caught:
        registry.put(SPEC, deadline())
    assert caught.value.code == "AccessDeniedException"


def test_without_a_table_follow_mode_fails_clearly_and_withdrawal_is_a_no_op() -> None:
    registry = Registry(None)
    assert registry.table_name is None
    registry.remove(KEY, deadline())  # a fail-mode stack has no table: Delete must still work
    with pytest.raises(RegistryUnavailableError, match=c.ENV_REGISTRY_TABLE):
        registry.put(SPEC, deadline())


def test_the_table_name_is_the_one_the_functions_settings_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Read once, at a cold start, from the function's environment (`FunctionSettings`); a
    registry never reads the process's environment itself."""
    monkeypatch.setenv(c.ENV_REGISTRY_TABLE, "from-env")
    settings = FunctionSettings.from_environment()
    assert settings.registry_table == "from-env"
    assert Registry(settings.registry_table).table_name == "from-env"
    assert Registry().table_name is None
