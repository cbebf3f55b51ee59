"""The deployed entry point `on_event`: what it returns and what it logs."""

from __future__ import annotations

import json

import pytest

from ivs_replication_handler import handler
from ivs_replication_handler.errors import ReplicationFailedError

SECRET_VALUES = ("s3cr3t-host-value", "blue-room-value", "changed-s3cr3t")


@pytest.fixture
def on_event_ivs(monkeypatch, stubbed):
    """`on_event` uses the module's `_ivs`: point it at the stubbed client."""
    monkeypatch.setattr(handler, "_ivs", stubbed.ivs)
    return stubbed


def test_on_event_creates_through_the_module_client(on_event_ivs, cfn, context):
    on_event_ivs.expect_start()
    on_event_ivs.expect_list({cfn.destination: "ACTIVE"})
    result = handler.on_event(cfn.create(), context)
    assert result["PhysicalResourceId"] == cfn.physical_id


def test_a_lifecycle_logs_identity_and_keys_but_never_the_url_or_values(
    on_event_ivs, cfn, context, read_logs
):
    ivs = on_event_ivs
    created = {"role": "s3cr3t-host-value", "room": "blue-room-value"}
    updated = {"role": "changed-s3cr3t", "room": "blue-room-value"}
    ivs.expect_start(attributes=created)
    ivs.expect_list({cfn.destination: "ACTIVE"})
    ivs.expect_list({cfn.destination: "ACTIVE"})
    ivs.expect_stop()
    ivs.expect_list({cfn.destination: "STOPPED"})
    ivs.expect_start(attributes=updated)
    ivs.expect_list({cfn.destination: "ACTIVE"})
    ivs.expect_stop()
    ivs.expect_list({cfn.destination: "STOPPED"})

    handler.on_event(cfn.create(cfn.props(Attributes=created)), context)
    handler.on_event(
        cfn.update(cfn.props(Attributes=updated), cfn.props(Attributes=created)), context
    )
    handler.on_event(cfn.delete(props=cfn.props(Attributes=updated)), context)

    lines = read_logs()
    text = "\n".join(json.dumps(line) for line in lines)
    assert "secret-presigned" not in text
    assert cfn.response_url not in text
    for value in SECRET_VALUES:
        assert value not in text
    assert {line.get("request_type") for line in lines} == {"Create", "Update", "Delete"}
    assert all(line.get("logical_id") == cfn.logical_id for line in lines)
    assert all(line.get("participant_id") == cfn.participant for line in lines)
    assert ["role", "room"] in [line.get("attribute_keys") for line in lines]
    # Properties without WhenNotPublishing (an older template) run, and log, as FAIL.
    assert "FAIL" in [line.get("when_not_publishing") for line in lines]
    succeeded = [line for line in lines if line["message"] == "Request succeeded"]
    assert len(succeeded) == 3
    # One INFO line per request, which says what the request did.
    assert [line["message"] for line in lines if line["level"] == "INFO"] == [
        "Request succeeded"
    ] * 3
    create, update, delete = (line["steps"] for line in succeeded)
    assert create == ["Replication ACTIVE"]
    assert update[0] == "Update planned (update_kind=in-place)"
    assert update[1:] == ["Replication stopped (reason=Update)", "Replication ACTIVE"]
    assert delete == ["Replication stopped (reason=Delete)"]


def test_a_failure_is_logged_once_with_its_reason_and_without_values(
    on_event_ivs, cfn, context, read_logs
):
    on_event_ivs.expect_start_error(
        "ValidationException", 400, "host-1 is not publishing", attributes={"role": "s3cr3t"}
    )
    on_event_ivs.expect_not_publishing_observed()
    with pytest.raises(ReplicationFailedError):
        handler.on_event(cfn.create(cfn.props(Attributes={"role": "s3cr3t"})), context)

    lines = read_logs()
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert "is not publishing" in errors[0]["reason"]
    assert errors[0]["steps"] == []  # nothing was done before it failed
    assert errors[0]["attribute_keys"] == ["role"]
    assert "s3cr3t" not in json.dumps(lines)
    assert "secret-presigned" not in json.dumps(lines)


def test_keys_of_one_invocation_do_not_leak_into_the_next(on_event_ivs, cfn, context, read_logs):
    on_event_ivs.expect_start(attributes={"role": "host"})
    on_event_ivs.expect_list({cfn.destination: "ACTIVE"})
    handler.on_event(cfn.create(cfn.props(Attributes={"role": "host"})), context)
    read_logs()

    handler.on_event(cfn.delete(cfn.marker), context)

    lines = read_logs()
    assert lines
    assert all("attribute_keys" not in line for line in lines)
    assert all(line["request_type"] == "Delete" for line in lines)


def test_a_request_never_logs_the_keys_of_an_earlier_one_in_the_same_process(
    stubbed, cfn, context, read_logs
):
    """handle_event called twice in one process (as a local deployment does): the Delete of a
    failed create's marker logs no attribute keys, mode or ARNs of the Create before it."""
    stubbed.expect_start(attributes={"role": "host"})
    stubbed.expect_list({cfn.destination: "ACTIVE"})
    handler.handle_event(cfn.create(cfn.props(Attributes={"role": "host"})), context, stubbed.ivs)
    read_logs()

    handler.handle_event(cfn.delete(physical_id="failed-create-marker"), context, stubbed.ivs)

    lines = read_logs()
    assert lines
    for line in lines:
        assert line["request_type"] == "Delete"
        assert line["physical_id"] == "failed-create-marker"
        for leftover in ("attribute_keys", "when_not_publishing", "source_stage_arn"):
            assert leftover not in line, line
