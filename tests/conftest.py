"""Settings every test shares: no test may reach AWS, and none needs an account."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Set before anything imports boto3 or the CDK (jsii reads its variables at start-up).
_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # a dummy: nothing can reach AWS
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "CDK_DISABLE_VERSION_CHECK": "1",
}
os.environ.update(_ENVIRONMENT)
for _variable in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    os.environ.pop(_variable, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull

from ivs_replication.testing.dynamodb import LocalDynamoDB  # noqa: E402
from tests.service_profiles import PROFILE_OPTION, deselect_unselected_profiles  # noqa: E402
from tests.state_machines import stateful_settings  # noqa: E402, F401 - registers the profiles

# The harness's fixtures (`local_dynamodb`) are opt-in, as they are for users; the emulator's
# `local_ivs` comes with its distribution's own plugin.
pytest_plugins = ["ivs_replication.testing.pytest_plugin"]


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[LocalDynamoDB]:
    """One local DynamoDB (moto's server) for a module's tests: each makes its own tables
    (the harness's `local_dynamodb` starts one per test)."""
    with LocalDynamoDB() as server:
        yield server


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        PROFILE_OPTION,
        action="append",
        default=[],
        metavar="NAME",
        help="run the lifecycle and follow suites under this emulator service profile only "
        "(repeatable): a built-in one or one of the suite's (tests/service_profiles.py). "
        "Default: every profile",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    deselect_unselected_profiles(config, items)
