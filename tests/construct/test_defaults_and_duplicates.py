"""Follow by default, the warning for fail() with a new source stage, and one declaration of a
replication per stack, and per app."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match, Template

from ivs_replication import (
    DECLARED_IN_SEVERAL_STACKS_WARNING,
    FAIL_WITH_NEW_SOURCE_STAGE_WARNING,
    WhenNotPublishing,
)
from ivs_replication_handler import contract as c
from tests.construct.helpers import NO_BUNDLING, cfn_stage, new_stack, replicate


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


def two_stacks_of_one_app() -> tuple[cdk.App, cdk.Stack, cdk.Stack]:
    app = cdk.App(context=NO_BUNDLING)
    return app, cdk.Stack(app, "Live"), cdk.Stack(app, "Backup")


def test_the_same_replication_in_two_stacks_of_one_app_fails_synth_naming_both_paths() -> None:
    """Each stack's registry owns what it declares alone: deleting either stack would stop the
    replication for the other."""
    app, live, backup = two_stacks_of_one_app()
    replicate(live)
    replicate(backup, "Again")

    with pytest.raises(RuntimeError, match=r"Backup/Again and Live/Replication declare the same"):
        app.synth()


def test_acknowledging_the_warning_on_either_construct_lets_the_app_synthesize() -> None:
    """Teams that mean it (stacks deployed to different accounts or regions) acknowledge it;
    the other construct keeps the warning."""
    app, live, backup = two_stacks_of_one_app()
    replicate(live)
    again = replicate(backup, "Again")
    cdk.Annotations.of(again).acknowledge_warning(
        DECLARED_IN_SEVERAL_STACKS_WARNING, "deployed to another account"
    )

    app.synth()

    assert warnings_with_id(live, DECLARED_IN_SEVERAL_STACKS_WARNING) == ["/Live/Replication"]
    assert warnings_with_id(backup, DECLARED_IN_SEVERAL_STACKS_WARNING) == []


def test_different_replications_in_two_stacks_of_one_app_synthesize() -> None:
    app, live, backup = two_stacks_of_one_app()
    replicate(live)
    replicate(backup, participant_id="host-2")
    app.synth()
    assert warnings_with_id(live, DECLARED_IN_SEVERAL_STACKS_WARNING) == []


def test_the_same_replication_in_two_apps_is_allowed() -> None:
    """Two apps cannot see each other (see the guide's "Several stacks and refactors")."""
    replicate(new_stack())
    replicate(new_stack())
