"""P4: cold start of the deployed handler vs bare boto3, and the asset's size.

Each sample is a fresh `python -S -B` process whose sys.path holds only the built asset (so
both sides load the pinned, trimmed botocore from the asset, and no site-packages). The asset
has no boto3 (the functions create botocore clients directly); the baseline gets this
environment's boto3 and s3transfer (pinned in step with the asset's botocore), copied beside
the asset, as a bare boto3 Lambda would carry them. `-B` because the Lambda file system is
read-only: the asset ships no .pyc, so every cold start compiles.
The local endpoint answers the handler's first request, a Delete of a replication between
stages that do not exist: its Stop is refused with ResourceNotFound, and the listing read
after it (the handler takes no refusal at its word) finds the source stage gone. The baseline
makes the same two calls.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
import s3transfer

from bench.common import Row, at_most, child_environment, median
from bench.local_ivs import local_endpoint
from ivs_replication.asset import bundle_path

# Many runs: on a 2-core machine a single cold start varies by ±20 % with the other load.
RUNS = 15
ZIP_LIMIT_BYTES = int(2.5 * 1024 * 1024)

# Shared prologue: only the asset on sys.path, a clock started before any import.
_PROLOGUE = """
import time
started = time.perf_counter()
import sys
sys.path[:0] = {path!r}
"""
# ru_maxrss survives execve (it can report the forking parent's peak), so VmHWM, the peak
# of this process image's own memory, is reported beside it.
_EPILOGUE = """
import json, resource
with open("/proc/self/status") as status:
    hwm = [int(line.split()[1]) for line in status if line.startswith("VmHWM:")]
usage = resource.getrusage(resource.RUSAGE_SELF)
print("BENCH " + json.dumps({{"seconds": elapsed, "extra": extra,
    "cpu_seconds": usage.ru_utime + usage.ru_stime,
    "max_rss_kib": usage.ru_maxrss,
    "vm_hwm_kib": hwm[0] if hwm else None}}), flush=True)
"""
# The handler: import its entry point, then make the first call, as Lambda's init + invoke.
_HANDLER = """
from ivs_replication_handler.handler import on_event

class Context:
    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench-request"
    def get_remaining_time_in_millis(self):
        return 300_000

arn = "arn:aws:ivs:us-east-1:123456789012:stage/"
event = {{
    "RequestType": "Delete",
    "LogicalResourceId": "Replication",
    "PhysicalResourceId": arn + "Nowhere1|" + arn + "Nowhere2|host-1",
    "ResourceProperties": {{}},
}}
on_event(event, Context())
elapsed = time.perf_counter() - started
extra = None
"""
# The baseline: import boto3 and create the client; then the handler's two calls (a Stop and
# the listing after its refusal), timed apart.
_BOTO3 = """
import boto3
client = boto3.client("ivs-realtime")
elapsed = time.perf_counter() - started
arn = "arn:aws:ivs:us-east-1:123456789012:stage/"
try:
    client.stop_participant_replication(
        sourceStageArn=arn + "Nowhere1", destinationStageArn=arn + "Nowhere2",
        participantId="host-1")
except client.exceptions.ResourceNotFoundException:
    pass
try:
    client.list_participant_replicas(sourceStageArn=arn + "Nowhere1", participantId="host-1")
except client.exceptions.ResourceNotFoundException:
    pass
extra = time.perf_counter() - started
"""


def measure() -> tuple[list[Row], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-asset-") as scratch:
        asset = Path(scratch) / "asset"
        build_started = time.perf_counter()
        with zipfile.ZipFile(bundle_path()) as bundle:  # what Lambda unpacks
            bundle.extractall(asset)
        build_seconds = time.perf_counter() - build_started
        zip_bytes = bundle_path().stat().st_size
        boto3_layer = _copy_boto3(Path(scratch) / "boto3-layer")
        with local_endpoint() as local:
            env = child_environment(AWS_ENDPOINT_URL_IVS_REALTIME=local.endpoint_url)
            handler_runs: list[dict[str, Any]] = []
            boto3_runs: list[dict[str, Any]] = []
            for _ in range(RUNS):  # interleaved, so drift hits both sides alike
                handler_runs.append(_child(_HANDLER, [asset], env, scratch))
                boto3_runs.append(_child(_BOTO3, [asset, boto3_layer], env, scratch))
    handler_s = median([r["seconds"] for r in handler_runs])
    boto3_s = median([r["seconds"] for r in boto3_runs])
    boto3_with_call_s = median([r["extra"] for r in boto3_runs])
    handler_cpu = median([r["cpu_seconds"] for r in handler_runs])
    boto3_cpu = median([r["cpu_seconds"] for r in boto3_runs])
    handler_rss = median([r["vm_hwm_kib"] for r in handler_runs])
    boto3_rss = median([r["vm_hwm_kib"] for r in boto3_runs])
    raw = {
        "runs_per_side": RUNS,
        "handler_cold_seconds_median": handler_s,
        "boto3_import_and_client_seconds_median": boto3_s,
        "boto3_with_the_same_calls_seconds_median": boto3_with_call_s,
        "ratio_vs_boto3_with_the_same_calls": handler_s / boto3_with_call_s,
        "handler_process_cpu_seconds_median": handler_cpu,
        "boto3_process_cpu_seconds_median": boto3_cpu,
        "handler_peak_rss_kib_median": handler_rss,
        "boto3_peak_rss_kib_median": boto3_rss,
        "peak_rss_source": "VmHWM of the child; ru_maxrss (also in the samples) can carry "
        "the forking parent's peak across execve",
        "handler_ru_maxrss_kib_median": median([r["max_rss_kib"] for r in handler_runs]),
        "asset_zip_bytes": zip_bytes,
        "asset_build_seconds_warm_cache": build_seconds,
        "handler_samples": handler_runs,
        "boto3_samples": boto3_runs,
    }
    rows = [
        at_most(
            "P4.cold_start",
            "P4 cold start",
            handler_s / boto3_with_call_s,
            limit=1.1,
            detail=f"{handler_s * 1000:.0f} ms vs {boto3_with_call_s * 1000:.0f} ms (import "
            f"boto3, a client, a Stop and a List; {boto3_s * 1000:.0f} ms without the calls); "
            f"process CPU {handler_cpu / boto3_cpu:.2f}x; "
            f"peak RSS {handler_rss / 1024:.0f} MiB vs {boto3_rss / 1024:.0f} MiB",
        ),
        Row(
            "P4.asset_zip",
            "P4 asset zip size",
            zip_bytes / ZIP_LIMIT_BYTES,
            "<= 2.5 MiB",
            zip_bytes <= ZIP_LIMIT_BYTES,
            f"{zip_bytes / 1024 / 1024:.2f} MiB zipped (deflate); ratio = share of 2.5 MiB",
        ),
    ]
    return rows, raw


def _copy_boto3(layer: Path) -> Path:
    """boto3 and s3transfer as installed here, without bytecode, for the baseline."""
    for package in (boto3, s3transfer):
        source = Path(package.__file__ or "").parent
        shutil.copytree(source, layer / source.name, ignore=shutil.ignore_patterns("__pycache__"))
    return layer


def _child(body: str, path: list[Path], env: dict[str, str], cwd: str) -> dict[str, Any]:
    code = _PROLOGUE.format(path=[str(p) for p in path]) + body.format() + _EPILOGUE.format()
    result = subprocess.run(
        [sys.executable, "-S", "-B", "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH "):
            sample: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
            return sample
    raise RuntimeError(f"cold-start child failed:\n{result.stdout[-1500:]}{result.stderr[-1500:]}")
