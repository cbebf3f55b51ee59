"""boto3 clients for the local endpoints: explicit endpoint, region and dummy credentials.

Credentials, region and endpoint are given explicitly, so a client made here reaches the
local endpoint it was made for whatever ``AWS_*`` credential or endpoint variables the process
carries (a missing ``AWS_PROFILE`` still fails in botocore, as for any client).
"""

from __future__ import annotations

from ivs_realtime_emulator import assumptions

# boto3 needs credentials to sign; the endpoints are local, so these reach nothing.
DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"  # noqa: S105 - a placeholder, not a secret
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 10.0


def local_client(
    service_name: str,
    endpoint_url: str,
    *,
    region: str = assumptions.DEFAULT_REGION,
) -> object:
    """A boto3 client for ``service_name`` at ``endpoint_url``.

    ``region`` default us-east-1. Connect timeout 3 s, read timeout 10 s, one attempt (no
    botocore retries: the code under test does its own). boto3 is imported here, on first use.
    """
    import boto3  # noqa: PLC0415 - importing ivs_realtime_emulator must stay light
    from botocore.config import Config  # noqa: PLC0415

    settings = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"total_max_attempts": 1},
    )
    # A session of its own, so boto3's default session (and its credentials) stay untouched.
    session = boto3.session.Session(
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
        region_name=region,
    )
    client: object = session.client(  # type: ignore[call-overload]
        service_name, endpoint_url=endpoint_url, config=settings
    )
    return client
