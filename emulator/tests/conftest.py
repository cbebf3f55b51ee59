"""Fixtures for the emulator's tests; no test can reach AWS (dummy credentials, no profile)."""

from __future__ import annotations

import os

# Set before anything creates a boto3 client.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # a dummy: nothing can reach AWS
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
)
os.environ.pop("AWS_PROFILE", None)

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

if TYPE_CHECKING:
    from collections.abc import Callable

    from ivs_realtime_emulator import IvsRealtimeEmulator

SHORT_TIMEOUTS = {"connect_timeout": 2, "read_timeout": 5}


@pytest.fixture
def make_client(local_ivs: IvsRealtimeEmulator) -> Callable[..., Any]:
    """boto3 ivs-realtime clients configured only by the environment the fixture set."""

    def make(**config: Any) -> Any:
        settings = {**SHORT_TIMEOUTS, **config}
        return boto3.client("ivs-realtime", config=Config(**settings))

    return make


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    """A client without retries, so each call is exactly one request."""
    return make_client(retries={"total_max_attempts": 1})


@pytest.fixture
def stages(local_ivs: IvsRealtimeEmulator) -> tuple[str, str]:
    """A source and a destination stage."""
    return local_ivs.create_stage("source"), local_ivs.create_stage("destination")


HttpAnswer = tuple[int, dict[str, str], dict[str, Any]]


def raw_request(url: str, *, method: str = "POST", body: bytes | None = None) -> HttpAnswer:
    """One HTTP request without any SDK: (status, headers, JSON body)."""
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


@pytest.fixture
def http(local_ivs: IvsRealtimeEmulator) -> Callable[..., HttpAnswer]:
    """``http(path, payload=None, method="POST", body=None)`` against the endpoint, no SDK."""

    def request(
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        method: str = "POST",
        body: bytes | None = None,
    ) -> HttpAnswer:
        data = json.dumps(payload).encode() if payload is not None else body
        return raw_request(f"{local_ivs.endpoint_url}{path}", method=method, body=data)

    return request
