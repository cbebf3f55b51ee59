"""Which EventBridge events the reconciler takes for a "Participant Published" of IVS.

The follow rule matches these events only, but the reconciler also runs the sweep and may be
invoked by hand or by another rule: anything short of a well-formed event of IVS names no
publisher (it is ignored), each field checked on its own.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import pytest

from ivs_replication_handler.reconciler import published_publisher
from tests.publishing import published_event

STAGE = "arn:aws:ivs:us-east-1:123456789012:stage/AbCdEfGh1234"
PARTICIPANT = "encoder-1"


def _with(path: tuple[str, ...], value: object) -> dict[str, Any]:
    """The well-formed event with the field at `path` set to `value`."""
    event = deepcopy(published_event(STAGE, PARTICIPANT, session_id="st-1"))
    target = event
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    return event


def test_a_well_formed_event_names_its_stage_and_participant() -> None:
    assert published_publisher(published_event(STAGE, PARTICIPANT)) == (STAGE, PARTICIPANT)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("source",), "aws.s3"),
        (("detail-type",), "IVS Participant State Change"),
        (("detail",), "Participant Published"),
        (("detail", "event_name"), "Participant Unpublished"),
        (("resources",), STAGE),
        (("resources",), []),
        (("resources",), [7]),
        (("detail", "participant_id"), None),
    ],
    ids=[
        "another-source",
        "another-detail-type",
        "detail-not-an-object",
        "another-event-name",
        "resources-not-a-list",
        "no-resources",
        "stage-not-text",
        "no-participant-id",
    ],
)
def test_an_event_wrong_in_one_field_names_no_publisher(
    path: tuple[str, ...], value: object
) -> None:
    """One wrong field is enough: the rest being right never makes it a publisher's event
    (nor does a malformed field raise)."""
    assert published_publisher(_with(path, value)) is None
