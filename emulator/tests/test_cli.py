"""`python -m ivs_realtime_emulator serve` prints a usable URL and exits 0 on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys

import boto3
from botocore.config import Config


def test_serve_prints_the_endpoint_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "ivs_realtime_emulator", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        hint = process.stdout.readline().strip()
        client = boto3.client(
            "ivs-realtime",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 1}),
        )

        stage = client.create_stage(name="from-cli")["stage"]

        assert url.startswith("http://127.0.0.1:")
        assert hint == f"export AWS_ENDPOINT_URL_IVS_REALTIME={url}"
        assert stage["name"] == "from-cli"
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=10)
    assert exit_code == 0, process.stderr.read() if process.stderr else ""
