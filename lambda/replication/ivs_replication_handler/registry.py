"""The registry of declarations: the other AWS edge (DynamoDB).

One item per declared replication, keyed by publisher ("<source ARN>|<participant id>") and
destination stage ARN. It records who declares it - each resource of the stack (its logical
id) with its declaration (`Owner:<logical id>`), whatever its mode - and the declaration in
force: the latest owner's (top-level attributes, mode included). Two things read it:

- ownership (every mode): one replication may be declared by more than one resource at once.
  A construct renamed or moved gets a new logical id with the same physical id: CloudFormation
  creates the new resource (which records itself as an owner and adopts what runs), then
  deletes the old one (which withdraws itself: others still own it, so nothing stops); a failed
  move's rollback deletes the new one the same way. A Delete stops the replication only when
  it withdraws the last owner. An item without owners was written by a version before owners
  (or by an owner that has withdrawn): nothing else declares it.
- follow mode: the reconciler starts the replications in force in follow mode
  (`declaration`, `declarations_of`, `all_declarations` read only those).

The protocol between the custom-resource handler (H) and reconciler runs (R), which may run
concurrently with H and with each other, and whose answers from IVS or DynamoDB may be lost
after the service acted:

1. H records its declaration *before* it starts a replication, and withdraws it *before* it
   stops one (Delete: withdraw, then Stop if no owner is left). A Create whose write fails
   (even one applied but unanswered) withdraws again, in time kept back for that, before it
   fails: no Delete follows a failed Create, and a leftover owner would keep it declared. Any
   other failed Create withdraws too, and then, like a Delete, stops the replication if it runs
   and no owner is left (an R may have started it while it was declared, and kept it).
2. R reads the follow-mode declarations (consistently), Starts those not ACTIVE, and after
   *every* Start that may have started something - including one whose answer was lost until
   R's deadline, for which R keeps time back - reads the item again, consistently:
   - no follow-mode declaration: H's withdrawal (and so H's Stop) may have come before R's
     Start took effect, so R stops what it started;
   - present with other settings than R started with (an in-place Update wrote new ones
     after R's first read): R stops and starts again with the item's settings, so the
     declared settings are the last to be started;
   - unreadable: R cannot tell, so it stops what it started (an undeclared replication must
     not outlive the run) *and fails the run*, so Lambda retries it and the retry starts the
     replication if it is still declared.
3. H's in-place restart (Stop, then Start) that finds the replication ACTIVE after its Stop
   showed met an R that read the old settings: H stops and starts again instead of adopting it.

If R's second read sees the declaration, H's withdrawal comes later, and H's Stop after it ends
what R started; if not, R's own Stop does. Either way nothing undeclared stays ACTIVE past the
run that started it, and whatever R cannot finish makes the run fail.

The client is created on first use, so ``AWS_ENDPOINT_URL_DYNAMODB`` redirects it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger

from . import aws
from . import contract as c
from .errors import InvalidPropertyError, RegistryUnavailableError, ServiceError
from .retries import Deadline
from .spec import ReplicationKey, ReplicationSpec, parse_properties

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = Logger(service=c.LOGGER_SERVICE, child=True)

T = TypeVar("T")

_TABLE_GONE = "ResourceNotFoundException"
_CONDITION_FAILED = "ConditionalCheckFailedException"
# An owner's attribute: its logical id after this prefix (a logical id is alphanumeric).
OWNER_PREFIX = "Owner:"
_VERSION = "Version"
_DECLARED_AT = "DeclaredAt"
# A withdrawal retries when a declaration lands between its two writes, at most this often.
_WITHDRAW_ATTEMPTS = 3


@dataclass(frozen=True)
class Ownership:
    """Who declares one replication: each owner (a resource's logical id) with its
    declaration, and the declaration in force (the latest owner's; for an item written before
    owners were recorded, its only declaration, with no owner)."""

    declarations: Mapping[str, ReplicationSpec] = field(default_factory=dict)
    in_force: ReplicationSpec | None = None

    @property
    def owners(self) -> frozenset[str]:
        return frozenset(self.declarations)


NOBODY = Ownership()


def publisher_key(source_stage_arn: str, participant_id: str) -> str:
    """The registry's partition key: one publisher (a participant in a source stage)."""
    return f"{source_stage_arn}|{participant_id}"


def item_key(key: ReplicationKey) -> dict[str, Any]:
    """The registry item's key of one replication, in DynamoDB's attribute-value form."""
    return {
        c.REGISTRY_PARTITION_KEY: {"S": publisher_key(key.source_stage_arn, key.participant_id)},
        c.REGISTRY_SORT_KEY: {"S": key.destination_stage_arn},
    }


def describe_item(key: ReplicationKey) -> str:
    """The item's key as a person types it into the console or the CLI."""
    return ", ".join(f"{name} '{value['S']}'" for name, value in item_key(key).items())


class Registry:
    """Reads and writes declarations; every call retries transient errors until the deadline.

    ``table_name``: the table the stack's provider names in the functions' environment
    (``IVS_REPLICATION_REGISTRY_TABLE``, read once by `settings.FunctionSettings`); None for a
    stack without one (follow mode is then refused with RegistryUnavailableError, and a
    withdrawal is a no-op).
    """

    def __init__(
        self,
        table_name: str | None = None,
        client: DynamoDBClient | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempt_budget_seconds: float = aws.ATTEMPT_BUDGET_SECONDS,
    ) -> None:
        self._table_name = table_name
        self._client = client
        self._sleep = sleep
        self._attempt_budget = attempt_budget_seconds

    @property
    def attempt_budget_seconds(self) -> float:
        """The time one attempt may take: what a caller keeps back for an undo."""
        return self._attempt_budget

    @property
    def table_name(self) -> str | None:
        return self._table_name or None

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = cast("DynamoDBClient", aws.new_client("dynamodb", aws.client_config()))
        return self._client

    # --- the custom-resource handler's side ----------------------------------------------

    def declare(self, spec: ReplicationSpec, owner: str, deadline: Deadline) -> Ownership:
        """Record that resource `owner` declares `spec` (in any mode), which is now the
        declaration in force; return the ownership before this write (NOBODY when nothing was
        recorded)."""
        table = self._require_table()
        declared = _declaration_value(spec, declared_at=time.time_ns())
        answer = self._call(
            "UpdateItem",
            lambda: self.client.update_item(
                TableName=table,
                Key=item_key(spec.key),
                UpdateExpression=(
                    "SET #source = :source, #participant = :participant, #attributes = "
                    ":attributes, #window = :window, #mode = :mode, #wait = :wait, "
                    "#owner = :declared ADD #version :one"
                ),
                ExpressionAttributeNames={
                    **_DECLARATION_NAMES,
                    "#source": c.PROP_SOURCE_STAGE_ARN,
                    "#participant": c.PROP_PARTICIPANT_ID,
                    "#owner": OWNER_PREFIX + owner,
                    "#version": _VERSION,
                },
                ExpressionAttributeValues={
                    **_declaration_values(spec),
                    ":source": {"S": spec.key.source_stage_arn},
                    ":participant": {"S": spec.key.participant_id},
                    ":declared": declared,
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_OLD",
            ),
            deadline,
        )
        before = answer.get("Attributes")
        return NOBODY if not before else _ownership_of(before)

    def withdraw(self, key: ReplicationKey, owner: str, deadline: Deadline) -> Ownership:
        """Withdraw resource `owner`'s declaration of `key`; return who still declares it
        (NOBODY: nothing does, and the item is gone). When owners are left, the latest one's
        declaration is put in force. Withdrawing from a stack without a table, or a deleted
        one, or what is not declared, leaves NOBODY."""
        table = self.table_name
        if table is None:
            return NOBODY
        for _ in range(_WITHDRAW_ATTEMPTS):
            item = self._remove_owner(table, key, owner, deadline)
            if item is None:
                return NOBODY
            left = _ownership_of(item)
            version = item[_VERSION]
            if not left.owners:
                if self._delete_unless_changed(table, key, version, deadline):
                    return NOBODY
                continue  # declared again meanwhile: look once more
            if left.in_force is None or self._put_in_force(
                table, left.in_force, version, item, deadline
            ):
                return left
        raise ServiceError(
            "DeleteItem",
            _CONDITION_FAILED,
            400,
            f"the declaration of {key.physical_id()} kept changing while it was withdrawn",
        )

    def ownership(self, key: ReplicationKey, deadline: Deadline) -> Ownership:
        """Who declares `key` now (a consistent read); NOBODY when nothing is recorded or the
        table is gone. Raises ServiceError or DeadlineExceededError when it cannot be read."""
        item = self._item(key, deadline)
        return NOBODY if item is None else _ownership_of(item)

    def _remove_owner(
        self, table: str, key: ReplicationKey, owner: str, deadline: Deadline
    ) -> Mapping[str, Any] | None:
        """The item once `owner` is removed from it; None when there is no item."""
        try:
            answer = self._call(
                "UpdateItem",
                lambda: self.client.update_item(
                    TableName=table,
                    Key=item_key(key),
                    UpdateExpression="REMOVE #owner ADD #version :one",
                    ConditionExpression="attribute_exists(#publisher)",
                    ExpressionAttributeNames={
                        "#owner": OWNER_PREFIX + owner,
                        "#version": _VERSION,
                        "#publisher": c.REGISTRY_PARTITION_KEY,
                    },
                    ExpressionAttributeValues={":one": {"N": "1"}},
                    ReturnValues="ALL_NEW",
                ),
                deadline,
            )
        except ServiceError as error:
            if error.code in (_CONDITION_FAILED, _TABLE_GONE):
                return None
            raise
        return answer.get("Attributes")

    def _delete_unless_changed(
        self, table: str, key: ReplicationKey, version: Mapping[str, Any], deadline: Deadline
    ) -> bool:
        """Delete the item unless it was written since `version`; whether it was deleted."""
        try:
            self._call(
                "DeleteItem",
                lambda: self.client.delete_item(
                    TableName=table,
                    Key=item_key(key),
                    ConditionExpression="#version = :version",
                    ExpressionAttributeNames={"#version": _VERSION},
                    ExpressionAttributeValues={":version": dict(version)},
                ),
                deadline,
            )
        except ServiceError as error:
            if error.code == _TABLE_GONE:
                return True
            if error.code == _CONDITION_FAILED:
                return False
            raise
        return True

    def _put_in_force(
        self,
        table: str,
        spec: ReplicationSpec,
        version: Mapping[str, Any],
        item: Mapping[str, Any],
        deadline: Deadline,
    ) -> bool:
        """Put `spec` in force unless the item was written since `version`; whether it holds."""
        if _spec_of(item) == spec:
            return True
        try:
            self._call(
                "UpdateItem",
                lambda: self.client.update_item(
                    TableName=table,
                    Key=item_key(spec.key),
                    UpdateExpression=(
                        "SET #attributes = :attributes, #window = :window, #mode = :mode, "
                        "#wait = :wait ADD #version :one"
                    ),
                    ConditionExpression="#version = :version",
                    ExpressionAttributeNames={**_DECLARATION_NAMES, "#version": _VERSION},
                    ExpressionAttributeValues={
                        **_declaration_values(spec),
                        ":version": dict(version),
                        ":one": {"N": "1"},
                    },
                ),
                deadline,
            )
        except ServiceError as error:
            if error.code == _CONDITION_FAILED:
                return False
            raise
        return True

    # --- the reconciler's side -----------------------------------------------------------

    def declaration(self, key: ReplicationKey, deadline: Deadline) -> ReplicationSpec | None:
        """The follow-mode declaration in force for `key` now, with its settings (a consistent
        read), or None (nothing declared, or declared in another mode).

        Raises ServiceError or DeadlineExceededError when the table cannot be read; a deleted
        table declares nothing.
        """
        item = self._item(key, deadline)
        spec = None if item is None else _spec_of(item)
        return spec if spec is not None and spec.follows else None

    def declarations_of(
        self, source_stage_arn: str, participant_id: str, deadline: Deadline
    ) -> list[ReplicationSpec]:
        """Every follow-mode declaration in force whose publisher is this participant in this
        stage."""
        table = self._require_table()
        publisher = publisher_key(source_stage_arn, participant_id)
        return list(
            self._pages(
                "Query",
                lambda start: self.client.query(
                    TableName=table,
                    KeyConditionExpression="#publisher = :publisher",
                    ExpressionAttributeNames={"#publisher": c.REGISTRY_PARTITION_KEY},
                    ExpressionAttributeValues={":publisher": {"S": publisher}},
                    ConsistentRead=True,
                    **start,
                ),
                deadline,
            )
        )

    def all_declarations(self, deadline: Deadline) -> Iterator[ReplicationSpec]:
        """Every follow-mode declaration in force of the stack, page by page (the sweep's
        input)."""
        table = self._require_table()
        return self._pages(
            "Scan", lambda start: self.client.scan(TableName=table, **start), deadline
        )

    # --- helpers ---------------------------------------------------------------------------

    def _pages(
        self,
        operation: str,
        fetch: Callable[[dict[str, Any]], Mapping[str, Any]],
        deadline: Deadline,
    ) -> Iterator[ReplicationSpec]:
        start: dict[str, Any] = {}
        while True:
            try:
                page = self._call(operation, functools.partial(fetch, start), deadline)
            except ServiceError as error:
                if error.code == _TABLE_GONE:
                    return  # the stack is being deleted: nothing is declared any more
                raise
            for item in page.get("Items", []):
                spec = _spec_of(item)
                if spec is not None and spec.follows:
                    yield spec
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            start = {"ExclusiveStartKey": last}

    def _item(self, key: ReplicationKey, deadline: Deadline) -> Mapping[str, Any] | None:
        table = self._require_table()
        try:
            response = self._call(
                "GetItem",
                lambda: self.client.get_item(
                    TableName=table, Key=item_key(key), ConsistentRead=True
                ),
                deadline,
            )
        except ServiceError as error:
            if error.code == _TABLE_GONE:
                return None
            raise
        item: Mapping[str, Any] | None = response.get("Item")
        return item

    def _require_table(self) -> str:
        table = self.table_name
        if table is None:
            raise RegistryUnavailableError(
                f"Follow mode needs the registry table, but {c.ENV_REGISTRY_TABLE} is not set "
                "on this function: synthesize the stack with this version of the construct "
                "library, which sets it, and deploy again."
            )
        return table

    def _call(self, operation: str, send: Callable[[], T], deadline: Deadline) -> T:
        return aws.call(
            operation,
            send,
            deadline,
            sleep=self._sleep,
            attempt_budget_seconds=self._attempt_budget,
        )


_DECLARATION_NAMES = {
    "#attributes": c.PROP_ATTRIBUTES,
    "#window": c.PROP_RECONNECT_WINDOW_SECONDS,
    "#mode": c.PROP_WHEN_NOT_PUBLISHING,
    "#wait": c.PROP_WAIT_SECONDS,
}


def _declaration_values(spec: ReplicationSpec) -> dict[str, Any]:
    """The values of `_DECLARATION_NAMES` for `spec`."""
    return {
        f":{name[1:]}": value
        for name, value in zip(_DECLARATION_NAMES, _settings_values(spec), strict=True)
    }


def _settings_values(spec: ReplicationSpec) -> tuple[dict[str, Any], ...]:
    return (
        {"M": {k: {"S": v} for k, v in spec.attributes.items()}},
        {"N": str(spec.reconnect_window_seconds)},
        {"S": spec.when_not_publishing},
        {"N": str(spec.wait_seconds)},
    )


def _declaration_value(spec: ReplicationSpec, *, declared_at: int) -> dict[str, Any]:
    """One owner's declaration, as its item attribute."""
    names = _DECLARATION_NAMES.values()
    return {
        "M": {
            **dict(zip(names, _settings_values(spec), strict=True)),
            _DECLARED_AT: {"N": str(declared_at)},
        }
    }


def _ownership_of(item: Mapping[str, Any]) -> Ownership:
    """Who an item says declares its replication (owners whose declaration does not parse are
    left out); the declaration in force is the latest owner's, or the item's own when it
    records no owner."""
    declarations: dict[str, ReplicationSpec] = {}
    declared_at: dict[str, int] = {}
    for name, value in item.items():
        if not name.startswith(OWNER_PREFIX):
            continue
        fields = value.get("M", {})
        spec = _spec_of({**item, **fields})
        if spec is not None:
            owner = name[len(OWNER_PREFIX) :]
            declarations[owner] = spec
            declared_at[owner] = int(fields.get(_DECLARED_AT, {}).get("N", "0"))
    if not declarations:
        return Ownership(in_force=_spec_of(item))
    latest = max(declarations, key=lambda owner: (declared_at[owner], owner))
    return Ownership(declarations, declarations[latest])


def _spec_of(item: Mapping[str, Any]) -> ReplicationSpec | None:
    """The declaration an item holds (an item written before modes were recorded holds a
    follow-mode one), validated like properties; a malformed item is skipped."""
    try:
        return parse_properties(
            {
                c.PROP_SOURCE_STAGE_ARN: item[c.PROP_SOURCE_STAGE_ARN]["S"],
                c.PROP_DESTINATION_STAGE_ARN: item[c.REGISTRY_SORT_KEY]["S"],
                c.PROP_PARTICIPANT_ID: item[c.PROP_PARTICIPANT_ID]["S"],
                c.PROP_ATTRIBUTES: {
                    k: v.get("S") for k, v in item.get(c.PROP_ATTRIBUTES, {}).get("M", {}).items()
                },
                c.PROP_RECONNECT_WINDOW_SECONDS: item[c.PROP_RECONNECT_WINDOW_SECONDS]["N"],
                c.PROP_WHEN_NOT_PUBLISHING: item.get(c.PROP_WHEN_NOT_PUBLISHING, {}).get(
                    "S", c.MODE_FOLLOW
                ),
                c.PROP_WAIT_SECONDS: item.get(c.PROP_WAIT_SECONDS, {}).get("N"),
            }
        )
    except (KeyError, TypeError, AttributeError, InvalidPropertyError) as error:
        logger.warning("Skipping a malformed registry item", extra={"problem": repr(error)})
        return None
