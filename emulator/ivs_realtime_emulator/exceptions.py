"""The service's errors, one class per error the emulator answers, each carrying its error
code and HTTP status as IVS real-time answers them (``x-amzn-ErrorType`` and the
``exceptionMessage`` member of the body)."""

from __future__ import annotations

from ivs_realtime_emulator import assumptions


class IvsRealtimeError(Exception):
    """An error answered the way the service answers: status, error code, message."""

    def __init__(self, message: str, *, error_code: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.status = status


class ValidationError(IvsRealtimeError):
    """The request breaks a rule of the model (HTTP 400 ValidationException)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code="ValidationException", status=400)


class MalformedBodyError(IvsRealtimeError):
    """The request body is not a JSON object."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=assumptions.MALFORMED_BODY_ERROR_CODE, status=400)


class ResourceNotFoundError(IvsRealtimeError):
    """The stage, session, participant or replica does not exist (HTTP 404)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code="ResourceNotFoundException", status=404)


class ConflictError(IvsRealtimeError):
    """The request conflicts with the current state (HTTP 409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code="ConflictException", status=409)


class ServiceQuotaExceededError(IvsRealtimeError):
    """A quota of the service would be exceeded (HTTP 402 ServiceQuotaExceededException)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code="ServiceQuotaExceededException", status=402)
