"""The mutation score of `make mutate`, per module, from mutmut's results.

Run in the directory `make mutate` ran mutmut in (build/mutate). mutmut records each mutant's
exit code in ``mutants/<module>.py.meta``; a mutant is killed when a test failed (or timed out)
with it, and survived when every test covering it passed. Prints one line per module and the
survivors (``mutmut show <name>`` prints one's diff); writes the same as JSON to
``mutation-report.json``.

A survivor listed in ``tools/mutation_survivors.toml`` (beside this script) is accepted: it is
printed with the reason it is harmless (an equivalent mutant, or text no behaviour depends
on). One not listed there is a missing test or dead code, and is printed as such; a listed
name that no longer survives is reported too, so the list does not go stale.

With ``--unexplained`` it prints only the names of the survivors not accepted (and of the
mutants no test covers), one a line: what ``make mutate-again`` re-tests after new tests.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

# mutmut's exit codes (mutmut.stats.status_by_exit_code): what counts as killed.
KILLED = {1, 3, 36, 24, -24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}
ACCEPTED = Path(__file__).with_name("mutation_survivors.toml")


def accepted_survivors(path: Path = ACCEPTED) -> dict[str, str]:
    """Each accepted survivor's name, with the reason it is harmless."""
    if not path.exists():
        return {}
    survivors: dict[str, str] = tomllib.loads(path.read_text())["survivors"]
    return survivors


def module_results(meta: Path) -> dict[str, int | None]:
    data = json.loads(meta.read_text())
    exit_codes: dict[str, int | None] = data["exit_code_by_key"]
    return exit_codes


def unexplained(metas: list[Path]) -> list[str]:
    """The survivors (and untested mutants) not accepted: the ones a new test should kill."""
    accepted = accepted_survivors()
    return [
        name
        for meta in metas
        for name, code in module_results(meta).items()
        if (code in SURVIVED or code in NO_TESTS) and name not in accepted
    ]


def module_counts(results: dict[str, int | None]) -> tuple[Counter[str], list[str]]:
    """One module's mutants counted by verdict, and its survivors (untested ones included)."""
    counts = Counter[str]()
    survivors = []
    for name, code in results.items():
        if code in KILLED:
            counts["killed"] += 1
        elif code in SURVIVED:
            counts["survived"] += 1
            survivors.append(name)
        elif code in NO_TESTS:
            counts["no tests"] += 1
            survivors.append(name)
        else:
            counts["other"] += 1
    return counts, survivors


def main(argv: list[str]) -> int:
    if argv not in ([], ["--unexplained"]):
        print("usage: mutation_report.py [--unexplained]", file=sys.stderr)
        return 2
    metas = sorted(Path("mutants").rglob("*.py.meta"))
    if not metas:
        print("no mutmut results under mutants/: run `make mutate` first", file=sys.stderr)
        return 2
    if argv == ["--unexplained"]:
        for name in unexplained(metas):
            print(name)
        return 0
    report: dict[str, dict[str, object]] = {}
    survivors_of_all: list[str] = []
    total = Counter[str]()
    for meta in metas:
        module = str(meta.relative_to("mutants"))[: -len(".py.meta")].replace("/", ".")
        counts, survivors = module_counts(module_results(meta))
        checked = counts["killed"] + counts["survived"] + counts["no tests"]
        score = round(counts["killed"] / checked, 4) if checked else None
        report[module] = {"counts": dict(counts), "score": score, "survivors": survivors}
        survivors_of_all += survivors
        total.update(counts)
        unchecked = f"  ({counts['other']} not checked)" if counts["other"] else ""
        print(
            f"{module:45} {counts['killed']:4} killed {counts['survived']:4} survived "
            f"{counts['no tests']:3} untested  "
            + (f"{score:7.1%}" if score is not None else "    n/a")
            + unchecked
        )
    checked = total["killed"] + total["survived"] + total["no tests"]
    if not checked:
        print("no mutant was checked: see mutmut's output above", file=sys.stderr)
        return 1
    score = total["killed"] / checked
    print(
        f"{'all modules checked':45} {total['killed']:4} killed {total['survived']:4} "
        f"survived {total['no tests']:3} untested  {score:7.1%}"
    )
    accepted = accepted_survivors()
    for name in survivors_of_all:
        reason = accepted.get(name)
        print(f"survivor: {name}: " + (reason if reason else "NOT ACCEPTED (missing test?)"))
    results_of_all = {name: code for meta in metas for name, code in module_results(meta).items()}
    for name in sorted(set(accepted) - set(survivors_of_all)):
        if name not in results_of_all:
            print(f"accepted but no such mutant: {name} (remove it from {ACCEPTED.name})")
        elif results_of_all[name] in KILLED:
            print(f"accepted but killed now: {name} (remove it from {ACCEPTED.name})")
        # else: not checked in this run (`make mutate MUTANTS=...` picked other modules)
    Path("mutation-report.json").write_text(
        json.dumps(
            {
                "modules": report,
                "score": round(score, 4),
                "accepted": {name: accepted[name] for name in survivors_of_all if name in accepted},
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
