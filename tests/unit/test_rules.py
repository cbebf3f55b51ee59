"""The validation rules shared by the construct and the handler, on plain values."""

from __future__ import annotations

import pytest

from ivs_replication_handler.contract import (
    ATTRIBUTES_MAX_BYTES,
    STAGE_ARN_MAX_LENGTH,
    check_attributes,
    check_distinct_stages,
    check_participant_id,
    check_reconnect_window_seconds,
    check_stage_arn,
)
from ivs_replication_handler.errors import InvalidPropertyError

STAGE_PREFIX = "arn:aws:ivs:us-east-1:123456789012:stage/"


def stage_arn_of_length(length: int) -> str:
    return STAGE_PREFIX + "a" * (length - len(STAGE_PREFIX))


# --- stage ARN ------------------------------------------------------------------------------


def test_stage_arn_of_128_characters_is_accepted() -> None:
    arn = stage_arn_of_length(STAGE_ARN_MAX_LENGTH)
    assert len(arn) == 128
    assert check_stage_arn("SourceStageArn", arn) == arn


def test_stage_arn_of_129_characters_is_rejected_with_its_length() -> None:
    with pytest.raises(InvalidPropertyError, match="129 characters") as caught:
        check_stage_arn("SourceStageArn", stage_arn_of_length(129))
    assert caught.value.prop == "SourceStageArn"
    assert "at most 128 characters" in str(caught.value)


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:ivs:us-east-1:123456789012:channel/abc",  # a channel is not a stage
        "arn:aws:ivs:us-east-1:123456789012:stage/",  # no stage id
        "arn:aws:ivs:us-east-1:123456789012:stage/abc\n",  # trailing newline
        "arn:aws:ivs:us-east-1:123456789012:stage/ab_c",  # '_' is not allowed in a stage id
        "arn:aws:ivs:US-EAST-1:123456789012:stage/abc",  # regions are lower case
        "arn:aws:ivs:us-east-1:acct:stage/abc",  # accounts are digits
        "xarn:aws:ivs:us-east-1:123456789012:stage/abc",  # whole-string match only
        "AbCdEf123456",  # a bare stage id
    ],
)
def test_non_stage_arns_are_rejected_showing_the_expected_form(value: str) -> None:
    with pytest.raises(InvalidPropertyError) as caught:
        check_stage_arn("DestinationStageArn", value)
    message = str(caught.value)
    assert message.startswith("Invalid DestinationStageArn: ")
    assert "is not a stage ARN" in message
    assert "arn:aws:ivs:<region>:<account>:stage/<id>" in message


@pytest.mark.parametrize("value", [None, 42, ["arn"], ""])
def test_stage_arn_must_be_a_non_empty_string(value: object) -> None:
    with pytest.raises(InvalidPropertyError) as caught:
        check_stage_arn("SourceStageArn", value)
    assert caught.value.prop == "SourceStageArn"


def test_very_long_arn_is_echoed_shortened_in_the_message() -> None:
    with pytest.raises(InvalidPropertyError) as caught:
        check_stage_arn("SourceStageArn", stage_arn_of_length(5000))
    assert "5000 characters" in str(caught.value)
    assert len(str(caught.value)) < 400


# --- participant id -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "host-1", "Host_1-a", "x" * 64])
def test_participant_ids_the_api_accepts_are_accepted(value: str) -> None:
    assert check_participant_id("ParticipantId", value) == value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "empty"),
        ("x" * 65, "65 characters"),
        ("host 1", "outside the allowed set"),
        ("host.1", "outside the allowed set"),
        ("hôst", "outside the allowed set"),
        ("host-1\n", "outside the allowed set"),
        (7, "not a string"),
    ],
)
def test_unusable_participant_ids_are_rejected(value: object, problem: str) -> None:
    with pytest.raises(InvalidPropertyError) as caught:
        check_participant_id("ParticipantId", value)
    message = str(caught.value)
    assert message.startswith("Invalid ParticipantId: ")
    assert problem in message
    assert "1-64 characters from A-Z, a-z, 0-9, '-' and '_'" in message


# --- reconnect window -----------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 300])
def test_reconnect_window_in_range_is_accepted(value: int) -> None:
    assert check_reconnect_window_seconds("ReconnectWindowSeconds", value) == value


@pytest.mark.parametrize("value", [-1, 301, 10**9])
def test_reconnect_window_out_of_range_is_rejected(value: int) -> None:
    with pytest.raises(InvalidPropertyError, match="out of range") as caught:
        check_reconnect_window_seconds("ReconnectWindowSeconds", value)
    assert "a whole number of seconds from 0 to 300" in str(caught.value)


@pytest.mark.parametrize("value", [True, False, 30.0, "30", None])
def test_reconnect_window_must_be_a_real_integer(value: object) -> None:
    with pytest.raises(InvalidPropertyError, match="is not an integer"):
        check_reconnect_window_seconds("ReconnectWindowSeconds", value)


# --- attributes -----------------------------------------------------------------------------


def test_attributes_of_exactly_1024_ascii_bytes_are_accepted() -> None:
    attributes = {"k": "v" * (ATTRIBUTES_MAX_BYTES - 1)}
    assert check_attributes("Attributes", attributes) == attributes


def test_attributes_of_1025_ascii_bytes_are_rejected() -> None:
    with pytest.raises(InvalidPropertyError, match="1025 bytes"):
        check_attributes("Attributes", {"k": "v" * ATTRIBUTES_MAX_BYTES})


@pytest.mark.parametrize(
    "attributes",
    [
        {"k": "é" * 511 + "a"},  # 1 + 2*511 + 1 bytes in 513 characters
        {"ké": "€" * 340 + "a"},  # 3 + 3*340 + 1 bytes
        {"k": "😀" * 255 + "abc"},  # 1 + 4*255 + 3 bytes
    ],
    ids=["two-byte", "three-byte", "four-byte"],
)
def test_multibyte_attributes_of_exactly_1024_utf8_bytes_are_accepted(
    attributes: dict[str, str],
) -> None:
    assert sum(len(k.encode()) + len(v.encode()) for k, v in attributes.items()) == 1024
    assert check_attributes("Attributes", attributes) == attributes


@pytest.mark.parametrize(
    "attributes",
    [
        {"k": "é" * 512},
        {"ké": "€" * 340 + "ab"},
        {"k": "😀" * 256},
        {"é" * 256: "€" * 171},  # the bytes of keys count too
    ],
    ids=["two-byte", "three-byte", "four-byte", "keys-count"],
)
def test_multibyte_attributes_of_1025_utf8_bytes_are_rejected(
    attributes: dict[str, str],
) -> None:
    assert sum(len(k.encode()) + len(v.encode()) for k, v in attributes.items()) == 1025
    with pytest.raises(InvalidPropertyError, match="1025 bytes") as caught:
        check_attributes("Attributes", attributes)
    assert "at most 1024 bytes of UTF-8" in str(caught.value)


def test_attribute_errors_name_the_key_but_never_the_value() -> None:
    with pytest.raises(InvalidPropertyError) as caught:
        check_attributes("Attributes", {"ok": "fine", "team": 5, "secret": "s3cr3t-value"})
    assert "'team'" in str(caught.value)
    assert "fine" not in str(caught.value)


def test_oversized_attributes_error_does_not_quote_values() -> None:
    with pytest.raises(InvalidPropertyError) as caught:
        check_attributes("Attributes", {"token": "s3cr3t" * 200})
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize("value", [[("k", "v")], "k=v", 1, None])
def test_attributes_must_be_a_map(value: object) -> None:
    with pytest.raises(InvalidPropertyError, match="not a map"):
        check_attributes("Attributes", value)


def test_non_string_attribute_keys_are_rejected() -> None:
    with pytest.raises(InvalidPropertyError, match="key 1 is not a string"):
        check_attributes("Attributes", {1: "v"})


# --- distinct stages ------------------------------------------------------------------------


def test_a_stage_cannot_replicate_into_itself() -> None:
    arn = STAGE_PREFIX + "abc"
    with pytest.raises(InvalidPropertyError) as caught:
        check_distinct_stages("SourceStageArn", "DestinationStageArn", arn, arn)
    assert caught.value.prop == "DestinationStageArn"
    assert "SourceStageArn" in str(caught.value)
    assert "a stage other than the source stage" in str(caught.value)


def test_different_stages_pass() -> None:
    check_distinct_stages("S", "D", STAGE_PREFIX + "abc", STAGE_PREFIX + "abd")


def test_messages_use_the_property_name_the_caller_gives() -> None:
    """The construct passes its Python names, the handler the custom-resource names."""
    with pytest.raises(InvalidPropertyError, match=r"^Invalid participant_id: "):
        check_participant_id("participant_id", "")
