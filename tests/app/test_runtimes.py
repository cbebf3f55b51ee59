"""The Lambda runtimes `ReplicationProvider.configure(runtime=...)` accepts are those the
bundle runs on: it is pure Python (so both architectures), every package in it admits them,
and, on each such interpreter this machine has, the bundle alone starts and stops a
replication on the local IVS endpoint through the handler's entry point."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from ivs_realtime_emulator import IvsRealtimeEmulator
from ivs_replication.asset import bundle_path
from ivs_replication.tuning import SUPPORTED_RUNTIMES
from ivs_replication_handler import contract as c

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PYENV = Path.home() / ".pyenv" / "versions"


def _requires_python_of_bundle() -> dict[str, SpecifierSet]:
    with zipfile.ZipFile(bundle_path()) as bundle:
        found = {}
        for name in bundle.namelist():
            if name.endswith(".dist-info/METADATA"):
                text = bundle.read(name).decode()
                match = re.search(r"^Requires-Python: (.*)$", text, re.MULTILINE)
                if match:
                    found[name.split("/")[0]] = SpecifierSet(match.group(1))
    return found


def _lambda_python_runtimes() -> list[str]:
    return sorted(
        {
            getattr(lambda_.Runtime, name).name
            for name in dir(lambda_.Runtime)
            if name.startswith("PYTHON_3")
        }
    )


def test_the_bundle_is_pure_python_so_it_runs_on_both_architectures() -> None:
    with zipfile.ZipFile(bundle_path()) as bundle:
        compiled = [n for n in bundle.namelist() if n.endswith((".so", ".pyd", ".dylib"))]
    assert compiled == []


def test_the_accepted_runtimes_are_the_lambda_pythons_the_bundle_and_the_project_admit() -> None:
    project = SpecifierSet(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    )
    packages = _requires_python_of_bundle()
    assert len(packages) >= 5  # botocore, Powertools, urllib3, ...

    def admitted(runtime: str) -> bool:
        version = Version(runtime.removeprefix("python") + ".0")
        return version in project and all(version in spec for spec in packages.values())

    assert list(SUPPORTED_RUNTIMES) == [r for r in _lambda_python_runtimes() if admitted(r)]


def _interpreter(runtime: str) -> str | None:
    version = runtime.removeprefix("python")
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    candidates = sorted(PYENV.glob(f"{version}.*/bin/python{version}"))
    if candidates:
        return str(candidates[-1])
    found = shutil.which(runtime)
    # A pyenv shim stands for an interpreter that may not be installed.
    return found if found and "/shims/" not in found else None


RUN = textwrap.dedent(
    """
    import json, sys
    sys.path[:0] = [ASSET]
    from ivs_replication_handler import handler

    class Context:
        function_name = "Live-OnEvent"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:Live-OnEvent"
        aws_request_id = "5f0c8a52-0000-4000-8000-000000000001"
        def get_remaining_time_in_millis(self):
            return 300_000

    def event(kind, **extra):
        return {
            "RequestType": kind,
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:Live-Framework",
            "ResponseURL": "https://example.invalid/response",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/Live/1",
            "RequestId": "0b7f7a1e-2222-4333-8444-555566667777",
            "LogicalResourceId": "HostIntoSide",
            "ResourceType": "Custom::IvsParticipantReplication",
            "ResourceProperties": PROPS,
            **extra,
        }

    created = handler.on_event(event("Create"), Context())
    print(json.dumps({"version": list(sys.version_info[:2]), "created": created}))
    sys.stdout.flush()
    handler.on_event(event("Delete", PhysicalResourceId=created["PhysicalResourceId"]), Context())
    """
)


@pytest.fixture(scope="module")
def asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("asset") / "asset"
    with zipfile.ZipFile(bundle_path()) as bundle:
        bundle.extractall(directory)
    return directory


@pytest.mark.parametrize("runtime", SUPPORTED_RUNTIMES)
def test_the_bundle_alone_starts_and_stops_a_replication_on_each_runtime(
    runtime: str, asset: Path, local_ivs: IvsRealtimeEmulator, tmp_path: Path
) -> None:
    interpreter = _interpreter(runtime)
    if interpreter is None:
        pytest.skip(f"no {runtime} interpreter on this machine")
    source = local_ivs.create_stage("main")
    destination = local_ivs.create_stage("side")
    local_ivs.publish(source, "host-1")
    props = {
        c.PROP_SOURCE_STAGE_ARN: source,
        c.PROP_DESTINATION_STAGE_ARN: destination,
        c.PROP_PARTICIPANT_ID: "host-1",
        c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FAIL,
    }
    code = f"ASSET = {str(asset)!r}\nPROPS = {props!r}\n{RUN}"
    result = subprocess.run(
        [interpreter, "-S", "-B", "-c", code],
        cwd=tmp_path,  # so '' on sys.path finds nothing
        env={
            "PATH": "/usr/bin:/bin",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_IVS_REALTIME": local_ivs.endpoint_url,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    [answer] = [json.loads(line) for line in result.stdout.splitlines() if '"created"' in line]
    assert answer["version"] == [int(part) for part in runtime.removeprefix("python").split(".")]
    assert answer["created"]["PhysicalResourceId"] == f"{source}|{destination}|host-1"
    replicas = local_ivs.client().list_participant_replicas(
        sourceStageArn=source, participantId="host-1"
    )["replicas"]
    # Started by the Create (ACTIVE, or it would have failed), stopped by the Delete.
    assert [r["replicationState"] for r in replicas] == ["STOPPED"]
