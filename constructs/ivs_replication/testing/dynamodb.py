"""``LocalDynamoDB``: a local DynamoDB endpoint for follow mode's registry, served by moto.

moto's server runs in a daemon thread on 127.0.0.1 (a free port by default) with its request
log silenced; an unmodified boto3 client reaches it through ``endpoint_url`` or
``AWS_ENDPOINT_URL_DYNAMODB``::

    with LocalDynamoDB() as dynamodb:
        table = dynamodb.create_registry_table()
        Registry(table, client=dynamodb.client())

moto is imported by ``start()``, so importing this module needs neither moto nor boto3.

moto keeps its data in memory per process, not per server: two instances running at the same
time in one process see the same tables. ``stop()`` deletes the tables created while the
instance ran, so instances used one after the other start empty.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Final, Self, cast

from ivs_realtime_emulator import assumptions
from ivs_realtime_emulator.clients import local_client
from ivs_realtime_emulator.serving import endpoint_url_of, serve_in_thread, stop_serving
from ivs_replication_handler.contract import (
    REGISTRY_PARTITION_KEY,
    REGISTRY_SORT_KEY,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import TracebackType

    from mypy_boto3_dynamodb import DynamoDBClient
    from werkzeug.serving import BaseWSGIServer

logger = logging.getLogger(__name__)

DEFAULT_REGISTRY_TABLE: Final = "ivs-replication-registry"


class DynamoDBNotRunningError(RuntimeError):
    """The local DynamoDB endpoint has not been started (or was stopped)."""


def registry_key_schema() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The registry's ``KeySchema`` and ``AttributeDefinitions``, from the shared constants."""
    key_schema = [
        {"AttributeName": REGISTRY_PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": REGISTRY_SORT_KEY, "KeyType": "RANGE"},
    ]
    attributes = [
        {"AttributeName": REGISTRY_PARTITION_KEY, "AttributeType": "S"},
        {"AttributeName": REGISTRY_SORT_KEY, "AttributeType": "S"},
    ]
    return key_schema, attributes


class LocalDynamoDB:
    """A local DynamoDB endpoint (moto's server).

    ``host`` default "127.0.0.1"; ``port`` default 0 (a free port); ``region`` default
    us-east-1 (the region of ``client()`` and of the tables this object creates and cleans
    up). Use as a context manager, or call ``start()`` and ``stop()``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = assumptions.DEFAULT_REGION,
    ) -> None:
        self._host = host
        self._port = port
        self._region = region
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._client: DynamoDBClient | None = None
        self._tables_before: set[str] = set()

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind the port and serve in a daemon thread. Starting twice is a no-op."""
        if self._server is not None:
            return self
        server = _make_quiet_moto_server(self._host, self._port)
        self._server, self._thread = server, serve_in_thread(server, "local-dynamodb")
        self._tables_before = set(self.tables())
        return self

    def stop(self) -> None:
        """Delete the tables created since ``start()``, then stop serving. Twice is a no-op."""
        server, thread = self._server, self._thread
        if server is None:
            return
        try:
            for name in set(self.tables()) - self._tables_before:
                self.delete_table(name)
        finally:
            stop_serving(server, thread)
            self._server = self._thread = self._client = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``; raises ``DynamoDBNotRunningError`` before ``start()``."""
        if self._server is None:
            raise DynamoDBNotRunningError("start() LocalDynamoDB before asking for its endpoint")
        return endpoint_url_of(self._server)

    @property
    def region(self) -> str:
        """The region of ``client()`` and of the tables created here."""
        return self._region

    # --- data --------------------------------------------------------------------------------

    def client(self) -> DynamoDBClient:
        """A boto3 DynamoDB client for this endpoint (dummy credentials), made once."""
        if self._client is None:
            client = local_client("dynamodb", self.endpoint_url, region=self._region)
            self._client = cast("DynamoDBClient", client)
        return self._client

    def create_table(
        self,
        name: str,
        *,
        key_schema: Sequence[Mapping[str, str]],
        attribute_definitions: Sequence[Mapping[str, str]],
    ) -> str:
        """Create an on-demand table; returns its name. DynamoDB's errors propagate."""
        self.client().create_table(
            TableName=name,
            KeySchema=cast("Any", [dict(key) for key in key_schema]),
            AttributeDefinitions=cast("Any", [dict(a) for a in attribute_definitions]),
            BillingMode="PAY_PER_REQUEST",
        )
        return name

    def create_registry_table(self, name: str = DEFAULT_REGISTRY_TABLE) -> str:
        """Create a table keyed like follow mode's registry; returns its name.

        ``name`` default "ivs-replication-registry". The keys come from the constants the
        construct and the handler share: "Publisher" (hash) and "DestinationStageArn" (range).
        """
        key_schema, attributes = registry_key_schema()
        return self.create_table(name, key_schema=key_schema, attribute_definitions=attributes)

    def delete_table(self, name: str) -> None:
        """Delete a table; DynamoDB's ``ResourceNotFoundException`` propagates."""
        self.client().delete_table(TableName=name)

    def tables(self) -> list[str]:
        """Names of the tables in this region, sorted."""
        names: list[str] = []
        paginator = self.client().get_paginator("list_tables")
        for page in paginator.paginate():
            names.extend(page.get("TableNames", []))
        return sorted(names)

    def items(self, name: str) -> list[dict[str, Any]]:
        """Every item of a table as plain Python values (numbers as ``Decimal``)."""
        from boto3.dynamodb.types import TypeDeserializer  # noqa: PLC0415 - stay light

        deserializer = TypeDeserializer()
        items: list[dict[str, Any]] = []
        for page in self.client().get_paginator("scan").paginate(TableName=name):
            for item in page.get("Items", []):
                items.append({key: deserializer.deserialize(v) for key, v in item.items()})
        return items


def _make_quiet_moto_server(host: str, port: int) -> BaseWSGIServer:
    """moto's server application (as ``ThreadedMotoServer`` builds it) with a handler whose
    request log goes to this module's logger at DEBUG instead of werkzeug's at INFO."""
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - moto only when started
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # noqa: PLC0415

    class QuietMotoRequestHandler(MotoRequestHandler):
        def log(self, type: str, message: str, *args: object) -> None:
            level = logging.WARNING if type == "error" else logging.DEBUG
            logger.log(level, message, *args)

    application = DomainDispatcherApplication(create_backend_app)
    return make_server(
        host, port, application, threaded=True, request_handler=QuietMotoRequestHandler
    )
