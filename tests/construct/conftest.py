from __future__ import annotations

import aws_cdk as cdk
import pytest

from tests.construct.helpers import new_stack


@pytest.fixture
def stack() -> cdk.Stack:
    return new_stack()
