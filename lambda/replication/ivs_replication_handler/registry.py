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
- mirrors: a StageMirror's destination is an item like a replication of every publisher
  (participant id "*", `spec.EVERY_PUBLISHER`: "<source ARN>|*" and the destination), with its
  optional user ids, owned the same way; it is always in follow mode. The reconciler reads
  the mirrors of a source stage (`mirrors_of`) beside its publisher's declarations, and a
  replication an explicit declaration names (in any mode) is that declaration's, never the
  mirror's (`declared_destinations`, `in_force_for`).

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
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from aws_lambda_powertools import Logger

from . import aws
from . import contract as c
from .errors import InvalidPropertyError, RegistryUnavailableError, ServiceError
from .retries import Deadline
from .spec import (
    EVERY_PUBLISHER,
    MirrorKey,
    MirrorSpec,
    ReplicationKey,
    ReplicationSpec,
    parse_mirror_properties,
    parse_properties,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = Logger(service=c.LOGGER_SERVICE, child=True)

T = TypeVar("T")
# What one item declares: a replication, or a mirror destination (every publisher).
Declaration = ReplicationSpec | MirrorSpec
D = TypeVar("D", bound=ReplicationSpec | MirrorSpec)
DeclarationKey = ReplicationKey | MirrorKey

_TABLE_GONE = "ResourceNotFoundException"
_CONDITION_FAILED = "ConditionalCheckFailedException"
# An owner's attribute: its logical id after this prefix (a logical id is alphanumeric).
OWNER_PREFIX = "Owner:"
_VERSION = "Version"
_DECLARED_AT = "DeclaredAt"
# A withdrawal retries when a declaration lands between its two writes, at most this often.
_WITHDRAW_ATTEMPTS = 3


@dataclass(frozen=True)
class Ownership(Generic[D]):
    """Who declares one replication (or mirror destination): each owner (a resource's logical
    id) with its declaration, and the declaration in force (the latest owner's; for an item
    written before owners were recorded, its only declaration, with no owner)."""

    declarations: Mapping[str, D] = field(default_factory=dict)
    in_force: D | None = None

    @property
    def owners(self) -> frozenset[str]:
        return frozenset(self.declarations)

    @property
    def declared(self) -> bool:
        """Whether anything declares it (an owner, or an item from before owners)."""
        return bool(self.declarations) or self.in_force is not None


NOBODY: Ownership[Any] = Ownership()


def publisher_key(source_stage_arn: str, participant_id: str) -> str:
    """The registry's partition key: one publisher (a participant in a source stage)."""
    return f"{source_stage_arn}|{participant_id}"


def item_key(key: DeclarationKey) -> dict[str, Any]:
    """The registry item's key of one replication (or mirror destination), in DynamoDB's
    attribute-value form."""
    return {
        c.REGISTRY_PARTITION_KEY: {"S": publisher_key(key.source_stage_arn, key.participant_id)},
        c.REGISTRY_SORT_KEY: {"S": key.destination_stage_arn},
    }


def describe_item(key: DeclarationKey) -> str:
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

    def declare(self, spec: D, owner: str, deadline: Deadline) -> Ownership[D]:
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
                    f"SET #source = :source, #participant = :participant, {_SET_SETTINGS}, "
                    f"#owner = :declared {_user_ids_clause(spec)} ADD #version :one"
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
        return NOBODY if not before else _ownership_of(before, _parser_for(spec))

    def withdraw(self, key: DeclarationKey, owner: str, deadline: Deadline) -> Ownership[Any]:
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
            left = _ownership_of(item, _parser_of(item))
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

    def ownership(self, key: ReplicationKey, deadline: Deadline) -> Ownership[ReplicationSpec]:
        """Who declares `key` now (a consistent read); NOBODY when nothing is recorded or the
        table is gone. Raises ServiceError or DeadlineExceededError when it cannot be read."""
        item = self._item(key, deadline)
        return NOBODY if item is None else _ownership_of(item, _spec_of)

    def mirror(self, key: MirrorKey, deadline: Deadline) -> MirrorSpec | None:
        """The mirror destination in force for `key` now (a consistent read), or None; None
        too without a table (a stack from before the registry existed in every mode). Raises
        ServiceError or DeadlineExceededError when it cannot be read."""
        if self.table_name is None:
            return None
        item = self._item(key, deadline)
        return None if item is None else _ownership_of(item, _mirror_of).in_force

    def _remove_owner(
        self, table: str, key: DeclarationKey, owner: str, deadline: Deadline
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
        self, table: str, key: DeclarationKey, version: Mapping[str, Any], deadline: Deadline
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
        spec: Declaration,
        version: Mapping[str, Any],
        item: Mapping[str, Any],
        deadline: Deadline,
    ) -> bool:
        """Put `spec` in force unless the item was written since `version`; whether it holds."""
        if _parser_of(item)(item) == spec:
            return True
        try:
            self._call(
                "UpdateItem",
                lambda: self.client.update_item(
                    TableName=table,
                    Key=item_key(spec.key),
                    UpdateExpression=(
                        f"SET {_SET_SETTINGS} {_user_ids_clause(spec)} ADD #version :one"
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

    def in_force_for(
        self, key: ReplicationKey, user_id: str | None, deadline: Deadline
    ) -> ReplicationSpec | None:
        """What declares the replication `key` of a publisher with this user id now, for a
        mirror's replication: an explicit declaration in force (in any mode: it wins over the
        mirror), else the mirror of its stages, when it takes that publisher; None when
        neither does. Consistent reads; raises as `declaration`."""
        explicit = self.ownership(key, deadline).in_force
        if explicit is not None:
            return explicit
        mirror = self.mirror(MirrorKey(key.source_stage_arn, key.destination_stage_arn), deadline)
        if mirror is None or not mirror.admits(user_id):
            return None
        return mirror.replication(key.participant_id)

    def mirrors_of(self, source_stage_arn: str, deadline: Deadline) -> list[MirrorSpec]:
        """Every mirror destination of this source stage."""
        return [
            spec
            for spec in self._query(publisher_key(source_stage_arn, EVERY_PUBLISHER), deadline)
            if isinstance(spec, MirrorSpec)
        ]

    def declared_destinations(
        self, source_stage_arn: str, participant_id: str, deadline: Deadline
    ) -> frozenset[str]:
        """The destinations into which an explicit declaration, in any mode, names this
        publisher: a mirror leaves those to it."""
        return frozenset(
            spec.key.destination_stage_arn
            for spec in self._query(
                publisher_key(source_stage_arn, participant_id), deadline, follow_only=False
            )
        )

    def declarations_of(
        self, source_stage_arn: str, participant_id: str, deadline: Deadline
    ) -> list[ReplicationSpec]:
        """Every follow-mode declaration in force whose publisher is this participant in this
        stage."""
        return [
            spec
            for spec in self._query(publisher_key(source_stage_arn, participant_id), deadline)
            if isinstance(spec, ReplicationSpec)
        ]

    def all_declarations(self, deadline: Deadline) -> Iterator[Declaration]:
        """Every follow-mode declaration in force of the stack, mirror destinations included,
        page by page (the sweep's input)."""
        table = self._require_table()
        return self._pages(
            "Scan",
            lambda start: self.client.scan(TableName=table, **start),
            deadline,
            follow_only=True,
        )

    # --- helpers ---------------------------------------------------------------------------

    def _query(
        self, publisher: str, deadline: Deadline, *, follow_only: bool = True
    ) -> list[Declaration]:
        table = self._require_table()
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
                follow_only=follow_only,
            )
        )

    def _pages(
        self,
        operation: str,
        fetch: Callable[[dict[str, Any]], Mapping[str, Any]],
        deadline: Deadline,
        *,
        follow_only: bool,
    ) -> Iterator[Declaration]:
        start: dict[str, Any] = {}
        while True:
            try:
                page = self._call(operation, functools.partial(fetch, start), deadline)
            except ServiceError as error:
                if error.code == _TABLE_GONE:
                    return  # the stack is being deleted: nothing is declared any more
                raise
            for item in page.get("Items", []):
                spec = _parser_of(item)(item)
                if spec is not None and (spec.follows or not follow_only):
                    yield spec
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            start = {"ExclusiveStartKey": last}

    def _item(self, key: DeclarationKey, deadline: Deadline) -> Mapping[str, Any] | None:
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


# The settings of a declaration, as item attributes (the item's in force, and each owner's).
_SETTINGS_NAMES = {
    "#attributes": c.PROP_ATTRIBUTES,
    "#window": c.PROP_RECONNECT_WINDOW_SECONDS,
    "#mode": c.PROP_WHEN_NOT_PUBLISHING,
    "#wait": c.PROP_WAIT_SECONDS,
}
_SET_SETTINGS = ", ".join(f"{name} = :{name[1:]}" for name in _SETTINGS_NAMES)
# A mirror's user ids, set with its settings, or removed when it takes every publisher (and
# from every replication's item, which has none).
_DECLARATION_NAMES = {**_SETTINGS_NAMES, "#userIds": c.PROP_USER_IDS}


def _user_ids_clause(spec: Declaration) -> str:
    """The update's part for the user ids, after its SET clause."""
    if _user_ids_value(spec) is not None:
        return ", #userIds = :userIds"
    return "REMOVE #userIds"


def _user_ids_value(spec: Declaration) -> dict[str, Any] | None:
    if isinstance(spec, MirrorSpec) and spec.user_ids is not None:
        return {"L": [{"S": user_id} for user_id in spec.user_ids]}
    return None


def _declaration_values(spec: Declaration) -> dict[str, Any]:
    """The values the update's expression names for `spec`'s settings."""
    values = {
        f":{name[1:]}": value
        for name, value in zip(_SETTINGS_NAMES, _settings_values(spec), strict=True)
    }
    user_ids = _user_ids_value(spec)
    if user_ids is not None:
        values[":userIds"] = user_ids
    return values


def _settings_values(spec: Declaration) -> tuple[dict[str, Any], ...]:
    return (
        {"M": {k: {"S": v} for k, v in spec.attributes.items()}},
        {"N": str(spec.reconnect_window_seconds)},
        {"S": spec.when_not_publishing},
        {"N": str(spec.wait_seconds)},
    )


def _declaration_value(spec: Declaration, *, declared_at: int) -> dict[str, Any]:
    """One owner's declaration, as its item attribute."""
    fields = dict(zip(_SETTINGS_NAMES.values(), _settings_values(spec), strict=True))
    user_ids = _user_ids_value(spec)
    if user_ids is not None:
        fields[c.PROP_USER_IDS] = user_ids
    return {"M": {**fields, _DECLARED_AT: {"N": str(declared_at)}}}


def _ownership_of(
    item: Mapping[str, Any], parse: Callable[[Mapping[str, Any]], D | None]
) -> Ownership[D]:
    """Who an item says declares its replication (owners whose declaration does not parse are
    left out); the declaration in force is the latest owner's, or the item's own when it
    records no owner."""
    declarations: dict[str, D] = {}
    declared_at: dict[str, int] = {}
    for name, value in item.items():
        if not name.startswith(OWNER_PREFIX):
            continue
        fields = value.get("M", {})
        # An owner's map holds its user ids, or none: the item's own must not show through.
        spec = parse({**item, c.PROP_USER_IDS: None, **fields})
        if spec is not None:
            owner = name[len(OWNER_PREFIX) :]
            declarations[owner] = spec
            declared_at[owner] = int(fields.get(_DECLARED_AT, {}).get("N", "0"))
    if not declarations:
        return Ownership(in_force=parse(item))
    latest = max(declarations, key=lambda owner: (declared_at[owner], owner))
    return Ownership(declarations, declarations[latest])


def _is_mirror(item: Mapping[str, Any]) -> bool:
    participant = item.get(c.PROP_PARTICIPANT_ID)
    return isinstance(participant, Mapping) and participant.get("S") == EVERY_PUBLISHER


def _parser_of(item: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], Declaration | None]:
    """How to read what `item` declares: a mirror destination, or a replication."""
    return _mirror_of if _is_mirror(item) else _spec_of


def _parser_for(spec: D) -> Callable[[Mapping[str, Any]], D | None]:
    return cast("Callable[[Mapping[str, Any]], D | None]", _parser_for_type[type(spec)])


def _spec_of(item: Mapping[str, Any]) -> ReplicationSpec | None:
    """The replication an item declares (an item written before modes were recorded holds a
    follow-mode one), validated like properties; a malformed item is skipped, and a mirror's
    is none."""
    if _is_mirror(item):
        return None
    try:
        return parse_properties(
            {
                **_common_properties(item),
                c.PROP_PARTICIPANT_ID: item[c.PROP_PARTICIPANT_ID]["S"],
                c.PROP_WHEN_NOT_PUBLISHING: item.get(c.PROP_WHEN_NOT_PUBLISHING, {}).get(
                    "S", c.MODE_FOLLOW
                ),
                c.PROP_WAIT_SECONDS: item.get(c.PROP_WAIT_SECONDS, {}).get("N"),
            }
        )
    except (KeyError, TypeError, AttributeError, InvalidPropertyError) as error:
        logger.warning("Skipping a malformed registry item", extra={"problem": repr(error)})
        return None


def _mirror_of(item: Mapping[str, Any]) -> MirrorSpec | None:
    """The mirror destination an item declares, validated like properties; None for a
    replication's item or a malformed one."""
    if not _is_mirror(item):
        return None
    try:
        user_ids = item.get(c.PROP_USER_IDS)
        return parse_mirror_properties(
            {
                **_common_properties(item),
                c.PROP_USER_IDS: (
                    None if not user_ids else [entry["S"] for entry in user_ids["L"]]
                ),
            }
        )
    except (KeyError, TypeError, AttributeError, InvalidPropertyError) as error:
        logger.warning("Skipping a malformed registry item", extra={"problem": repr(error)})
        return None


def _common_properties(item: Mapping[str, Any]) -> dict[str, object]:
    """The properties a replication's and a mirror's item share."""
    return {
        c.PROP_SOURCE_STAGE_ARN: item[c.PROP_SOURCE_STAGE_ARN]["S"],
        c.PROP_DESTINATION_STAGE_ARN: item[c.REGISTRY_SORT_KEY]["S"],
        c.PROP_ATTRIBUTES: {
            k: v.get("S") for k, v in item.get(c.PROP_ATTRIBUTES, {}).get("M", {}).items()
        },
        c.PROP_RECONNECT_WINDOW_SECONDS: item[c.PROP_RECONNECT_WINDOW_SECONDS]["N"],
    }


_parser_for_type: dict[type, Callable[[Mapping[str, Any]], Declaration | None]] = {
    ReplicationSpec: _spec_of,
    MirrorSpec: _mirror_of,
}
