"""A plain boto3 program, configured only by the standard environment variables, works
against `python -m ivs_realtime_emulator serve` (the acceptance of the local endpoint)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import ivs_replication

REPO = Path(__file__).resolve().parents[2]
CONSTRUCTS_DIR = Path(ivs_replication.__file__).resolve().parent.parent


@pytest.fixture
def served_endpoint() -> Iterator[str]:
    env = {**os.environ, "PYTHONPATH": str(CONSTRUCTS_DIR)}
    server = subprocess.Popen(
        [sys.executable, "-m", "ivs_realtime_emulator", "serve"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def test_plain_boto3_program_replicates_and_sees_the_service_error_shape(
    served_endpoint: str,
) -> None:
    # Only what any boto3 user sets: no project code on the path, no profile or config.
    env = {
        "PATH": os.environ["PATH"],
        "AWS_ENDPOINT_URL_IVS_REALTIME": served_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    result = subprocess.run(
        [sys.executable, str(REPO / "example" / "plain_boto3.py")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    report = json.loads(result.stdout)

    assert report["after_start"] == ["ACTIVE"]
    assert report["after_stop"] == ["STOPPED"]
    assert report["bad_input"]["code"] == "ValidationException"
    assert report["bad_input"]["status"] == 400
    assert "destinationStageArn" in report["bad_input"]["exceptionMessage"]
