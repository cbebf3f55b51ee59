"""The trimmed handler asset still does everything the handler needs from botocore.

`ivs_replication.asset` keeps only the models of the services the functions call (ivs-realtime,
and dynamodb for follow mode's registry) and the endpoint data of botocore. These tests load
the built asset alone (`python -S -B`, nothing but the asset on sys.path), create the clients
through the handler's own code, and prove each resolves an endpoint in every region botocore
knows.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from ivs_replication.asset import bundle_path
from ivs_replication_handler.contract import (
    AWS_SERVICES,
    ON_EVENT_ENTRY_POINT,
    RECONCILER_ENTRY_POINT,
)

ENTRY_POINTS = [ON_EVENT_ENTRY_POINT, RECONCILER_ENTRY_POINT]

pytestmark = pytest.mark.slow

ZIP_LIMIT_BYTES = 5 * 1024 * 1024

# Runs inside the asset only. Reads the regions from the asset's own botocore data.
PROBE = textwrap.dedent(
    """
    import json, sys
    sys.path[:0] = [ASSET]
    import botocore, botocore.session
    from pathlib import Path
    from botocore.exceptions import UnknownServiceError

    data = Path(botocore.__file__).parent / "data"
    regions = {}
    for name in ("partitions.json", "endpoints.json"):
        for partition in json.loads((data / name).read_text())["partitions"]:
            for region in partition["regions"]:
                regions.setdefault(region, partition.get("id") or partition.get("partition"))
    session = botocore.session.get_session()
    session.set_credentials("testing", "testing")
    endpoints = {
        service: {
            region: session.create_client(service, region_name=region).meta.endpoint_url
            for region in sorted(regions)
        }
        for service in SERVICES
    }
    # The clients as the deployed functions create them, from the asset's handler package.
    from ivs_replication_handler.ivs import IvsRealtime
    from ivs_replication_handler.registry import Registry
    handler_clients = [
        IvsRealtime().client.meta.service_model.service_name,
        Registry("registry").client.meta.service_model.service_name,
    ]
    import importlib
    entry_points = []
    for entry_point in ENTRY_POINTS:
        module, _, name = entry_point.rpartition(".")
        if callable(getattr(importlib.import_module(module), name)):
            entry_points.append(entry_point)
    try:
        session.create_client("s3", region_name="us-east-1")
        s3 = "created"
    except UnknownServiceError:
        s3 = "UnknownServiceError"
    print(json.dumps({
        "botocore": botocore.__file__,
        "partitions": sorted(set(regions.values())),
        "endpoints": endpoints,
        "handler_clients": handler_clients,
        "entry_points": entry_points,
        "sdk_packages_loaded": sorted(
            {m.split(".")[0] for m in sys.modules} & {"boto3", "s3transfer", "botocore"}
        ),
        "s3": s3,
        "services": session.get_available_services(),
    }))
    """
)


@pytest.fixture(scope="module")
def asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("asset") / "asset"
    with zipfile.ZipFile(bundle_path()) as bundle:
        bundle.extractall(directory)
    return directory


@pytest.fixture(scope="module")
def probe(asset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    code = (
        f"ASSET = {str(asset)!r}\nSERVICES = {list(AWS_SERVICES)!r}\n"
        f"ENTRY_POINTS = {ENTRY_POINTS!r}\n{PROBE}"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-B", "-c", code],
        cwd=tmp_path_factory.mktemp("empty"),  # so '' on sys.path finds nothing
        env={
            "PATH": "/usr/bin:/bin",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_DEFAULT_REGION": "us-east-1",  # the Lambda runtime sets it too
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_the_probe_loads_botocore_from_the_asset(asset: Path, probe: dict[str, object]) -> None:
    assert Path(str(probe["botocore"])).is_relative_to(asset)


def test_the_handlers_create_their_clients_from_the_asset(probe: dict[str, object]) -> None:
    assert probe["handler_clients"] == ["ivs-realtime", "dynamodb"]


def test_both_lambda_entry_points_import_from_the_asset(probe: dict[str, object]) -> None:
    assert probe["entry_points"] == ENTRY_POINTS


def test_the_functions_load_botocore_only_not_boto3(probe: dict[str, object]) -> None:
    """No boto3 in the bundle, and nothing imports one: importing boto3 (and its s3transfer)
    costs about 50 ms of each cold start, and the runtime's own boto3 would not match the
    bundle's pinned botocore."""
    assert probe["sdk_packages_loaded"] == ["botocore"]


@pytest.mark.parametrize("service", AWS_SERVICES)
def test_each_service_resolves_an_https_endpoint_in_every_region(
    probe: dict[str, object], service: str
) -> None:
    all_endpoints = probe["endpoints"]
    assert isinstance(all_endpoints, dict)
    endpoints = all_endpoints[service]
    assert isinstance(endpoints, dict)
    partitions = probe["partitions"]
    assert isinstance(partitions, list)
    # botocore 1.44 knows these; a trimmed file that lost a partition would shrink the list.
    assert {"aws", "aws-cn", "aws-us-gov"} <= set(partitions)
    assert "us-east-1" in endpoints
    assert "cn-north-1" in endpoints
    wrong = {
        region: url
        for region, url in endpoints.items()
        if not (url.startswith("https://") and region in url)
    }
    assert not wrong, f"regions without a proper endpoint: {wrong}"


def test_other_services_models_are_gone(probe: dict[str, object]) -> None:
    assert probe["s3"] == "UnknownServiceError"
    assert probe["services"] == sorted(AWS_SERVICES)


def test_the_bundle_is_at_most_5_mb() -> None:
    assert bundle_path().stat().st_size <= ZIP_LIMIT_BYTES
