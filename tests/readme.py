"""The README's and the guide's code, as tests run it: a block the reader copies is the block a
test runs, so the test fails when the page's example breaks.

A block a test runs follows a marker line, `<!-- test: NAME -->`, on its page; the tests name
the page and the marker (the constants below). Every other ```python block of the README and
of docs/ is marked `<!-- example: KIND -->` and run by tests/app/test_docs_examples.py.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivs_replication_handler import contract as c

if TYPE_CHECKING:
    import aws_cdk as cdk

    from ivs_realtime_emulator import IvsRealtimeEmulator

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class Marked:
    """The ```python block right after the line `marker` of the page `page` (relative to the
    repository's root: README.md, or docs/...md)."""

    page: str
    marker: str


# The README's first example ("A first stack").
FIRST_EXAMPLE = Marked("README.md", "<!-- test: first-example -->")
# The guide's complete organisation example ("Compliance and tuning").
ORGANISATION_EXAMPLE = Marked("docs/how-to/organisation.md", "<!-- test: organisation-stack -->")
# The complete test files, run by pytest from a directory of their own.
USER_STACK = Marked("docs/how-to/testing-locally.md", "<!-- test: user-stack -->")
SEVERAL_STACKS = Marked("docs/how-to/several-stacks.md", "<!-- test: several-stacks -->")
MIRROR_A_STAGE = Marked("docs/how-to/mirror-a-stage.md", "<!-- test: mirror-a-stage -->")
# Lines run inside a stack by their own test, with the names they use given.
VS_MODE = Marked("docs/how-to/mirror-a-stage.md", "<!-- test: vs-mode -->")
# Every block a test of its own runs: each marker is on its page once, and no page has another.
TESTED = (FIRST_EXAMPLE, ORGANISATION_EXAMPLE, USER_STACK, SEVERAL_STACKS, MIRROR_A_STAGE, VS_MODE)


def python_block(page: str, *, after: str) -> str:
    """The ```python block right after the line `after` of `page` (README.md or docs/...md)."""
    text = (ROOT / page).read_text(encoding="utf-8")
    assert text.count(after) == 1, f"{after} should be in {page} once"
    following = text.split(after, 1)[1]
    found = _PYTHON_BLOCK.search(following)
    assert found, f"no python block in {page} after {after}"
    assert not following[: found.start()].strip(), f"{after} in {page} is not right above a block"
    return found.group(1)


def marked_block(marked: Marked) -> str:
    """The block `marked` names."""
    return python_block(marked.page, after=marked.marker)


def first_example_stack_name() -> str:
    """The name of the Stack subclass the README's first example defines."""
    classes = [
        node.name
        for node in ast.walk(ast.parse(marked_block(FIRST_EXAMPLE)))
        if isinstance(node, ast.ClassDef)
        and any(getattr(base, "id", getattr(base, "attr", None)) == "Stack" for base in node.bases)
    ]
    assert len(classes) == 1, f"the README's first example should define one Stack: {classes}"
    return classes[0]


def first_example_app(stack_id: str) -> str:
    """A CDK app (an app.py) synthesizing the README's first example as stack `stack_id`."""
    return (
        f"{marked_block(FIRST_EXAMPLE)}\n\nimport aws_cdk\n\napp = aws_cdk.App()\n"
        f"{first_example_stack_name()}(app, {stack_id!r})\napp.synth()\n"
    )


def first_example_stack(app: cdk.App, stack_id: str) -> cdk.Stack:
    """The README's first example, run as written, as stack `stack_id` of `app`."""
    namespace: dict[str, Any] = {"__name__": "readme_first_example"}
    # The README's own code: the test runs what the reader copies.
    exec(compile(marked_block(FIRST_EXAMPLE), "README.md (first example)", "exec"), namespace)
    stack: cdk.Stack = namespace[first_example_stack_name()](app, stack_id)
    return stack


def with_destination_here(
    template: dict[str, Any], ivs: IvsRealtimeEmulator
) -> tuple[dict[str, Any], str]:
    """`template`, its replications' destination ARN (a stage of the reader's account in the
    README) swapped for a stage made on `ivs`; and that stage's ARN."""
    destinations = {
        resource["Properties"][c.PROP_DESTINATION_STAGE_ARN]
        for resource in template["Resources"].values()
        if resource["Type"] == c.RESOURCE_TYPE
    }
    assert len(destinations) == 1, destinations
    [readme_arn] = destinations
    assert isinstance(readme_arn, str), f"the destination is a stage ARN string: {readme_arn}"
    stand_in = ivs.create_stage("side")
    text = json.dumps(template).replace(json.dumps(readme_arn), json.dumps(stand_in))
    return json.loads(text), stand_in


def organisation_stack_class() -> type[cdk.Stack]:
    """The Stack subclass of the guide's organisation example, run as written."""
    import aws_cdk  # here: the module's top stays light for the harness's tests

    namespace: dict[str, Any] = {"__name__": "readme_organisation_example"}
    code = marked_block(ORGANISATION_EXAMPLE)
    exec(compile(code, f"{ORGANISATION_EXAMPLE.page} (organisation example)", "exec"), namespace)
    stacks = [
        value
        for value in namespace.values()
        if isinstance(value, type)
        and issubclass(value, aws_cdk.Stack)
        and value is not aws_cdk.Stack
    ]
    assert len(stacks) == 1, f"the organisation example should define one Stack: {stacks}"
    found: type[cdk.Stack] = stacks[0]
    return found
