"""The AWS side of the CLI: clients of one session, and botocore's errors as one line each."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from ivs_replication_cli.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_AWS_ERROR,
    EXIT_NO_CREDENTIALS,
    EXIT_NO_STACK,
    CliError,
)
from ivs_replication_handler import aws as handler_aws
from ivs_replication_handler import contract as c
from ivs_replication_handler.errors import DeadlineExceededError, ServiceError
from ivs_replication_handler.retries import Deadline

# service name -> a boto3 client of it; tests pass clients of local endpoints.
ClientFactory = Callable[[str], Any]

# How long one command may spend on IVS and DynamoDB calls (retries included).
COMMAND_BUDGET_SECONDS = 120.0
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException"}
)


def session_clients(region: str | None) -> ClientFactory:
    """Clients of one boto3 session in `region` (Default: the SDK's own resolution). IVS and
    DynamoDB get the handler's settings (one attempt each, the caller retries); Lambda a read
    timeout longer than the reconciler's and no retry, so a sweep is asked for once."""
    # Any: the stubs type `client` per literal service name, and these names are variables.
    session: Any = boto3.Session(region_name=region)

    def client(service: str) -> Any:  # noqa: ANN401 - a boto3 client of any service
        if service in c.AWS_SERVICES:
            return session.client(service, config=handler_aws.client_config())
        if service == "lambda":
            config = Config(
                read_timeout=c.RECONCILER_TIMEOUT_SECONDS + 30,
                retries={"total_max_attempts": 1},
            )
            return session.client(service, config=config)
        return session.client(service)

    return client


def command_deadline(seconds: float = COMMAND_BUDGET_SECONDS) -> Deadline:
    """The handler's Deadline, measured from now on the monotonic clock."""
    end = time.monotonic() + seconds
    return Deadline(lambda: int((end - time.monotonic()) * 1000), margin_seconds=0)


@contextmanager
def one_line_errors(stack_name: str) -> Iterator[None]:
    """Turn what AWS answers into a CliError naming the cause and its exit status."""
    try:
        yield
    except (NoCredentialsError, PartialCredentialsError) as error:
        raise CliError(
            EXIT_NO_CREDENTIALS,
            f"no AWS credentials ({error}); set AWS_PROFILE, run 'aws configure' or "
            "'aws sso login'",
        ) from error
    except NoRegionError as error:
        raise CliError(
            EXIT_NO_CREDENTIALS, "no AWS region; pass --region or set AWS_DEFAULT_REGION"
        ) from error
    except ClientError as error:
        raise _client_error(stack_name, error) from error
    except ServiceError as error:
        raise _service_error(error) from error
    except DeadlineExceededError as error:
        raise CliError(EXIT_AWS_ERROR, f"gave up: {error}") from error
    except BotoCoreError as error:
        raise CliError(EXIT_AWS_ERROR, str(error)) from error


def _client_error(stack_name: str, error: ClientError) -> CliError:
    details = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    text = str(details.get("Message", "")) or str(error)
    operation = error.operation_name
    if code == "ValidationError" and "does not exist" in text:
        return CliError(EXIT_NO_STACK, f"no stack named {stack_name!r} in this region ({text})")
    if code in ACCESS_DENIED_CODES:
        return CliError(EXIT_ACCESS_DENIED, f"access denied to {operation}: {text}")
    return CliError(EXIT_AWS_ERROR, f"{operation} failed: {code}: {text}")


def _service_error(error: ServiceError) -> CliError:
    if error.code in ACCESS_DENIED_CODES:
        return CliError(EXIT_ACCESS_DENIED, f"access denied to {error.operation}: {error.message}")
    return CliError(EXIT_AWS_ERROR, f"{error.operation} failed: {error.code}: {error.message}")
