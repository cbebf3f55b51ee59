"""Every example of the README and of the guide (docs/) is run, or at least compiled, as
written; and every `make` target and `ivs-replication` command the pages name exists.

A ```python block follows a marker line: `<!-- test: NAME -->` (a test of its own runs it:
tests/readme.py's TESTED) or `<!-- example: KIND -->`, run here by its kind:
- `module`: run as a module, then each `Stack` subclass it defines is synthesized;
- `stack`: run inside a `Stack`'s `__init__` (`self` is the stack), then synthesized;
- `app`: a CDK app, written as `app.py` and synthesized by the real CDK CLI;
- `compile`: a fragment that needs what a page only describes (a fixture, a template):
  compiled only.
A synthesized example leaves no warning unacknowledged.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.util import find_spec
from itertools import dropwhile
from pathlib import Path
from typing import Any

import pytest

from tests.readme import ROOT, TESTED, marked_block

KINDS = ("module", "stack", "app", "compile")
_MARKER = re.compile(r"<!-- (test|example): ([a-z0-9-]+) -->")
_FENCE = re.compile(r"^(`{3,})(\w*)\s*$")


def pages() -> list[str]:
    """The README and every page of the guide, relative to the repository's root."""
    guide = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md"))
    return ["README.md", *guide]


@dataclass(frozen=True)
class Block:
    """A fenced block of a page, with the marker line right above it (if any)."""

    page: str
    line: int
    language: str
    code: str
    marker: tuple[str, str] | None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(page: str) -> list[Block]:
    """The fenced blocks of `page`, in order."""
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, language = opening.groups()
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == fence)
        above = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = _MARKER.fullmatch(above.strip())
        found.append(
            Block(
                page=page,
                line=index + 1,
                language=language,
                code="\n".join(lines[index + 1 : end]) + "\n",
                marker=(marker.group(1), marker.group(2)) if marker else None,
            )
        )
        index = end + 1
    return found


def all_blocks() -> list[Block]:
    return [block for page in pages() for block in blocks(page)]


def examples(kind: str) -> list[Block]:
    return [b for b in all_blocks() if b.language == "python" and b.marker == ("example", kind)]


# --- every block is accounted for ------------------------------------------------------------


def test_every_python_block_is_run_by_a_test_or_marked_with_its_kind() -> None:
    tested = {(m.page, m.marker) for m in TESTED}
    unchecked = []
    for block in all_blocks():
        if block.language != "python":
            continue
        match block.marker:
            case ("test", name) if (block.page, f"<!-- test: {name} -->") in tested:
                pass
            case ("example", kind) if kind in KINDS:
                pass
            case _:
                unchecked.append(block.where)
    assert unchecked == [], "python blocks no test runs: mark them (see this module's docstring)"


def test_every_example_kind_is_in_use() -> None:
    # Each kind runs something: a kind whose blocks all moved away leaves no silent gap.
    assert {kind: bool(examples(kind)) for kind in KINDS} == dict.fromkeys(KINDS, True)


@pytest.mark.parametrize("marked", TESTED, ids=lambda m: m.marker)
def test_each_tested_block_is_on_its_page_right_below_its_marker(marked: Any) -> None:
    assert marked_block(marked).strip()


# --- the examples, run ----------------------------------------------------------------------


@pytest.mark.parametrize("block", examples("compile"), ids=lambda b: b.where)
def test_a_fragment_compiles(block: Block) -> None:
    compile(block.code, block.where, "exec")


def _synthesized_without_warnings(stacks: list[Any]) -> None:
    from aws_cdk.assertions import Annotations, Match, Template

    assert stacks, "the example defines no stack"
    for stack in stacks:
        Template.from_stack(stack)
        warnings = Annotations.from_stack(stack).find_warning("*", Match.any_value())
        assert [w.entry.data for w in warnings] == [], stack.node.path


def _app() -> Any:
    import aws_cdk as cdk

    # The Lambda asset is the prebuilt bundle either way; skip staging it for speed.
    return cdk.App(context={"aws:cdk:bundling-stacks": []})


@pytest.mark.parametrize("block", examples("module"), ids=lambda b: b.where)
def test_a_module_example_synthesizes(block: Block) -> None:
    import aws_cdk as cdk

    namespace: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(block.code, block.where, "exec"), namespace)
    classes = [
        value
        for value in namespace.values()
        if isinstance(value, type) and issubclass(value, cdk.Stack) and value is not cdk.Stack
    ]
    app = _app()
    _synthesized_without_warnings([cls(app, cls.__name__) for cls in classes])


@pytest.mark.parametrize("block", examples("stack"), ids=lambda b: b.where)
def test_a_stack_example_synthesizes(block: Block) -> None:
    import aws_cdk as cdk

    code = compile(block.code, block.where, "exec")

    class ExampleStack(cdk.Stack):
        def __init__(self, scope: cdk.App) -> None:
            super().__init__(scope, "Example")
            exec(code, {"__name__": "docs_example", "self": self})

    _synthesized_without_warnings([ExampleStack(_app())])


@pytest.mark.slow
@pytest.mark.parametrize("block", examples("app"), ids=lambda b: b.where)
def test_an_app_example_synthesizes_through_the_cdk_cli(block: Block, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(block.code, encoding="utf-8")
    cdk = shutil.which("cdk", path=str(ROOT / "node_modules" / ".bin"))
    assert cdk, "the pinned CDK CLI (make setup)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [cdk, "synth", "--quiet", "--strict", "--app", f"{sys.executable} app.py"],
        cwd=tmp_path,
        env={**env, "CDK_DISABLE_VERSION_CHECK": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert list((tmp_path / "cdk.out").glob("*.template.json"))


# --- the commands the pages name ------------------------------------------------------------


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.MULTILINE))


_OPERATORS = set("();<>|&")


def _commands(text: str) -> list[list[str]]:
    """The simple commands of shell text: prompts, comments, redirections and pipes cut, and
    the `VAR=value` words before a command."""
    found = []
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.strip().removeprefix("$ ")
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError:  # a placeholder such as <the reconciler's name>: words will do
            tokens = line.split("#", 1)[0].split()
        words: list[str] = []
        redirected = False
        for token in tokens:
            if set(token) <= _OPERATORS:
                found.append(words)
                words, redirected = [], "<" in token or ">" in token
            elif redirected:  # the redirection's target, not a word of a command
                redirected = False
            else:
                words.append(token)
        found.append(words)
    commands = [list(dropwhile(lambda word: "=" in word, words)) for words in found]
    return [words for words in commands if words]


@dataclass(frozen=True)
class Command:
    """A command a page names: in a shell block (`whole`: with its arguments, as run) or in
    an inline code span of its prose (only its name counts there)."""

    where: str
    words: list[str]
    whole: bool


def shell_commands() -> list[Command]:
    """Every command of a shell block (bash, or an unmarked block of `$ ` lines), and every
    inline `make ...`, `ivs-replication ...` and `python -m ...` of the pages' prose."""
    found: list[Command] = []
    for page in pages():
        for block in blocks(page):
            if block.language in ("bash", "sh", "shell"):
                text = block.code
            elif block.language == "":
                text = "\n".join(line for line in block.code.splitlines() if line.startswith("$ "))
            else:
                continue
            found += [Command(block.where, words, whole=True) for words in _commands(text)]
        prose = (ROOT / page).read_text(encoding="utf-8")
        for span in re.findall(r"`((?:make|ivs-replication|python -m) [^`]+)`", prose):
            words_of_span = _commands(span.replace("\n", " "))
            found += [Command(page, words, whole=False) for words in words_of_span]
    return found


def test_the_pages_name_only_real_make_targets() -> None:
    targets = make_targets()
    named = [(c.where, c.words[1]) for c in shell_commands() if c.words[0] == "make"]
    assert len(named) > 10, "the pages name make targets"
    assert [(where, t) for where, t in named if t not in targets] == []


def test_the_pages_run_only_real_ivs_replication_commands() -> None:
    from ivs_replication_cli.main import parser

    commands = [c for c in shell_commands() if c.words[0] == "ivs-replication"]
    assert any(c.whole for c in commands), "the pages show ivs-replication commands run"
    [subcommands] = [a.choices for a in parser()._actions if a.dest == "command"]
    refused = []
    for command in commands:
        if not command.whole:
            if command.words[1] not in subcommands:
                refused.append((command.where, command.words))
            continue
        try:
            parser().parse_args(command.words[1:])
        except SystemExit:
            refused.append((command.where, command.words))
    assert refused == []


def test_the_pages_run_only_modules_that_exist() -> None:
    modules = [
        (c.where, c.words[2])
        for c in shell_commands()
        if len(c.words) > 2 and c.words[0].endswith("python") and c.words[1] == "-m"
    ]
    assert modules, "the pages run python -m modules"
    assert [(where, m) for where, m in modules if find_spec(m) is None] == []


def test_the_readme_links_only_to_files_that_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if "://" not in t]
    assert any(t.startswith("docs/") for t in local)
    assert [t for t in local if not (ROOT / t).exists()] == []
