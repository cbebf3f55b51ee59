"""The registry of follow-mode declarations: the other AWS edge (DynamoDB).

One item per declared replication, keyed by publisher ("<source ARN>|<participant id>") and
destination stage ARN, holding the declared attributes and reconnect window.

The protocol between the custom-resource handler (H) and reconciler runs (R), which may run
concurrently with H and with each other, and whose answers from IVS or DynamoDB may be lost
after the service acted:

1. H writes (PutItem) the item *before* it starts a follow-mode replication, and deletes it
   *before* it stops one (Delete: withdraw, then Stop). A Create whose PutItem fails (even one
   applied but unanswered) deletes the item again, in time kept back for that, before it
   fails: no Delete follows a failed Create, and a leftover item would be started by a sweep.
   Any other failed follow-mode Create withdraws its item too, and then, like a Delete, stops
   the replication if it runs (an R may have started it while it was declared, after H's
   Start or after the Stop of H's undo, and kept it).
2. R reads the declarations (consistently), Starts those not ACTIVE, and after *every* Start
   that may have started something - including one whose answer was lost until R's deadline,
   for which R keeps time back - reads the item again, consistently:
   - gone: H's withdrawal (and so H's Stop) may have come before R's Start took effect, so R
     stops what it started;
   - present with other settings than R started with (an in-place Update wrote new ones
     after R's first read): R stops and starts again with the item's settings, so the
     declared settings are the last to be started;
   - unreadable: R cannot tell, so it stops what it started (an undeclared replication must
     not outlive the run) *and fails the run*, so Lambda retries it and the retry starts the
     replication if it is still declared.
3. H's in-place restart (Stop, then Start) that finds the replication ACTIVE right after its
   Stop met an R that read the old settings: H stops and starts again instead of adopting it.

If R's second read sees the item, H's withdrawal comes later, and H's Stop after it ends what
R started; if not, R's own Stop does. Either way nothing undeclared stays ACTIVE past the run
that started it, and whatever R cannot finish makes the run fail.

The client is created on first use, so ``AWS_ENDPOINT_URL_DYNAMODB`` redirects it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping
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

    def put(self, spec: ReplicationSpec, deadline: Deadline) -> None:
        """Declare `spec` (overwriting the item of the same replication)."""
        table = self._require_table()
        self._call(
            "PutItem", lambda: self.client.put_item(TableName=table, Item=_item(spec)), deadline
        )

    def remove(self, key: ReplicationKey, deadline: Deadline) -> None:
        """Withdraw `key`; removing what is not declared, or from a deleted table, succeeds."""
        table = self.table_name
        if table is None:
            return
        try:
            self._call(
                "DeleteItem",
                lambda: self.client.delete_item(TableName=table, Key=item_key(key)),
                deadline,
            )
        except ServiceError as error:
            if error.code != _TABLE_GONE:
                raise

    # --- the reconciler's side -----------------------------------------------------------

    def declaration(self, key: ReplicationKey, deadline: Deadline) -> ReplicationSpec | None:
        """What is declared for `key` now, with its settings (a consistent read), or None.

        Raises ServiceError or DeadlineExceededError when the table cannot be read; a deleted
        table declares nothing.
        """
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
        item = response.get("Item")
        return None if item is None else _spec_of(item)

    def declarations_of(
        self, source_stage_arn: str, participant_id: str, deadline: Deadline
    ) -> list[ReplicationSpec]:
        """Every declaration whose publisher is this participant in this stage."""
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
        """Every declaration of the stack, page by page (the sweep's input)."""
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
                if spec is not None:
                    yield spec
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            start = {"ExclusiveStartKey": last}

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


def _item(spec: ReplicationSpec) -> dict[str, Any]:
    key = spec.key
    return {
        **item_key(key),
        c.PROP_SOURCE_STAGE_ARN: {"S": key.source_stage_arn},
        c.PROP_PARTICIPANT_ID: {"S": key.participant_id},
        c.PROP_ATTRIBUTES: {"M": {k: {"S": v} for k, v in spec.attributes.items()}},
        c.PROP_RECONNECT_WINDOW_SECONDS: {"N": str(spec.reconnect_window_seconds)},
    }


def _spec_of(item: Mapping[str, Any]) -> ReplicationSpec | None:
    """The declaration an item holds, validated like properties; a malformed item is skipped."""
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
                c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FOLLOW,
            }
        )
    except (KeyError, TypeError, AttributeError, InvalidPropertyError) as error:
        logger.warning("Skipping a malformed registry item", extra={"problem": repr(error)})
        return None
