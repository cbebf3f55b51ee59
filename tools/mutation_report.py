"""The mutation score of `make mutate`, per module, from mutmut's results.

Run in the directory `make mutate` ran mutmut in (build/mutate). mutmut records each mutant's
exit code in ``mutants/<module>.py.meta``; a mutant is killed when a test failed (or timed out)
with it, and survived when every test covering it passed. Prints one line per module and the
survivors (``mutmut show <name>`` prints one's diff); writes the same as JSON to
``mutation-report.json``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

# mutmut's exit codes (mutmut.stats.status_by_exit_code): what counts as killed.
KILLED = {1, 3, 36, 24, -24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}


def module_results(meta: Path) -> dict[str, int | None]:
    data = json.loads(meta.read_text())
    exit_codes: dict[str, int | None] = data["exit_code_by_key"]
    return exit_codes


def main() -> int:
    metas = sorted(Path("mutants").rglob("*.py.meta"))
    if not metas:
        print("no mutmut results under mutants/: run `make mutate` first", file=sys.stderr)
        return 2
    report: dict[str, dict[str, object]] = {}
    survivors_of_all: list[str] = []
    total = Counter[str]()
    for meta in metas:
        module = str(meta.relative_to("mutants"))[: -len(".py.meta")].replace("/", ".")
        results = module_results(meta)
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
        checked = counts["killed"] + counts["survived"] + counts["no tests"]
        score = counts["killed"] / checked if checked else 1.0
        report[module] = {"counts": dict(counts), "score": round(score, 4), "survivors": survivors}
        survivors_of_all += survivors
        total.update(counts)
        print(
            f"{module:45} {counts['killed']:4} killed {counts['survived']:4} survived "
            f"{counts['no tests']:3} untested  {score:7.1%}"
        )
    checked = total["killed"] + total["survived"] + total["no tests"]
    if not checked:
        print("no mutant was checked: see mutmut's output above", file=sys.stderr)
        return 1
    score = total["killed"] / checked
    print(
        f"{'core (all of the above)':45} {total['killed']:4} killed {total['survived']:4} "
        f"survived {total['no tests']:3} untested  {score:7.1%}"
    )
    for name in survivors_of_all:
        print(f"survivor: {name}")
    Path("mutation-report.json").write_text(
        json.dumps({"modules": report, "score": round(score, 4)}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
