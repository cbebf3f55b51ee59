"""The validators themselves: they follow botocore's model and they can fail."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ivs_realtime_emulator import ASSUMPTIONS, ResponseShapeError, validate_response
from ivs_realtime_emulator.validation import ValidationError, default_page_size, validate_request

ARN = "arn:aws:ivs:us-east-1:123456789012:stage/abcdEFGH1234"
REPLICA = {
    "sourceStageArn": ARN,
    "participantId": "p",
    "sourceSessionId": "st-abcdefghij123",
    "destinationStageArn": ARN,
    "destinationSessionId": "st-abcdefghij456",
    "replicationState": "ACTIVE",
}


def test_a_conforming_response_passes() -> None:
    validate_response("ListParticipantReplicas", {"replicas": [REPLICA], "ResponseMetadata": {}})


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({}, "'replicas'"),
        ({"replicas": [{**REPLICA, "replicationState": "PAUSED"}]}, "enum value set"),
        ({"replicas": [{**REPLICA, "sourceSessionId": "st-short"}]}, "length"),
        ({"replicas": [], "extra": 1}, "'extra' is not a member"),
        ({"replicas": "none"}, "must be a list"),
    ],
)
def test_a_nonconforming_response_is_reported(body: dict[str, object], problem: str) -> None:
    with pytest.raises(ResponseShapeError, match=problem):
        validate_response("ListParticipantReplicas", body)


def test_operation_without_output_accepts_only_empty() -> None:
    validate_response("DeleteStage", {})
    with pytest.raises(ResponseShapeError):
        validate_response("DeleteStage", {"surprise": True})


def test_request_errors_are_all_listed() -> None:
    with pytest.raises(ValidationError) as caught:
        validate_request("StopParticipantReplication", {"participantId": "x" * 65})

    assert caught.value.status == 400
    assert caught.value.message.startswith("3 validation errors detected")


def test_default_page_size_comes_from_the_model_docs() -> None:
    assert default_page_size("ListParticipantReplicas") == 50
    assert default_page_size("GetStage") is None


def test_assumptions_are_named_and_described() -> None:
    names = [name for name, _ in ASSUMPTIONS]
    assert len(names) == len(set(names))
    assert "not_publishing" in names
    assert all(description for _, description in ASSUMPTIONS)


def test_import_loads_neither_cdk_nor_botocore() -> None:
    code = (
        "import sys, ivs_realtime_emulator, ivs_realtime_emulator.pytest_plugin;"
        "print(sorted(m for m in ('aws_cdk', 'botocore', 'jsii') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert loaded == "[]"
