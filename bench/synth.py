"""P1 in process: synth time, template size and resource counts against AwsCustomResource,
by the number of replications N (the whole `cdk synth` process is bench.cli_synth)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import REPO, Row, at_most, child_environment, median
from bench.synth_child import AWS_CUSTOM_RESOURCE, CONSTRUCT, PROVIDER_FLOOR

COUNTS = (1, 50, 200)
RUNS = 5


def measure() -> tuple[list[Row], dict[str, Any]]:
    sides = {kind: _run_side(kind, COUNTS) for kind in (CONSTRUCT, AWS_CUSTOM_RESOURCE)}
    stats = {kind: _stats(result["samples"], COUNTS) for kind, result in sides.items()}
    ours, theirs = stats[CONSTRUCT], stats[AWS_CUSTOM_RESOURCE]
    big, small = max(COUNTS), min(COUNTS)
    # Run like the two sides (the same warm-up and N), though only its N=1 is reported.
    floor = _stats(_run_side(PROVIDER_FLOOR, COUNTS)["samples"], COUNTS)[small]

    def per_replication(side: dict[int, dict[str, float]]) -> float:
        return (side[big]["template_bytes"] - side[small]["template_bytes"]) / (big - small)

    raw: dict[str, Any] = {
        "runs_per_point": RUNS,
        "replication_counts": list(COUNTS),
        "timing": "in-process: one subprocess per side, first synth discarded (jsii warm-up) and "
        "one more at each N, "
        "then fresh App + temp outdir per run; CDK asset cache cleared before each run",
        "construct": {"per_n": ours, "cold_process": sides[CONSTRUCT]["cold"]},
        "aws_custom_resource": {
            "per_n": theirs,
            "cold_process": sides[AWS_CUSTOM_RESOURCE]["cold"],
        },
        "provider_floor": {"per_n": {small: floor}},
        "time_ratio_per_n": {n: ours[n]["seconds"] / theirs[n]["seconds"] for n in COUNTS},
        "provider_floor_time_ratio_n1": floor["seconds"] / theirs[small]["seconds"],
        "seconds_per_extra_replication": {
            CONSTRUCT: (ours[big]["seconds"] - ours[small]["seconds"]) / (big - small),
            AWS_CUSTOM_RESOURCE: (theirs[big]["seconds"] - theirs[small]["seconds"])
            / (big - small),
        },
        "template_bytes_per_replication": {
            CONSTRUCT: per_replication(ours),
            AWS_CUSTOM_RESOURCE: per_replication(theirs),
        },
    }
    time_ratio = ours[big]["seconds"] / theirs[big]["seconds"]
    bytes_ratio = per_replication(ours) / per_replication(theirs)
    functions = [int(ours[n]["lambda_functions"]) for n in COUNTS]
    resources = {n: int(ours[n]["resources"]) for n in COUNTS}
    their_resources = {n: int(theirs[n]["resources"]) for n in COUNTS}
    rows = [
        # Information only: the provider framework stays (it answers CloudFormation when the
        # handler crashes or times out), and P1's targets for one replication are the whole
        # `cdk synth` process's (bench.cli_synth).
        Row(
            "P1.synth_time_n1_info",
            f"P1 info: in-process synth, N={small}",
            raw["time_ratio_per_n"][small],
            "(info)",
            None,
            f"{ours[small]['seconds']:.3f} s vs {theirs[small]['seconds']:.3f} s "
            "(the fixed cost: the provider's two functions, their roles and log groups, "
            "against AwsCustomResource's one function)",
        ),
        at_most(
            "P1.synth_time_n200",
            f"P1 synth time, N={big}",
            time_ratio,
            limit=0.5,
            detail=f"{ours[big]['seconds']:.2f} s vs {theirs[big]['seconds']:.2f} s "
            f"(N={small}: {raw['time_ratio_per_n'][small]:.2f}x, "
            f"N=50: {raw['time_ratio_per_n'][50]:.2f}x); per extra replication "
            f"{raw['seconds_per_extra_replication'][CONSTRUCT] * 1000:.1f} ms vs "
            f"{raw['seconds_per_extra_replication'][AWS_CUSTOM_RESOURCE] * 1000:.1f} ms",
        ),
        at_most(
            "P1.template_bytes_per_replication",
            "P1 template bytes/replication",
            bytes_ratio,
            limit=0.5,
            detail=f"{per_replication(ours):.0f} B vs {per_replication(theirs):.0f} B "
            f"(marginal, N={small}->{big})",
        ),
        Row(
            "P1.lambda_functions",
            "P1 Lambda functions vs N",
            functions[-1] / functions[0],
            "constant in N",
            len(set(functions)) == 1,
            f"{'/'.join(map(str, functions))} at N={'/'.join(map(str, COUNTS))}; "
            f"resources {'/'.join(str(resources[n]) for n in COUNTS)} vs "
            f"{'/'.join(str(their_resources[n]) for n in COUNTS)}",
        ),
    ]
    rows.append(
        Row(
            "P1.provider_floor_info",
            f"P1 info: the design's floor, N={small}",
            raw["provider_floor_time_ratio_n1"],
            "(info)",
            None,
            f"{floor['seconds']:.3f} s vs {theirs[small]['seconds']:.3f} s: one handler "
            "function with CDK's defaults, a custom_resources.Provider and one CustomResource, "
            "nothing else; no construct that keeps the provider framework synthesizes faster",
        )
    )
    cold_ours = sides[CONSTRUCT]["cold"]["process_to_first_synth_seconds"]
    cold_theirs = sides[AWS_CUSTOM_RESOURCE]["cold"]["process_to_first_synth_seconds"]
    rows.append(
        Row(
            "P1.cold_process_info",
            f"P1 info: fresh process, N={big}",
            cold_ours / cold_theirs,
            "(info)",
            None,
            f"import + first synth {cold_ours:.1f} s vs {cold_theirs:.1f} s (1 run each; "
            "the first synth on a machine is no slower: it copies the prebuilt bundle)",
        )
    )
    return rows, raw


def _run_side(kind: str, counts_to_run: tuple[int, ...]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as scratch:
        out = Path(scratch) / "result.json"
        counts = ",".join(map(str, counts_to_run))
        subprocess.run(
            [sys.executable, "-m", "bench.synth_child", kind, str(RUNS), counts, str(out)],
            cwd=REPO,
            env=child_environment(),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=600,
        )
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result


def _stats(samples: list[dict[str, Any]], counts: tuple[int, ...]) -> dict[int, dict[str, float]]:
    """Per N: the median time and (deterministic) sizes and counts."""
    by_n: dict[int, dict[str, float]] = {}
    for n in counts:
        mine = [s for s in samples if s["replications"] == n]
        by_n[n] = {
            "seconds": median([s["seconds"] for s in mine]),
            "template_bytes": median([s["template_bytes"] for s in mine]),
            "resources": median([s["resources"] for s in mine]),
            "lambda_functions": median([s["lambda_functions"] for s in mine]),
            "runs": len(mine),
        }
    return by_n
