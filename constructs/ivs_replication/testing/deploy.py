"""Drive custom-resource requests through a handler the way CloudFormation would.

``LocalDeployment`` sends Create, Update and Delete events (see ``custom_resource_event``) to a
handler callable ``(event, context) -> {"PhysicalResourceId": ..., ...}``, each with a fresh
``LocalLambdaContext``, and keeps the physical id of every resource like CloudFormation does:

- Create: the handler's id is recorded; a failed Create records nothing and sends no Delete.
- Update: when the handler answers a new id, the resource is replaced: the new id is recorded,
  then a Delete of the old id (with the old properties) follows, as in CloudFormation's cleanup.
  A failed Update keeps the previous record (no rollback request is sent); a failed cleanup
  Delete raises after the new id is recorded.
- Delete: the record is removed once the handler succeeds.

Failures raise ``LocalDeploymentError`` carrying the handler's message (CloudFormation's
Reason), chained from the handler's exception.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ivs_replication.testing.cloudformation import (
    LOCAL_FRAMEWORK_FUNCTION_ARN,
    LocalLambdaContext,
    RequestType,
    custom_resource_event,
)
from ivs_replication_handler.contract import RESOURCE_TYPE

Handler = Callable[[dict[str, object], Any], Mapping[str, object]]
"""An ``on_event``-style handler: (event, Lambda context) -> response with a physical id."""

DEFAULT_TIMEOUT_SECONDS = 300.0


class LocalDeploymentError(RuntimeError):
    """A request failed; the message is the handler's, as CloudFormation would report it."""

    def __init__(self, request_type: RequestType, logical_id: str, reason: str) -> None:
        super().__init__(f"{request_type} of {logical_id} failed: {reason}")
        self.request_type = request_type
        self.logical_id = logical_id
        self.reason = reason


@dataclass(frozen=True)
class DeployedResource:
    """A resource CloudFormation would list: its ids and the properties last applied."""

    logical_id: str
    physical_id: str
    properties: Mapping[str, object]
    data: Mapping[str, object] = field(default_factory=dict)
    resource_type: str = RESOURCE_TYPE


@dataclass(frozen=True)
class RequestRecord:
    """One request sent to the handler and how it ended."""

    request_type: RequestType
    logical_id: str
    physical_id: str | None
    result_physical_id: str | None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None


class LocalDeployment:
    """Custom resources deployed through ``handler``.

    ``resource_type`` default "Custom::IvsParticipantReplication"; ``timeout_seconds`` default
    300 (each call gets a fresh ``LocalLambdaContext`` with this timeout); ``clock`` default
    ``time.monotonic``, the clock the contexts' remaining time is measured on.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        resource_type: str = RESOURCE_TYPE,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        service_token: str = LOCAL_FRAMEWORK_FUNCTION_ARN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._handler = handler
        self._clock = clock
        self._resource_type = resource_type
        self._timeout_seconds = timeout_seconds
        self._service_token = service_token
        self._resources: dict[str, DeployedResource] = {}
        self._history: list[RequestRecord] = []

    @property
    def resources(self) -> dict[str, DeployedResource]:
        """Deployed resources by logical id."""
        return dict(self._resources)

    @property
    def history(self) -> list[RequestRecord]:
        """Every request sent, oldest first (cleanup Deletes included)."""
        return list(self._history)

    def physical_id(self, logical_id: str) -> str:
        """The recorded physical id; raises ``KeyError`` for a resource not deployed."""
        return self._resources[logical_id].physical_id

    def create(
        self,
        logical_id: str,
        properties: Mapping[str, object],
        *,
        resource_type: str | None = None,
    ) -> DeployedResource:
        """Create a resource (of `resource_type`, Default: the deployment's); raises
        ``ValueError`` if it exists, ``LocalDeploymentError``."""
        if logical_id in self._resources:
            raise ValueError(f"{logical_id} is already deployed; update or delete it")
        kind = resource_type or self._resource_type
        event = self._event("Create", logical_id, properties, resource_type=kind)
        response = self._send("Create", logical_id, event, physical_id=None)
        # The provider framework falls back to the request id when no id is returned.
        physical_id = _returned_id(response) or str(event["RequestId"])
        return self._record(logical_id, physical_id, properties, response, kind)

    def update(self, logical_id: str, properties: Mapping[str, object]) -> DeployedResource:
        """Update a deployed resource; a new physical id replaces it (old id then deleted)."""
        old = self._resources[logical_id]
        event = self._event(
            "Update",
            logical_id,
            properties,
            physical_id=old.physical_id,
            old_properties=old.properties,
            resource_type=old.resource_type,
        )
        response = self._send("Update", logical_id, event, physical_id=old.physical_id)
        new = self._record(
            logical_id,
            _returned_id(response) or old.physical_id,
            properties,
            response,
            old.resource_type,
        )
        if new.physical_id != old.physical_id:
            self._delete(old)
        return new

    def delete(self, logical_id: str) -> None:
        """Delete a deployed resource; it stays recorded if the handler fails."""
        self._delete(self._resources[logical_id])
        del self._resources[logical_id]

    def delete_all(self) -> None:
        """Delete every resource, newest first (the reverse of creation, like a stack delete)."""
        for logical_id in reversed(list(self._resources)):
            self.delete(logical_id)

    # --- internals -------------------------------------------------------------------------

    def _delete(self, resource: DeployedResource) -> None:
        event = self._event(
            "Delete",
            resource.logical_id,
            resource.properties,
            physical_id=resource.physical_id,
            resource_type=resource.resource_type,
        )
        self._send("Delete", resource.logical_id, event, physical_id=resource.physical_id)

    def _event(
        self,
        request_type: RequestType,
        logical_id: str,
        properties: Mapping[str, object],
        *,
        physical_id: str | None = None,
        old_properties: Mapping[str, object] | None = None,
        resource_type: str,
    ) -> dict[str, object]:
        return custom_resource_event(
            request_type,
            properties,
            logical_id=logical_id,
            physical_id=physical_id,
            old_properties=old_properties,
            resource_type=resource_type,
            service_token=self._service_token,
        )

    def _send(
        self,
        request_type: RequestType,
        logical_id: str,
        event: dict[str, object],
        *,
        physical_id: str | None,
    ) -> Mapping[str, object]:
        context = LocalLambdaContext(timeout_seconds=self._timeout_seconds, clock=self._clock)
        try:
            response = self._handler(event, context)
        except Exception as error:
            self._history.append(
                RequestRecord(request_type, logical_id, physical_id, None, str(error))
            )
            raise LocalDeploymentError(request_type, logical_id, str(error)) from error
        self._history.append(
            RequestRecord(request_type, logical_id, physical_id, _returned_id(response))
        )
        return response

    def _record(
        self,
        logical_id: str,
        physical_id: str,
        properties: Mapping[str, object],
        response: Mapping[str, object],
        resource_type: str,
    ) -> DeployedResource:
        data = response.get("Data")
        resource = DeployedResource(
            logical_id,
            physical_id,
            dict(properties),
            dict(data) if isinstance(data, Mapping) else {},
            resource_type,
        )
        self._resources[logical_id] = resource
        return resource


def _returned_id(response: Mapping[str, object]) -> str | None:
    physical_id = response.get("PhysicalResourceId")
    return physical_id if isinstance(physical_id, str) and physical_id else None
