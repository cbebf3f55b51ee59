"""LocalDynamoDB: moto's server on a free local port, quiet, with the registry's key schema."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.exceptions import ClientError

from ivs_replication.testing.dynamodb import (
    DEFAULT_REGISTRY_TABLE,
    DynamoDBNotRunningError,
    LocalDynamoDB,
)
from ivs_replication_handler.contract import REGISTRY_PARTITION_KEY, REGISTRY_SORT_KEY

if TYPE_CHECKING:
    from ivs_realtime_emulator import IvsRealtimeEmulator

PUBLISHER = "arn:aws:ivs:us-east-1:123456789012:stage/Source000001|encoder-1"
DESTINATION = "arn:aws:ivs:us-east-1:123456789012:stage/Destination1"


def put_declaration(local_dynamodb: LocalDynamoDB, table: str, destination: str) -> None:
    local_dynamodb.client().put_item(
        TableName=table,
        Item={
            REGISTRY_PARTITION_KEY: {"S": PUBLISHER},
            REGISTRY_SORT_KEY: {"S": destination},
            "ReconnectWindowSeconds": {"N": "30"},
        },
    )


def test_the_registry_table_is_keyed_by_the_shared_constants(
    local_dynamodb: LocalDynamoDB,
) -> None:
    name = local_dynamodb.create_registry_table()

    table = local_dynamodb.client().describe_table(TableName=name)["Table"]
    assert name == DEFAULT_REGISTRY_TABLE
    assert table["KeySchema"] == [
        {"AttributeName": "Publisher", "KeyType": "HASH"},
        {"AttributeName": "DestinationStageArn", "KeyType": "RANGE"},
    ]
    assert table["TableStatus"] == "ACTIVE"


def test_items_come_back_as_plain_python_values(local_dynamodb: LocalDynamoDB) -> None:
    table = local_dynamodb.create_registry_table("registry")
    put_declaration(local_dynamodb, table, DESTINATION)
    put_declaration(local_dynamodb, table, DESTINATION)  # same key: overwritten, not added

    assert local_dynamodb.items(table) == [
        {"Publisher": PUBLISHER, "DestinationStageArn": DESTINATION, "ReconnectWindowSeconds": 30}
    ]


def test_a_default_boto3_client_reaches_it_through_the_fixtures_environment(
    local_dynamodb: LocalDynamoDB,
) -> None:
    table = local_dynamodb.create_registry_table("from-the-environment")

    client = boto3.client("dynamodb")  # nothing given: AWS_ENDPOINT_URL_DYNAMODB decides

    assert client.list_tables()["TableNames"] == [table]
    assert client.meta.endpoint_url == local_dynamodb.endpoint_url


def test_the_endpoint_answers_errors_like_dynamodb(local_dynamodb: LocalDynamoDB) -> None:
    with pytest.raises(ClientError) as raised:
        local_dynamodb.client().get_item(
            TableName="missing", Key={REGISTRY_PARTITION_KEY: {"S": PUBLISHER}}
        )

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_stop_deletes_the_tables_created_meanwhile_so_the_next_instance_starts_empty() -> None:
    with LocalDynamoDB() as first:
        first.create_registry_table("left-behind")
        assert first.tables() == ["left-behind"]

    with LocalDynamoDB() as second:
        assert second.tables() == []


def test_before_start_and_after_stop_there_is_no_endpoint() -> None:
    dynamodb = LocalDynamoDB()
    with pytest.raises(DynamoDBNotRunningError, match=r"start\(\)"):
        _ = dynamodb.endpoint_url

    dynamodb.start()
    dynamodb.start()  # a no-op
    assert dynamodb.endpoint_url.startswith("http://127.0.0.1:")
    dynamodb.stop()
    dynamodb.stop()  # a no-op

    with pytest.raises(DynamoDBNotRunningError):
        _ = dynamodb.endpoint_url


def test_requests_are_not_logged_to_the_terminal(capfd: pytest.CaptureFixture[str]) -> None:
    with LocalDynamoDB() as dynamodb:
        dynamodb.create_registry_table("quiet")
        dynamodb.items("quiet")

    captured = capfd.readouterr()
    assert "POST /" not in captured.out + captured.err
    assert "Starting a new Thread" not in captured.out


def test_the_ivs_endpoint_and_dynamodb_fixtures_work_side_by_side(
    local_ivs: IvsRealtimeEmulator, local_dynamodb: LocalDynamoDB
) -> None:
    assert local_ivs.endpoint_url != local_dynamodb.endpoint_url
    assert boto3.client("ivs-realtime").meta.endpoint_url == local_ivs.endpoint_url
    assert boto3.client("dynamodb").meta.endpoint_url == local_dynamodb.endpoint_url
