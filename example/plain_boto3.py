"""A plain boto3 program against the local IVS endpoint: nothing project-specific.

    python -m ivs_realtime_emulator serve --port 8765 &
    AWS_ENDPOINT_URL_IVS_REALTIME=http://127.0.0.1:8765 python example/plain_boto3.py

It creates two stages, makes a participant publish through the endpoint's control route
(`POST /_local/publish`), starts, lists and stops a replication, and shows the error the
service's shape gives bad input. Only boto3 and the standard library; the endpoint comes from
the standard `AWS_ENDPOINT_URL_IVS_REALTIME` variable. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

import boto3
from botocore.exceptions import ClientError

PARTICIPANT = "host-1"


def publish(stage_arn: str, participant_id: str) -> None:
    """The local endpoint's control route; the real service learns this from a WebRTC client."""
    request = urllib.request.Request(  # noqa: S310 - the local endpoint's own URL
        os.environ["AWS_ENDPOINT_URL_IVS_REALTIME"] + "/_local/publish",
        data=json.dumps({"stageArn": stage_arn, "participantId": participant_id}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310
        pass


def main() -> dict[str, Any]:
    client = boto3.client("ivs-realtime")
    source = client.create_stage(name="main")["stage"]["arn"]
    destination = client.create_stage(name="side")["stage"]["arn"]
    publish(source, PARTICIPANT)
    client.start_participant_replication(
        sourceStageArn=source,
        destinationStageArn=destination,
        participantId=PARTICIPANT,
        reconnectWindowSeconds=30,
    )
    listed = client.list_participant_replicas(sourceStageArn=source, participantId=PARTICIPANT)
    client.stop_participant_replication(
        sourceStageArn=source, destinationStageArn=destination, participantId=PARTICIPANT
    )
    after_stop = client.list_participant_replicas(sourceStageArn=source, participantId=PARTICIPANT)
    try:
        client.start_participant_replication(
            sourceStageArn=source, destinationStageArn="not-an-arn", participantId=PARTICIPANT
        )
        bad_input: dict[str, Any] = {"error": None}
    except ClientError as error:
        bad_input = {
            "code": error.response["Error"]["Code"],
            "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
            "exceptionMessage": error.response.get("exceptionMessage"),
        }
    return {
        "after_start": [r["replicationState"] for r in listed["replicas"]],
        "after_stop": [r["replicationState"] for r in after_stop["replicas"]],
        "bad_input": bad_input,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
