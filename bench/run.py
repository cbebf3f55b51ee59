"""`python -m bench.run`: run P1-P6, print the table, write bench/results.json and the plot.

Every figure is a ratio against a baseline measured in the same run (medians; run counts are
in the table's notes and in results.json).
"""

from __future__ import annotations

from bench.common import apply_environment

# Before anything starts jsii or boto3: dummy credentials, region, quiet Node warning.
apply_environment()

import datetime  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from bench import (  # noqa: E402
    burst,
    cli_synth,
    cold_start,
    fanout,
    handler_overhead,
    mirror,
    plot,
    synth,
)
from bench.common import Row  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results.json"

Benchmark = Callable[[], tuple[list[Row], dict[str, Any]]]
BENCHMARKS: dict[str, Benchmark] = {
    "P1_cdk_synth": cli_synth.measure,
    "P1_synth_scaling": synth.measure,
    "P2_handler_overhead": handler_overhead.measure,
    "P3_burst": burst.measure,
    "P4_cold_start_and_size": cold_start.measure,
    "P5_follow_fan_out_and_sweep": fanout.measure,
    "P6_stage_mirror": mirror.measure,
}


def main() -> None:
    started = time.perf_counter()
    rows: list[Row] = []
    sections: dict[str, Any] = {}
    for name, benchmark in BENCHMARKS.items():
        print(f"running {name} ...", flush=True)
        section_started = time.perf_counter()
        section_rows, raw = benchmark()
        raw["seconds"] = time.perf_counter() - section_started
        rows.extend(section_rows)
        sections[name] = {"rows": [row.as_json() for row in section_rows], "raw": raw}
    total = time.perf_counter() - started
    print()
    print(table(rows))
    targets = [r for r in rows if r.passed is not None]  # info rows have no target
    met = sum(r.passed is True for r in targets)
    print(f"\n{met}/{len(targets)} targets met in {total:.0f} s")
    results = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "machine": platform.machine(),
        },
        "total_seconds": total,
        "all_passed": all(row.passed for row in targets),
        "benchmarks": sections,
    }
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    plot.main([str(RESULTS), str(plot.PLOT)])


def table(rows: list[Row]) -> str:
    header = ("benchmark", "ratio", "target", "result", "measured (medians)")
    lines = [
        (
            row.title,
            "-" if row.ratio is None else f"{row.ratio:.2f}",
            row.target,
            {True: "PASS", False: "FAIL", None: "-"}[row.passed],
            row.detail,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(4)]

    def render(cells: tuple[str, ...]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells[:4], widths, strict=True)]
        return "  ".join([*padded, cells[4]])

    rule = "  ".join("-" * w for w in widths) + "  " + "-" * len(header[4])
    return "\n".join([render(header), rule, *(render(line) for line in lines)])


if __name__ == "__main__":
    main()
