"""The registry's DynamoDB requests, checked against botocore's own model by Stubber: who
declares a replication (its owners, every mode), what is in force, what the reconciler reads
(follow mode only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ivs_replication_handler import contract as c
from ivs_replication_handler.errors import RegistryUnavailableError, ServiceError
from ivs_replication_handler.registry import NOBODY, Registry, describe_item
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.settings import FunctionSettings
from ivs_replication_handler.spec import MirrorKey, MirrorSpec, ReplicationKey, ReplicationSpec
from tests.edge.conftest import UNREACHABLE_ENDPOINT

TABLE = "registry"
SOURCE = "arn:aws:ivs:us-east-1:123456789012:stage/SourceStage01"
DESTINATION = "arn:aws:ivs:us-east-1:123456789012:stage/DestinationStage01"
KEY = ReplicationKey(SOURCE, DESTINATION, "encoder-1")
SPEC = ReplicationSpec(KEY, {"role": "cohost"}, 30, c.MODE_FOLLOW)
FAIL_SPEC = ReplicationSpec(KEY, {}, 0, c.MODE_FAIL)
ITEM_KEY = {
    "Publisher": {"S": f"{SOURCE}|encoder-1"},
    "DestinationStageArn": {"S": DESTINATION},
}
# An item as a version before owners and modes wrote it (a follow-mode declaration).
ITEM = {
    **ITEM_KEY,
    "SourceStageArn": {"S": SOURCE},
    "ParticipantId": {"S": "encoder-1"},
    "Attributes": {"M": {"role": {"S": "cohost"}}},
    "ReconnectWindowSeconds": {"N": "30"},
}


# The attribute names every write of a declaration's settings uses.
# The request of every read of one publisher's declarations (encoder-1 in SOURCE).
PUBLISHER_QUERY = {
    "TableName": TABLE,
    "KeyConditionExpression": "#publisher = :publisher",
    "ExpressionAttributeNames": {"#publisher": "Publisher"},
    "ExpressionAttributeValues": {":publisher": {"S": f"{SOURCE}|encoder-1"}},
    "ConsistentRead": True,
}
DECLARATION_NAMES = {
    "#attributes": "Attributes",
    "#window": "ReconnectWindowSeconds",
    "#mode": "WhenNotPublishing",
    "#wait": "WaitForPublisherSeconds",
    "#userIds": "UserIds",
}


def declared(spec: ReplicationSpec, at: int) -> dict[str, Any]:
    """An owner's attribute value: its declaration."""
    return {
        "M": {
            "Attributes": {"M": {k: {"S": v} for k, v in spec.attributes.items()}},
            "ReconnectWindowSeconds": {"N": str(spec.reconnect_window_seconds)},
            "WhenNotPublishing": {"S": spec.when_not_publishing},
            "WaitForPublisherSeconds": {"N": str(spec.wait_seconds)},
            "DeclaredAt": {"N": str(at)},
        }
    }


def item_of(**owners: tuple[ReplicationSpec, int]) -> dict[str, Any]:
    """An item declaring SPEC in force, with these owners and version 7."""
    return {
        **ITEM,
        "WhenNotPublishing": {"S": c.MODE_FOLLOW},
        "WaitForPublisherSeconds": {"N": "0"},
        "Version": {"N": "7"},
        **{f"Owner:{name}": declared(spec, at) for name, (spec, at) in owners.items()},
    }


def deadline() -> Deadline:
    return Deadline(lambda: 60_000)


@pytest.fixture
def stubbed() -> Iterator[tuple[Registry, Stubber]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:
        registry = Registry(TABLE, client=client, sleep=lambda _: None)
        assert registry.client is client  # else the requests below would not be stubbed
        yield registry, stubber
        stubber.assert_no_pending_responses()


def expect_removal(
    stubber: Stubber,
    owner: str,
    answer: dict[str, Any] | None,
    item_key: dict[str, Any] = ITEM_KEY,
) -> None:
    """The UpdateItem that removes `owner`; `answer` is the item after it (None: no item)."""
    params = {
        "TableName": TABLE,
        "Key": item_key,
        "UpdateExpression": "REMOVE #owner ADD #version :one",
        "ConditionExpression": "attribute_exists(#publisher)",
        "ExpressionAttributeNames": {
            "#owner": f"Owner:{owner}",
            "#version": "Version",
            "#publisher": "Publisher",
        },
        "ExpressionAttributeValues": {":one": {"N": "1"}},
        "ReturnValues": "ALL_NEW",
    }
    if answer is None:
        stubber.add_client_error(
            "update_item",
            "ConditionalCheckFailedException",
            http_status_code=400,
            expected_params=params,
        )
    else:
        stubber.add_response("update_item", {"Attributes": answer}, params)


def expect_put_in_force(
    stubber: Stubber,
    mode: str,
    *,
    item_key: dict[str, Any] = ITEM_KEY,
    user_ids: list[str] | None = None,
) -> None:
    """The UpdateItem, conditional on version 7, that puts the owner left's declaration in
    force: no attributes, window 0, `mode`, and the mirror's `user_ids` (None: removed)."""
    values: dict[str, Any] = {
        ":attributes": {"M": {}},
        ":window": {"N": "0"},
        ":mode": {"S": mode},
        ":wait": {"N": "0"},
    }
    if user_ids is None:
        user_ids_clause = "REMOVE #userIds"
    else:
        user_ids_clause = ", #userIds = :userIds"
        values[":userIds"] = {"L": [{"S": user_id} for user_id in user_ids]}
    stubber.add_response(
        "update_item",
        {},
        {
            "TableName": TABLE,
            "Key": item_key,
            "UpdateExpression": (
                "SET #attributes = :attributes, #window = :window, #mode = :mode, "
                f"#wait = :wait {user_ids_clause} ADD #version :one"
            ),
            "ConditionExpression": "#version = :version",
            "ExpressionAttributeNames": {
                **DECLARATION_NAMES,
                "#version": "Version",
            },
            "ExpressionAttributeValues": {**values, ":version": {"N": "7"}, ":one": {"N": "1"}},
        },
    )


def test_a_declaration_records_its_owner_and_puts_itself_in_force(
    stubbed: tuple[Registry, Stubber],
) -> None:
    """One write: the declaration in force (what the reconciler reads), the owner's own
    declaration, a new version; the item before it comes back (what was in force)."""
    registry, stubber = stubbed
    stubber.add_response(
        "update_item",
        {"Attributes": item_of(Old=(FAIL_SPEC, 1))},
        {
            "TableName": TABLE,
            "Key": ITEM_KEY,
            "UpdateExpression": (
                "SET #source = :source, #participant = :participant, #attributes = "
                ":attributes, #window = :window, #mode = :mode, #wait = :wait, "
                "#owner = :declared REMOVE #userIds ADD #version :one"
            ),
            "ExpressionAttributeNames": {
                **DECLARATION_NAMES,
                "#source": "SourceStageArn",
                "#participant": "ParticipantId",
                "#owner": "Owner:Replication",
                "#version": "Version",
            },
            "ExpressionAttributeValues": {
                ":attributes": {"M": {"role": {"S": "cohost"}}},
                ":window": {"N": "30"},
                ":mode": {"S": c.MODE_FOLLOW},
                ":wait": {"N": "0"},
                ":source": {"S": SOURCE},
                ":participant": {"S": "encoder-1"},
                ":declared": ANY,
                ":one": {"N": "1"},
            },
            "ReturnValues": "ALL_OLD",
        },
    )

    before = registry.declare(SPEC, "Replication", deadline())

    assert before.owners == {"Old"}
    assert before.in_force == FAIL_SPEC


def test_a_first_declaration_finds_nobody_before_it(stubbed: tuple[Registry, Stubber]) -> None:
    registry, stubber = stubbed
    stubber.add_response("update_item", {}, None)
    assert registry.declare(SPEC, "Replication", deadline()) == NOBODY


def test_withdrawing_the_last_owner_deletes_the_item_unless_it_was_declared_again(
    stubbed: tuple[Registry, Stubber],
) -> None:
    registry, stubber = stubbed
    expect_removal(stubber, "Replication", item_of())
    stubber.add_response(
        "delete_item",
        {},
        {
            "TableName": TABLE,
            "Key": ITEM_KEY,
            "ConditionExpression": "#version = :version",
            "ExpressionAttributeNames": {"#version": "Version"},
            "ExpressionAttributeValues": {":version": {"N": "7"}},
        },
    )
    assert registry.withdraw(KEY, "Replication", deadline()) == NOBODY


def test_a_withdrawal_that_meets_a_new_declaration_leaves_it_declared(
    stubbed: tuple[Registry, Stubber],
) -> None:
    """Another resource declared it between the two writes: the item stays, with it."""
    registry, stubber = stubbed
    expect_removal(stubber, "Replication", item_of())
    stubber.add_client_error("delete_item", "ConditionalCheckFailedException", http_status_code=400)
    expect_removal(stubber, "Replication", item_of(Renamed=(SPEC, 5)))
    left = registry.withdraw(KEY, "Replication", deadline())
    assert left.owners == {"Renamed"}
    assert left.in_force == SPEC


def test_withdrawing_one_of_two_owners_puts_the_other_ones_declaration_in_force(
    stubbed: tuple[Registry, Stubber],
) -> None:
    """A rename's cleanup, or a failed move's rollback: the owner left (here declaring the
    fail mode, no attributes) is what is in force afterwards."""
    registry, stubber = stubbed
    expect_removal(stubber, "New", item_of(Old=(FAIL_SPEC, 3)))
    expect_put_in_force(stubber, c.MODE_FAIL)
    left = registry.withdraw(KEY, "New", deadline())
    assert left.owners == {"Old"}
    assert left.in_force == FAIL_SPEC


def test_the_latest_owner_is_in_force(stubbed: tuple[Registry, Stubber]) -> None:
    registry, stubber = stubbed
    expect_removal(stubber, "Gone", item_of(Older=(FAIL_SPEC, 1), Newer=(SPEC, 2)))
    left = registry.withdraw(KEY, "Gone", deadline())  # SPEC is in force already: one write
    assert left.in_force == SPEC


def test_withdrawing_what_is_not_declared_writes_nothing(
    stubbed: tuple[Registry, Stubber],
) -> None:
    """A replication declared by a version before the registry existed in every mode, or
    withdrawn already (a duplicate Delete): nothing else declares it."""
    registry, stubber = stubbed
    expect_removal(stubber, "Replication", None)
    assert registry.withdraw(KEY, "Replication", deadline()) == NOBODY


def test_an_item_written_before_owners_existed_is_in_force_with_no_owner(
    stubbed: tuple[Registry, Stubber],
) -> None:
    registry, stubber = stubbed
    stubber.add_response(
        "get_item", {"Item": ITEM}, {"TableName": TABLE, "Key": ITEM_KEY, "ConsistentRead": True}
    )
    ownership = registry.ownership(KEY, deadline())
    assert ownership.owners == frozenset()
    assert ownership.in_force == SPEC


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
        PUBLISHER_QUERY,
    )
    assert registry.declaration(KEY, deadline()) == SPEC
    [spec] = registry.declarations_of(SOURCE, "encoder-1", deadline())
    assert spec == SPEC


def test_the_reconciler_reads_follow_mode_declarations_only(
    stubbed: tuple[Registry, Stubber],
) -> None:
    """A replication whose declaration in force is in fail or wait mode is the handler's
    business only: no reconciler run starts it, nor keeps one it started."""
    registry, stubber = stubbed
    failing = {**item_of(Owner=(FAIL_SPEC, 1)), "WhenNotPublishing": {"S": c.MODE_FAIL}}
    stubber.add_response("get_item", {"Item": failing}, None)
    stubber.add_response("query", {"Items": [failing]}, None)
    stubber.add_response("scan", {"Items": [failing, ITEM]}, None)
    assert registry.declaration(KEY, deadline()) is None
    assert registry.declarations_of(SOURCE, "encoder-1", deadline()) == []
    assert list(registry.all_declarations(deadline())) == [SPEC]


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
        "update_item", "ProvisionedThroughputExceededException", http_status_code=400
    )
    stubber.add_client_error("update_item", "ThrottlingException", http_status_code=400)
    stubber.add_response("update_item", {}, None)
    registry.declare(SPEC, "Replication", deadline())


def test_a_deleted_table_means_nothing_is_declared(stubbed: tuple[Registry, Stubber]) -> None:
    """While a stack is deleted, the table may go before the last reconciler run."""
    registry, stubber = stubbed
    stubber.add_client_error("update_item", "ResourceNotFoundException", http_status_code=400)
    stubber.add_client_error("get_item", "ResourceNotFoundException", http_status_code=400)
    stubber.add_client_error("scan", "ResourceNotFoundException", http_status_code=400)
    assert registry.withdraw(KEY, "Replication", deadline()) == NOBODY
    assert registry.declaration(KEY, deadline()) is None
    assert list(registry.all_declarations(deadline())) == []


def test_access_denied_is_not_retried(stubbed: tuple[Registry, Stubber]) -> None:
    registry, stubber = stubbed
    stubber.add_client_error("update_item", "AccessDeniedException", http_status_code=400)
    with pytest.raises(ServiceError) as caught:
        registry.declare(SPEC, "Replication", deadline())
    assert caught.value.code == "AccessDeniedException"


def test_without_a_table_declaring_fails_clearly_and_withdrawing_leaves_nobody() -> None:
    registry = Registry(None)
    assert registry.table_name is None
    # A stack synthesized before the registry existed in every mode: Delete must still work.
    assert registry.withdraw(KEY, "Replication", deadline()) == NOBODY
    with pytest.raises(RegistryUnavailableError) as caught:
        registry.declare(SPEC, "Replication", deadline())
    assert str(caught.value) == (
        f"Follow mode needs the registry table, but {c.ENV_REGISTRY_TABLE} is not set on this "
        "function: synthesize the stack with this version of the construct library, which "
        "sets it, and deploy again."
    )


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


MIRROR_KEY = MirrorKey(SOURCE, DESTINATION)
MIRROR_ITEM_KEY = {"Publisher": {"S": f"{SOURCE}|*"}, "DestinationStageArn": {"S": DESTINATION}}


def mirror_declared(user_ids: list[str], at: int) -> dict[str, Any]:
    """A mirror owner's attribute value: its declaration, with its user ids."""
    return {
        "M": {
            "Attributes": {"M": {}},
            "ReconnectWindowSeconds": {"N": "0"},
            "WhenNotPublishing": {"S": c.MODE_FOLLOW},
            "WaitForPublisherSeconds": {"N": "0"},
            "UserIds": {"L": [{"S": user_id} for user_id in user_ids]},
            "DeclaredAt": {"N": str(at)},
        }
    }


def mirror_item(in_force: list[str], **owners: tuple[list[str], int]) -> dict[str, Any]:
    """A mirror destination's item taking the user ids `in_force`, with these owners."""
    return {
        **MIRROR_ITEM_KEY,
        "SourceStageArn": {"S": SOURCE},
        "ParticipantId": {"S": "*"},
        "Attributes": {"M": {}},
        "ReconnectWindowSeconds": {"N": "0"},
        "WhenNotPublishing": {"S": c.MODE_FOLLOW},
        "WaitForPublisherSeconds": {"N": "0"},
        "UserIds": {"L": [{"S": user_id} for user_id in in_force]},
        "Version": {"N": "7"},
        **{f"Owner:{name}": mirror_declared(ids, at) for name, (ids, at) in owners.items()},
    }


def _declare(registry: Registry) -> object:
    return registry.declare(SPEC, "Replication", deadline())


def _withdraw(registry: Registry) -> object:
    return registry.withdraw(KEY, "Gone", deadline())


def _ownership(registry: Registry) -> object:
    return registry.ownership(KEY, deadline())


def _declarations_of(registry: Registry) -> object:
    return registry.declarations_of(SOURCE, "encoder-1", deadline())


def _all_declarations(registry: Registry) -> object:
    return list(registry.all_declarations(deadline()))


@pytest.mark.parametrize(
    ("answers_before", "refused", "call", "operation"),
    [
        ([], "update_item", _declare, "UpdateItem"),
        ([], "update_item", _withdraw, "UpdateItem"),
        ([item_of()], "delete_item", _withdraw, "DeleteItem"),
        ([item_of(Old=(FAIL_SPEC, 1))], "update_item", _withdraw, "UpdateItem"),
        ([], "get_item", _ownership, "GetItem"),
        ([], "query", _declarations_of, "Query"),
        ([], "scan", _all_declarations, "Scan"),
    ],
    ids=[
        "declare",
        "withdraw-removal",
        "withdraw-last-owner",
        "withdraw-one-of-two",
        "read",
        "query",
        "scan",
    ],
)
def test_a_refused_registry_call_names_the_dynamodb_operation_refused(
    stubbed: tuple[Registry, Stubber],
    answers_before: list[dict[str, Any]],
    refused: str,
    call: Any,
    operation: str,
) -> None:
    """The operator reads which request was refused (and so which permission or table to
    look at) in the Reason: the error names DynamoDB's own operation."""
    registry, stubber = stubbed
    for answer in answers_before:
        stubber.add_response("update_item", {"Attributes": answer}, None)
    stubber.add_client_error(refused, "AccessDeniedException", http_status_code=400)
    with pytest.raises(ServiceError) as caught:
        call(registry)
    assert (caught.value.operation, caught.value.code) == (operation, "AccessDeniedException")


def test_a_withdrawal_whose_table_is_deleted_between_its_writes_ends_at_once(
    stubbed: tuple[Registry, Stubber],
) -> None:
    """A deleted table declares nothing: the withdrawal is done, with no further request."""
    registry, stubber = stubbed
    expect_removal(stubber, "Replication", item_of())
    stubber.add_client_error("delete_item", "ResourceNotFoundException", http_status_code=400)
    assert registry.withdraw(KEY, "Replication", deadline()) == NOBODY


def test_a_withdrawal_that_meets_a_declaration_before_putting_the_other_owner_in_force_keeps_it(
    stubbed: tuple[Registry, Stubber],
) -> None:
    """Another resource declared it between the withdrawal's two writes: its declaration stays
    in force (the conditional write loses), and the withdrawal reports both owners left."""
    registry, stubber = stubbed
    expect_removal(stubber, "Gone", item_of(Old=(FAIL_SPEC, 1)))
    stubber.add_client_error("update_item", "ConditionalCheckFailedException", http_status_code=400)
    expect_removal(stubber, "Gone", item_of(Old=(FAIL_SPEC, 1), Newer=(SPEC, 9)))
    left = registry.withdraw(KEY, "Gone", deadline())
    assert left.owners == {"Old", "Newer"}
    assert left.in_force == SPEC


def test_withdrawing_a_mirror_owner_puts_the_other_owners_user_ids_in_force(
    stubbed: tuple[Registry, Stubber],
) -> None:
    """A renamed StageMirror's cleanup: the publishers it takes are the remaining owner's."""
    registry, stubber = stubbed
    expect_removal(stubber, "New", mirror_item(["guest"], Old=(["host"], 1)), MIRROR_ITEM_KEY)
    expect_put_in_force(stubber, c.MODE_FOLLOW, item_key=MIRROR_ITEM_KEY, user_ids=["host"])
    left = registry.withdraw(MIRROR_KEY, "New", deadline())
    assert left.in_force == MirrorSpec(MIRROR_KEY, ("host",))


def test_an_explicit_declaration_in_any_mode_wins_over_the_mirror_without_reading_it(
    stubbed: tuple[Registry, Stubber],
) -> None:
    registry, stubber = stubbed
    failing = {**item_of(Owner=(FAIL_SPEC, 1)), "WhenNotPublishing": {"S": c.MODE_FAIL}}
    stubber.add_response(
        "get_item", {"Item": failing}, {"TableName": TABLE, "Key": ITEM_KEY, "ConsistentRead": True}
    )
    assert registry.in_force_for(KEY, "guest", deadline()) == FAIL_SPEC


def test_the_destinations_a_publisher_is_declared_into_count_every_mode(
    stubbed: tuple[Registry, Stubber],
) -> None:
    """A mirror leaves to an explicit declaration what it names, in fail and wait mode too."""
    registry, stubber = stubbed
    failing = {**item_of(Owner=(FAIL_SPEC, 1)), "WhenNotPublishing": {"S": c.MODE_FAIL}}
    stubber.add_response(
        "query",
        {"Items": [failing]},
        PUBLISHER_QUERY,
    )
    assert registry.declared_destinations(SOURCE, "encoder-1", deadline()) == {DESTINATION}


def test_a_query_follows_pages(stubbed: tuple[Registry, Stubber]) -> None:
    """A publisher declared into more destinations than one page holds: every one is read."""
    registry, stubber = stubbed
    other = {**ITEM, "DestinationStageArn": {"S": DESTINATION + "2"}}
    stubber.add_response("query", {"Items": [ITEM], "LastEvaluatedKey": ITEM_KEY}, PUBLISHER_QUERY)
    stubber.add_response(
        "query", {"Items": [other]}, {**PUBLISHER_QUERY, "ExclusiveStartKey": ITEM_KEY}
    )
    destinations = registry.declarations_of(SOURCE, "encoder-1", deadline())
    assert [spec.key.destination_stage_arn for spec in destinations] == [
        DESTINATION,
        DESTINATION + "2",
    ]


@pytest.mark.parametrize("item", [ITEM, mirror_item(["host"])], ids=["replication", "mirror"])
def test_a_malformed_item_is_skipped_with_a_warning_naming_the_problem(
    stubbed: tuple[Registry, Stubber], read_logs: Any, item: dict[str, Any]
) -> None:
    registry, stubber = stubbed
    read_logs()
    broken = {**item, "ReconnectWindowSeconds": {"N": "301"}}
    stubber.add_response("scan", {"Items": [broken]}, None)
    assert list(registry.all_declarations(deadline())) == []
    [warning] = [line for line in read_logs() if line["level"] == "WARNING"]
    assert warning["message"] == "Skipping a malformed registry item"
    assert warning["problem"].startswith("InvalidPropertyError(")
    assert "ReconnectWindowSeconds" in warning["problem"]


def test_an_item_is_described_as_its_key_is_typed_in_the_console() -> None:
    assert describe_item(KEY) == (
        f"Publisher '{SOURCE}|encoder-1', DestinationStageArn '{DESTINATION}'"
    )


def test_a_withdrawal_that_keeps_meeting_new_declarations_gives_up_after_three_attempts(
    stubbed: tuple[Registry, Stubber],
) -> None:
    """Declared again between its two writes, three times over: the withdrawal fails (so the
    Delete fails and CloudFormation retries it) rather than deleting a fresh declaration."""
    registry, stubber = stubbed
    for _ in range(3):
        expect_removal(stubber, "Replication", item_of())
        stubber.add_client_error(
            "delete_item", "ConditionalCheckFailedException", http_status_code=400
        )
    with pytest.raises(ServiceError) as caught:
        registry.withdraw(KEY, "Replication", deadline())
    assert (caught.value.operation, caught.value.code, caught.value.status) == (
        "DeleteItem",
        "ConditionalCheckFailedException",
        400,
    )
    assert caught.value.message == (
        f"the declaration of {KEY.physical_id()} kept changing while it was withdrawn"
    )


def test_a_page_without_items_reads_as_none(stubbed: tuple[Registry, Stubber]) -> None:
    """botocore's model makes `Items` optional in a Query's and a Scan's answer."""
    registry, stubber = stubbed
    stubber.add_response("scan", {"Count": 0}, None)
    stubber.add_response("query", {"Count": 0}, None)
    assert list(registry.all_declarations(deadline())) == []
    assert registry.declarations_of(SOURCE, "encoder-1", deadline()) == []


def test_an_owner_written_by_hand_without_its_declaration_or_time_declares_the_items(
    stubbed: tuple[Registry, Stubber],
) -> None:
    """An operator's hand edit of the table: an owner entry that is not a map, or a map with
    no settings and no time, owns the item's declaration in force and counts as the oldest."""
    registry, stubber = stubbed
    item = {
        **item_of(Newer=(FAIL_SPEC, 5)),
        "Owner:Bare": {"S": "added by hand"},
        "Owner:Empty": {"M": {}},
    }
    stubber.add_response("get_item", {"Item": item}, None)
    ownership = registry.ownership(KEY, deadline())
    assert ownership.declarations == {"Newer": FAIL_SPEC, "Bare": SPEC, "Empty": SPEC}
    assert ownership.in_force == FAIL_SPEC


@pytest.mark.parametrize(
    "attributes", [{"Attributes": {"NULL": True}}, {}], ids=["not-a-map", "absent"]
)
def test_an_item_whose_attributes_are_blanked_or_removed_declares_no_attributes(
    stubbed: tuple[Registry, Stubber], attributes: dict[str, Any]
) -> None:
    """A hand edit that blanked the attributes (DynamoDB's NULL) or removed them: read as
    none, not skipped."""
    registry, stubber = stubbed
    item = {name: value for name, value in ITEM.items() if name != "Attributes"}
    stubber.add_response("get_item", {"Item": {**item, **attributes}}, None)
    assert registry.declaration(KEY, deadline()) == ReplicationSpec(KEY, {}, 30, c.MODE_FOLLOW)


def test_a_client_built_in_a_test_is_refused_locally_rather_than_sent_to_aws() -> None:
    """The suite's guard: the endpoint of any client not redirected is a closed local port."""
    client = Registry(TABLE).client
    assert client.meta.endpoint_url == UNREACHABLE_ENDPOINT


def test_a_registry_with_a_short_attempt_budget_still_reads_with_little_time_left() -> None:
    """An attempt's budget is the registry's own (what its caller keeps back for an undo), not
    the default connect-plus-read timeout: 5 s left is enough for a 1 s attempt."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    registry = Registry(TABLE, client=client, sleep=lambda _: None, attempt_budget_seconds=1.0)
    with Stubber(client) as stubber:
        stubber.add_response("get_item", {"Item": ITEM}, None)
        five_seconds_left = Deadline(lambda: 5_000, margin_seconds=0.0)
        assert registry.ownership(KEY, five_seconds_left).in_force == SPEC
