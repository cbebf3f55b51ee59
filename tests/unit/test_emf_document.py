"""The hand-built EMF documents are the ones Powertools' `EphemeralMetrics` writes: CloudWatch
reads the same metrics, dimensions and namespace from them as before they were hand-built."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from ivs_replication_handler import contract as c
from ivs_replication_handler.metrics import emf_document

CASES = [
    pytest.param(
        {c.METRIC_REQUESTS: 1},
        [
            {c.DIMENSION_REQUEST_TYPE: "Create", c.DIMENSION_OUTCOME: c.OUTCOME_SUCCEEDED},
            {c.DIMENSION_OUTCOME: c.OUTCOME_SUCCEEDED},
        ],
        id="a request: two dimension sets",
    ),
    pytest.param(
        {c.METRIC_STARTED: 3, c.METRIC_FAILED: 0, c.METRIC_SWEEP_DRIFT: 3},
        [{c.DIMENSION_TRIGGER: c.TRIGGER_SWEEP}],
        id="a sweep: several metrics, one dimension set",
    ),
    pytest.param(
        {c.METRIC_REQUESTS: 1},
        [
            {
                c.DIMENSION_REQUEST_TYPE: "Delete",
                c.DIMENSION_OUTCOME: c.OUTCOME_FAILED,
                c.DIMENSION_STACK: "LiveStack",
            },
            {c.DIMENSION_OUTCOME: c.OUTCOME_FAILED, c.DIMENSION_STACK: "LiveStack"},
        ],
        id="a request of a named stack: the stack in both sets",
    ),
]


def _powertools(
    namespace: str, service: str, values: dict[str, int], dimension_sets: list[dict[str, str]]
) -> dict[str, object]:
    metrics = EphemeralMetrics(namespace=namespace, service=service)
    first, *more = dimension_sets
    for name, value in first.items():
        metrics.add_dimension(name=name, value=value)
    for extra in more:
        metrics.add_dimensions(**{c.DIMENSION_SERVICE: service, **extra})
    for name, count in values.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    document: dict[str, object] = metrics.serialize_metric_set()
    return document


@pytest.mark.parametrize(("values", "dimension_sets"), CASES)
def test_the_document_is_the_one_powertools_writes(
    values: dict[str, int], dimension_sets: list[dict[str, str]]
) -> None:
    expected = _powertools("Team/Live", "replication", values, dimension_sets)
    timestamp = expected["_aws"]["Timestamp"]  # type: ignore[index]

    ours = emf_document("Team/Live", "replication", values, dimension_sets, timestamp)

    # Equal as JSON, and in the same key order (the dimension sets' order is meaningful).
    assert json.loads(ours) == expected
    assert list(json.loads(ours)) == list(expected)
