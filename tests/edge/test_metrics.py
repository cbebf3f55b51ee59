"""The handler's and the reconciler's metrics, as the EMF documents they write to stdout:
one `Requests` per custom-resource request by type and outcome, the reconciler's counts by
trigger, and a sweep's declarations and drift, each under the stack's name. No ARN or
participant id is ever a dimension."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ivs_replication_handler import contract as c
from ivs_replication_handler import handler
from ivs_replication_handler.errors import InvalidPropertyError, ReplicationFailedError
from ivs_replication_handler.ivs import IvsRealtime
from ivs_replication_handler.metrics import ReplicationMetrics
from ivs_replication_handler.reconciler import Report
from ivs_replication_handler.settings import FunctionSettings


def emf_documents(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" in line]


def dimension_sets(document: dict[str, Any]) -> list[list[str]]:
    [directive] = document["_aws"]["CloudWatchMetrics"]
    return [sorted(names) for names in directive["Dimensions"]]


def metric_names(document: dict[str, Any]) -> set[str]:
    [directive] = document["_aws"]["CloudWatchMetrics"]
    return {metric["Name"] for metric in directive["Metrics"]}


def assert_no_identity_in_dimensions(document: dict[str, Any], *identities: str) -> None:
    allowed = {
        c.DIMENSION_SERVICE,
        c.DIMENSION_STACK,
        c.DIMENSION_REQUEST_TYPE,
        c.DIMENSION_OUTCOME,
        c.DIMENSION_TRIGGER,
    }
    for names in dimension_sets(document):
        assert set(names) <= allowed
        for name in names:
            assert all(identity not in document[name] for identity in identities)


@pytest.fixture
def on_event_ivs(monkeypatch, stubbed):
    monkeypatch.setattr(handler, "_ivs", stubbed.ivs)
    return stubbed


def test_each_successful_request_type_writes_one_requests_metric_to_stdout(
    on_event_ivs, cfn, context, capsys
):
    on_event_ivs.expect_start()
    on_event_ivs.expect_list({cfn.destination: "ACTIVE"})
    on_event_ivs.expect_stop()
    on_event_ivs.expect_list({cfn.destination: "STOPPED"})
    handler.on_event(cfn.create(), context)
    handler.on_event(cfn.update(cfn.props(), cfn.props()), context)  # nothing changed
    handler.on_event(cfn.delete(), context)

    documents = emf_documents(capsys.readouterr().out)

    assert [d[c.DIMENSION_REQUEST_TYPE] for d in documents] == ["Create", "Update", "Delete"]
    for document in documents:
        assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "IvsParticipantReplication"
        assert document[c.DIMENSION_SERVICE] == "ivs-participant-replication"
        assert document[c.DIMENSION_OUTCOME] == c.OUTCOME_SUCCEEDED
        assert document[c.METRIC_REQUESTS] == [1.0]
        # By type and outcome, and by outcome alone (what the failure alarm reads).
        assert dimension_sets(document) == [
            ["Outcome", "RequestType", "service"],
            ["Outcome", "service"],
        ]
        assert_no_identity_in_dimensions(document, cfn.source, cfn.destination, cfn.participant)


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_an_invalid_request_counts_as_failed_for_its_type(cfn, context, stubbed, request_type):
    written: list[str] = []
    bad = cfn.props(ParticipantId="host 1")
    event = cfn.create(bad) if request_type == "Create" else cfn.update(bad, cfn.props())

    with pytest.raises(InvalidPropertyError):
        handler.handle_event(
            event, context, stubbed.ivs, metrics=ReplicationMetrics(write=written.append)
        )

    [document] = [json.loads(text) for text in written]
    assert document[c.DIMENSION_REQUEST_TYPE] == request_type
    assert document[c.DIMENSION_OUTCOME] == c.OUTCOME_FAILED
    assert stubbed.calls == []


def test_a_failed_delete_and_an_unknown_request_type_count_as_failed(cfn, context, stubbed):
    written: list[str] = []
    metrics = ReplicationMetrics(write=written.append)
    # Refused, and the state behind the refusal unreadable: the Delete fails.
    stubbed.expect_stop_error("ValidationException", 400, "Cannot stop right now")
    stubbed.stubber.add_client_error(
        "list_participant_replicas", "AccessDeniedException", "not authorized", 403
    )
    with pytest.raises(ReplicationFailedError):
        handler.handle_event(cfn.delete(), context, stubbed.ivs, metrics=metrics)
    unknown = {**cfn.create(), "RequestType": "Replace"}
    with pytest.raises(InvalidPropertyError):
        handler.handle_event(unknown, context, stubbed.ivs, metrics=metrics)

    documents = [json.loads(text) for text in written]
    assert [(d[c.DIMENSION_REQUEST_TYPE], d[c.DIMENSION_OUTCOME]) for d in documents] == [
        ("Delete", c.OUTCOME_FAILED),
        ("Unknown", c.OUTCOME_FAILED),  # never the caller's text: a bounded dimension
    ]


class BrokenIvs(IvsRealtime):
    """Every IVS call hits a bug (not an AWS error): nothing the lifecycle expects."""

    def call(self, operation: str, send: Any, deadline: Any) -> Any:
        raise RuntimeError(f"bug in {operation}")


def test_an_unexpected_error_still_counts_the_request_as_failed(cfn, context):
    written: list[str] = []
    with pytest.raises(RuntimeError):
        handler.handle_event(
            cfn.create(), context, BrokenIvs(), metrics=ReplicationMetrics(write=written.append)
        )
    [document] = [json.loads(text) for text in written]
    assert document[c.DIMENSION_OUTCOME] == c.OUTCOME_FAILED


def test_namespace_and_service_come_from_the_environment_read_once(monkeypatch, capsys):
    """As the entry points read them at a cold start (`FunctionSettings`): a later change of
    the process's environment reaches nothing."""
    monkeypatch.setenv(c.ENV_METRICS_NAMESPACE, "Team/Live")
    monkeypatch.setenv(c.ENV_METRICS_SERVICE, "live-video")
    metrics = ReplicationMetrics.of(FunctionSettings.from_environment())
    monkeypatch.setenv(c.ENV_METRICS_NAMESPACE, "Other/Team")
    metrics.record_request("Create", succeeded=True)

    [document] = emf_documents(capsys.readouterr().out)

    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Team/Live"
    assert document[c.DIMENSION_SERVICE] == "live-video"


def test_every_dimension_set_names_the_stack_so_two_stacks_never_share_a_metric(monkeypatch, cfn):
    """Two stacks in one account and region write the same namespace and service: only the
    Stack dimension keeps one stack's alarm from firing on the other's failures."""
    monkeypatch.setenv(c.ENV_STACK_NAME, "LiveStack")
    written: list[str] = []
    metrics = ReplicationMetrics.of(FunctionSettings.from_environment(), write=written.append)
    monkeypatch.setenv(c.ENV_STACK_NAME, "OtherStack")  # read once: changes nothing now
    metrics.record_request("Create", succeeded=False)
    metrics.record_reconcile(Report(trigger="sweep", declarations=1, started=["a"]))

    request, sweep = (json.loads(text) for text in written)
    assert dimension_sets(request) == [
        ["Outcome", "RequestType", "Stack", "service"],
        ["Outcome", "Stack", "service"],
    ]
    assert dimension_sets(sweep) == [["Stack", "Trigger", "service"]]
    for document in (request, sweep):
        assert document[c.DIMENSION_STACK] == "LiveStack"
        assert_no_identity_in_dimensions(document, cfn.source, cfn.destination, cfn.participant)


def test_a_metric_that_cannot_be_written_never_fails_the_caller():
    def broken(_: str) -> None:
        raise OSError("stdout closed")

    ReplicationMetrics(write=broken).record_request("Create", succeeded=True)  # no raise


def test_a_reconciler_event_run_counts_each_outcome_by_trigger():
    written: list[str] = []
    report = Report(
        trigger="event",
        declarations=4,
        started=["a"],
        already_active=["b"],
        not_publishing=["c"],
        withdrawn=["d"],
        over_quota=["e", "f"],
    )
    ReplicationMetrics(write=written.append).record_reconcile(report)

    [document] = [json.loads(text) for text in written]
    assert document[c.DIMENSION_TRIGGER] == c.TRIGGER_EVENT
    assert dimension_sets(document) == [["Trigger", "service"]]
    assert {name: document[name] for name in metric_names(document)} == {
        c.METRIC_STARTED: [1.0],
        c.METRIC_ALREADY_ACTIVE: [1.0],
        c.METRIC_NOT_PUBLISHING: [1.0],
        c.METRIC_WITHDRAWN: [1.0],
        c.METRIC_OVER_QUOTA: [2.0],
        c.METRIC_FAILED: [0.0],
    }  # no sweep metrics for an event


def test_a_sweep_reports_declarations_and_drift_as_started_over_quota_or_failed():
    written: list[str] = []
    report = Report(
        trigger="sweep",
        declarations=5,
        started=["a", "b"],
        already_active=["c"],
        not_publishing=["d"],
        failed={"e": "throttled"},
        over_quota=["f"],
    )
    ReplicationMetrics(write=written.append).record_reconcile(report)

    [document] = [json.loads(text) for text in written]
    assert document[c.DIMENSION_TRIGGER] == c.TRIGGER_SWEEP
    assert document[c.METRIC_SWEEP_DECLARATIONS] == [5.0]
    # Started, refused by the destination's quota, or failed: each was declared, not running.
    assert document[c.METRIC_SWEEP_DRIFT] == [4.0]
