"""Follow by default, the warning for fail() with a new source stage, and one declaration per
replication per stack."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Annotations, Match, Template

from ivs_replication import FAIL_WITH_NEW_SOURCE_STAGE_WARNING, WhenNotPublishing
from ivs_replication_handler import contract as c
from tests.construct.helpers import cfn_stage, new_stack, replicate


def warnings_with_id(stack, warning_id: str) -> list[str]:
    found = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp(warning_id))
    return [message.id for message in found]


def test_a_replication_without_a_mode_follows_its_publisher() -> None:
    """The declaration holds whatever the publisher does."""
    stack = new_stack()
    replication = replicate(stack, when_not_publishing=None)
    assert replication.when_not_publishing == WhenNotPublishing.follow()
    Template.from_stack(stack).has_resource_properties(
        c.RESOURCE_TYPE, {c.PROP_WHEN_NOT_PUBLISHING: c.MODE_FOLLOW}
    )


@pytest.mark.parametrize("as_arn", [False, True], ids=["stage", "stage-arn-token"])
def test_fail_with_a_source_stage_of_the_same_stack_warns(as_arn: bool) -> None:
    """Nobody can publish in a stage before the deploy that creates it."""
    stack = new_stack()
    source = cfn_stage(stack, "Main")
    replicate(
        stack,
        source_stage=source.attr_arn if as_arn else source,
        when_not_publishing=WhenNotPublishing.fail(),
    )
    assert warnings_with_id(stack, FAIL_WITH_NEW_SOURCE_STAGE_WARNING) == ["/TestStack/Replication"]


@pytest.mark.parametrize(
    "mode", [None, WhenNotPublishing.fail()], ids=["follow-with-new-stage", "fail-with-arn"]
)
def test_no_warning_without_both_fail_and_a_new_source_stage(mode) -> None:
    stack = new_stack()
    source = cfn_stage(stack, "Main") if mode is None else None
    kwargs = {} if source is None else {"source_stage": source}
    replicate(stack, when_not_publishing=mode, **kwargs)
    assert warnings_with_id(stack, FAIL_WITH_NEW_SOURCE_STAGE_WARNING) == []


def test_declaring_one_replication_twice_in_a_stack_names_both_paths() -> None:
    """Two resources would share one physical id and one registry item."""
    stack = new_stack()
    replicate(stack, "First")
    with pytest.raises(ValueError, match=r"TestStack/Second .* TestStack/First"):
        replicate(stack, "Second", when_not_publishing=WhenNotPublishing.fail())


def test_the_same_replication_in_two_stacks_is_allowed() -> None:
    """Across stacks each has its own registry and resource (see the README's Limits)."""
    replicate(new_stack())
    replicate(new_stack())
