"""Request and response validation against botocore's own ivs-realtime service model.

Using botocore's model (not a copy) keeps the local endpoint's rules identical to the ones the
SDK that calls it was built from: required members, types, lengths, patterns, ranges, enums.
"""

from __future__ import annotations

import datetime
import functools
import re
from typing import TYPE_CHECKING, Any, Final, cast

from ivs_realtime_emulator import assumptions
from ivs_realtime_emulator.exceptions import ValidationError

if TYPE_CHECKING:
    from botocore.model import (
        ListShape,
        MapShape,
        OperationModel,
        ServiceModel,
        Shape,
        StringShape,
        StructureShape,
    )

SERVICE_NAME: Final = "ivs-realtime"
# botocore adds this to every parsed response; it is no member of any output shape.
_RESPONSE_METADATA_KEY: Final = "ResponseMetadata"
_SHOWN_VALUE_CHARS: Final = 64


class ResponseShapeError(AssertionError):
    """A response does not conform to the operation's output shape."""

    def __init__(self, operation_name: str, problems: list[str]) -> None:
        super().__init__(f"{operation_name} response: " + "; ".join(problems))
        self.problems = problems


@functools.cache
def service_model() -> ServiceModel:
    """botocore's ivs-realtime model, loaded once (botocore is imported on first use)."""
    import botocore.session  # noqa: PLC0415 - keep `import ivs_realtime_emulator` light

    return botocore.session.get_session().get_service_model(SERVICE_NAME)


def operation_model(operation_name: str) -> OperationModel:
    """The model of one operation; raises ``KeyError``-like botocore error if unknown."""
    return service_model().operation_model(operation_name)


def operation_names() -> frozenset[str]:
    """Every operation the real service has."""
    return frozenset(service_model().operation_names)


def error_status(error_code: str) -> int:
    """HTTP status the model gives an error code (429 for throttling, 500 when unknown)."""
    if error_code == assumptions.THROTTLING_ERROR_CODE:
        return assumptions.THROTTLING_STATUS
    for shape in service_model().error_shapes:
        if shape.name == error_code:
            return int(shape.metadata.get("error", {}).get("httpStatusCode", 500))
    return 500


def error_code_for_status(status: int) -> str:
    """The model's error code for an HTTP status (first match), for scripted faults."""
    if status == assumptions.THROTTLING_STATUS:
        return assumptions.THROTTLING_ERROR_CODE
    for shape in service_model().error_shapes:
        if shape.metadata.get("error", {}).get("httpStatusCode") == status:
            return str(shape.name)
    return "InternalServerException"


_DOCUMENTED_DEFAULT: Final = re.compile(r"Default:\s*(\d+)")


def default_page_size(operation_name: str) -> int | None:
    """The page size of a List operation without ``maxResults``.

    The model documents it ("Default: 50"); when it does not, the maximum is assumed.
    """
    input_shape = operation_model(operation_name).input_shape
    if input_shape is None:
        return None
    max_results = input_shape.members.get("maxResults")
    if max_results is None:
        return None
    documented = _DOCUMENTED_DEFAULT.search(max_results.documentation or "")
    if documented is not None:
        return int(documented.group(1))
    return int(max_results.metadata["max"])


def validate_request(operation_name: str, body: dict[str, Any]) -> None:
    """Check a request body against the operation's input shape.

    Unknown members are ignored, like the service does. Raises ``ValidationError`` naming
    every field that breaks a rule.
    """
    input_shape = operation_model(operation_name).input_shape
    problems: list[str] = []
    if input_shape is not None:
        _check_structure(input_shape, body, "", problems, checking_response=False)
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise ValidationError(f"{count} validation {noun} detected: " + "; ".join(problems))


def validate_response(operation_name: str, body: dict[str, Any]) -> None:
    """Check a response (wire JSON or boto3-parsed) against the operation's output shape.

    Required members, types, lengths, patterns, ranges and enum values are checked, and
    members the shape does not have are reported. Raises ``ResponseShapeError``.
    """
    output_shape = operation_model(operation_name).output_shape
    problems: list[str] = []
    payload = {k: v for k, v in body.items() if k != _RESPONSE_METADATA_KEY}
    if output_shape is None:
        if payload:
            problems.append(f"expected no members, got {sorted(payload)}")
    else:
        _check_structure(output_shape, payload, "", problems, checking_response=True)
    if problems:
        raise ResponseShapeError(operation_name, problems)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _shown(value: object) -> str:
    text = str(value)
    return text if len(text) <= _SHOWN_VALUE_CHARS else text[:_SHOWN_VALUE_CHARS] + "..."


def _violation(value: object, path: str, constraint: str) -> str:
    return f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: {constraint}"


def _in_body(member: Shape) -> bool:
    # Members bound to headers (the output's security headers) never appear in the JSON body.
    return "location" not in member.serialization


_NUMBER_TYPES: Final = frozenset({"integer", "long", "float", "double"})


def _check(shape: Shape, value: object, path: str, problems: list[str], *, response: bool) -> None:
    kind = shape.type_name
    if kind == "structure":
        structure = cast("StructureShape", shape)
        _check_structure(structure, value, path, problems, checking_response=response)
    elif kind == "list":
        _check_list(cast("ListShape", shape), value, path, problems, response)
    elif kind == "map":
        _check_map(cast("MapShape", shape), value, path, problems, response)
    elif kind == "string":
        _check_string(cast("StringShape", shape), value, path, problems)
    elif kind in _NUMBER_TYPES:
        _check_number(shape, value, path, problems)
    elif kind == "boolean":
        _check_boolean(value, path, problems)
    elif kind == "timestamp":
        _check_timestamp(value, path, problems)


def _check_structure(
    shape: StructureShape, value: object, path: str, problems: list[str], *, checking_response: bool
) -> None:
    if not isinstance(value, dict):
        problems.append(_violation(value, path, "Member must be a structure"))
        return
    members = {name: m for name, m in shape.members.items() if _in_body(m)}
    for name in shape.required_members:
        if name in members and value.get(name) is None:
            problems.append(
                f"Value null at '{_join(path, name)}' failed to satisfy constraint: "
                "Member must not be null"
            )
    for name, member_value in value.items():
        member = members.get(name)
        if member is None:
            header_member = name in shape.members
            if checking_response and not header_member:
                problems.append(f"'{_join(path, name)}' is not a member of {shape.name}")
            continue
        if member_value is None:
            continue
        _check(member, member_value, _join(path, name), problems, response=checking_response)


def _check_length(shape: Shape, length: int, value: object, path: str, problems: list[str]) -> None:
    minimum = shape.metadata.get("min")
    maximum = shape.metadata.get("max")
    if minimum is not None and length < minimum:
        problems.append(
            _violation(value, path, f"Member must have length greater than or equal to {minimum}")
        )
    if maximum is not None and length > maximum:
        problems.append(
            _violation(value, path, f"Member must have length less than or equal to {maximum}")
        )


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _check_string(shape: StringShape, value: object, path: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(_violation(value, path, "Member must be a string"))
        return
    _check_length(shape, len(value), value, path, problems)
    pattern = shape.metadata.get("pattern")
    if pattern is not None and _compiled(pattern).fullmatch(value) is None:
        problems.append(
            _violation(value, path, f"Member must satisfy regular expression pattern: {pattern}")
        )
    enum = shape.enum
    if enum and value not in enum:
        allowed = ", ".join(enum)
        problems.append(_violation(value, path, f"Member must satisfy enum value set: [{allowed}]"))


def _check_number(shape: Shape, value: object, path: str, problems: list[str]) -> None:
    whole = shape.type_name in ("integer", "long")
    accepted: tuple[type, ...] = (int,) if whole else (int, float)
    # bool is an int in Python but never a number in JSON.
    if isinstance(value, bool) or not isinstance(value, accepted):
        kind = "an integer" if whole else "a number"
        problems.append(_violation(value, path, f"Member must be {kind}"))
        return
    number: float = value  # type: ignore[assignment]
    minimum = shape.metadata.get("min")
    maximum = shape.metadata.get("max")
    if minimum is not None and number < minimum:
        problems.append(
            _violation(value, path, f"Member must have value greater than or equal to {minimum}")
        )
    if maximum is not None and number > maximum:
        problems.append(
            _violation(value, path, f"Member must have value less than or equal to {maximum}")
        )


def _check_boolean(value: object, path: str, problems: list[str]) -> None:
    if not isinstance(value, bool):
        problems.append(_violation(value, path, "Member must be a boolean"))


def _check_timestamp(value: object, path: str, problems: list[str]) -> None:
    # On the wire a timestamp is an ISO 8601 string (or epoch seconds); boto3 parses it.
    if isinstance(value, bool) or not isinstance(value, (str, int, float, datetime.datetime)):
        problems.append(_violation(value, path, "Member must be a timestamp"))
        return
    if isinstance(value, str):
        try:
            datetime.datetime.fromisoformat(value)
        except ValueError:
            problems.append(_violation(value, path, "Member must be an ISO 8601 timestamp"))


def _check_list(
    shape: ListShape, value: object, path: str, problems: list[str], response: bool
) -> None:
    if not isinstance(value, list):
        problems.append(_violation(value, path, "Member must be a list"))
        return
    _check_length(shape, len(value), value, path, problems)
    member_shape = shape.member
    for index, item in enumerate(value, start=1):
        _check(member_shape, item, f"{path}.{index}.member", problems, response=response)


def _check_map(
    shape: MapShape, value: object, path: str, problems: list[str], response: bool
) -> None:
    if not isinstance(value, dict):
        problems.append(_violation(value, path, "Member must be a map"))
        return
    _check_length(shape, len(value), value, path, problems)
    key_shape = shape.key
    value_shape = shape.value
    for key, item in value.items():
        _check(key_shape, key, f"{path}.key", problems, response=response)
        _check(value_shape, item, f"{path}.{_shown(key)}", problems, response=response)
