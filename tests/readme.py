"""The README's code, as tests run it: a block the reader copies is the block a test runs, so
the test fails when the README's example breaks."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivs_replication_handler import contract as c

if TYPE_CHECKING:
    import aws_cdk as cdk

    from ivs_realtime_emulator import IvsRealtimeEmulator

README = Path(__file__).resolve().parents[1] / "README.md"
_PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
# The README's complete organisation example ("In your organisation").
ORGANISATION_MARKER = "<!-- test: organisation-stack -->"


def python_block(*, after: str | None = None) -> str:
    """The README's first ```python block (the first after the line `after`, when given)."""
    text = README.read_text(encoding="utf-8")
    if after is not None:
        assert after in text, f"no {after} in {README.name}"
        text = text.split(after, 1)[1]
    found = _PYTHON_BLOCK.search(text)
    assert found, f"no python block in {README.name}" + (f" after {after}" if after else "")
    return found.group(1)


def first_example_stack_name() -> str:
    """The name of the Stack subclass the README's first example defines."""
    classes = [
        node.name
        for node in ast.walk(ast.parse(python_block()))
        if isinstance(node, ast.ClassDef)
        and any(getattr(base, "id", getattr(base, "attr", None)) == "Stack" for base in node.bases)
    ]
    assert len(classes) == 1, f"the README's first example should define one Stack: {classes}"
    return classes[0]


def first_example_app(stack_id: str) -> str:
    """A CDK app (an app.py) synthesizing the README's first example as stack `stack_id`."""
    return (
        f"{python_block()}\n\nimport aws_cdk\n\napp = aws_cdk.App()\n"
        f"{first_example_stack_name()}(app, {stack_id!r})\napp.synth()\n"
    )


def first_example_stack(app: cdk.App, stack_id: str) -> cdk.Stack:
    """The README's first example, run as written, as stack `stack_id` of `app`."""
    namespace: dict[str, Any] = {"__name__": "readme_first_example"}
    # The README's own code: the test runs what the reader copies.
    exec(compile(python_block(), f"{README.name} (first example)", "exec"), namespace)
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
    """The Stack subclass of the README's organisation example, run as written."""
    import aws_cdk  # here: the module's top stays light for the harness's tests

    namespace: dict[str, Any] = {"__name__": "readme_organisation_example"}
    code = python_block(after=ORGANISATION_MARKER)
    exec(compile(code, f"{README.name} (organisation example)", "exec"), namespace)
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
