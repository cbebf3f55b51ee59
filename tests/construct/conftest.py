from __future__ import annotations

import functools
from collections.abc import Callable

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from tests.construct.helpers import new_stack, stack_following


@pytest.fixture
def stack() -> cdk.Stack:
    return new_stack()


@pytest.fixture(scope="session")
def following() -> Callable[[int, int], Template]:
    """`following(publishers, source_stages)`: the template of `stack_following`, synthesized
    once per session (the 480-replication stack takes seconds) for the tests that only read
    it."""

    @functools.cache
    def template(publishers: int, source_stages: int) -> Template:
        return Template.from_stack(stack_following(publishers, source_stages))

    return template
