"""P1 as users see it: the whole `cdk synth` of the README's first example, against the same
stack built with `AwsCustomResource`.

Each side is a project in its own temporary directory: an `app.py` and a `cdk.json` whose app
is this environment's python. Ours is the README's first example as `tests/readme.py` extracts
it (the stack the app deploy test synthesizes); the baseline is the same code with its import
of `ParticipantReplication` pointed at `bench/aws_custom_resource.py`, copied beside it (one
`AwsCustomResource`: Start on create, Stop on delete). The pinned CLI
(`node_modules/.bin/cdk synth --quiet --no-notices`) synthesizes each into a fresh `cdk.out`,
the sides alternating (ours first in even pairs, the baseline first in odd ones) after one
discarded run each. Each figure is the median of the pairs' ratios: on a shared 2-core machine
one synth's wall time varies by tens of percent, and a pair's two runs meet the same load.

- Wall time: from starting the CLI to its exit.
- Peak memory: the largest sum of the resident sets of every process of the CLI's tree, sampled
  every 10 ms (`bench.process_tree`): the CLI (node), the app (python), and the jsii runtime
  the app starts (a node launcher and the node kernel it starts), all alive at once. Pages
  shared between processes count in each. Each process's own peak (VmHWM) is recorded too.
- CPU time (information): user + system of the whole tree, from wait4.

Then a few more pairs with `CDK_VALIDATION=false` (information): aws-cdk-lib validates every
template it synthesizes with a WebAssembly engine (`@aws/cloudformation-validate`), which
is most of both sides' time and memory; without it, what remains is the apps' own work.

Nothing reaches the network: the version check, the notices and the CLI's telemetry are off,
and the AWS credentials are dummies. Python writes bytecode to a cache of this run (both sides
warm it in their discarded run), as a user's `__pycache__` is warm after a first synth.
"""

from __future__ import annotations

import json
import shlex
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import aws_custom_resource, process_tree
from bench.common import REPO, Row, at_most, child_environment, median
from tests.readme import first_example_app

PAIRS = 8
# Pairs with CDK's built-in template validation off (CDK_VALIDATION=false): information only,
# what the synth costs without the validator both sides run.
PAIRS_WITHOUT_VALIDATION = 4
LIMIT = 1.1
CDK = REPO / "node_modules" / ".bin" / "cdk"
COMMAND = (str(CDK), "synth", "--quiet", "--no-notices")
STACK = "FirstExample"
OURS = "construct"
THEIRS = "aws_custom_resource"
_IMPORT = "from ivs_replication import ParticipantReplication\n"
_BASELINE_MODULE = Path(aws_custom_resource.__file__).stem
_BASELINE_IMPORT = f"from {_BASELINE_MODULE} import ParticipantReplication\n"


@dataclass(frozen=True)
class Sample:
    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    largest_process_bytes: int
    sum_of_process_peaks_bytes: int
    processes: dict[str, int]  # a role in the tree -> its peak (VmHWM) in bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
            "peak_rss_bytes": self.peak_rss_bytes,
            "largest_process_bytes": self.largest_process_bytes,
            "sum_of_process_peaks_bytes": self.sum_of_process_peaks_bytes,
            "process_peak_bytes": self.processes,
        }


def measure() -> tuple[list[Row], dict[str, Any]]:
    if not CDK.exists():
        raise RuntimeError(f"the CDK CLI is not installed at {CDK}: run `make setup`")
    with tempfile.TemporaryDirectory(prefix="bench-cli-synth-") as scratch:
        root = Path(scratch)
        projects = write_projects(root)
        env = _environment(root)
        warm_up = {side: synth(projects[side], env).as_json() for side in (OURS, THEIRS)}
        pairs = _alternate(projects, env, PAIRS)
        resources = {side: _resource_types(projects[side]) for side in (OURS, THEIRS)}
        unvalidated = _alternate(
            projects, {**env, "CDK_VALIDATION": "false"}, PAIRS_WITHOUT_VALIDATION
        )
    return _rows(pairs, unvalidated, warm_up, resources)


def _alternate(
    projects: dict[str, Path], env: dict[str, str], count: int
) -> list[dict[str, Sample]]:
    """`count` pairs of synths, ours first in even pairs and the baseline first in odd ones."""
    pairs: list[dict[str, Sample]] = []
    for index in range(count):
        order = (OURS, THEIRS) if index % 2 == 0 else (THEIRS, OURS)
        pairs.append({side: synth(projects[side], env) for side in order})
    return pairs


def write_projects(root: Path) -> dict[str, Path]:
    """The two CDK projects: the README's first example, and it built with the baseline."""
    app = first_example_app(STACK)
    if _IMPORT not in app:
        raise RuntimeError(
            f"the README's first example no longer imports {_IMPORT.strip()!r}: "
            "bench/cli_synth.py cannot build its AwsCustomResource twin"
        )
    ours, theirs = root / OURS, root / THEIRS
    for project, text in ((ours, app), (theirs, app.replace(_IMPORT, _BASELINE_IMPORT))):
        project.mkdir()
        (project / "app.py").write_text(text, encoding="utf-8")
        cdk_json = {"app": f"{shlex.quote(sys.executable)} app.py"}
        (project / "cdk.json").write_text(json.dumps(cdk_json), encoding="utf-8")
    shutil.copy(aws_custom_resource.__file__, theirs)
    return {OURS: ours, THEIRS: theirs}


def synth(project: Path, env: dict[str, str]) -> Sample:
    """One `cdk synth` of `project` into a fresh cdk.out."""
    shutil.rmtree(project / "cdk.out", ignore_errors=True)
    stderr = project / "stderr.txt"
    result = process_tree.run(COMMAND, cwd=project, env=env, stderr_path=stderr)
    if result.returncode != 0:
        raise RuntimeError(
            f"cdk synth failed in {project} ({result.returncode}):\n"
            + stderr.read_text(encoding="utf-8", errors="replace")[-4000:]
        )
    return Sample(
        seconds=result.seconds,
        cpu_seconds=result.cpu_seconds,
        peak_rss_bytes=result.peak_rss_bytes,
        largest_process_bytes=result.largest_process_bytes,
        sum_of_process_peaks_bytes=result.sum_of_process_peaks_bytes,
        processes=_roles(result),
    )


def _roles(result: process_tree.TreeRun) -> dict[str, int]:
    """Each process's peak by its role: the CLI is the root; the app is python; jsii starts
    its kernel through a launcher, both node (python -> node -> node); anything else (the
    shell the CLI runs the app with) by its name."""
    roles: dict[str, int] = {}
    root = next(iter(result.processes))

    def lineage(pid: int | None) -> list[str]:
        names = []
        while pid is not None and pid in result.processes and pid != root:
            names.append(result.processes[pid].name)
            pid = result.processes[pid].parent
        return names

    for pid, process in result.processes.items():
        names = lineage(pid)
        if pid == root:
            role = "cli (node)"
        elif process.name.startswith("python"):
            role = "app (python)"
        elif names[:2] == ["node", "node"] and len(names) > 2 and names[2].startswith("python"):
            role = "jsii kernel (node)"
        elif names[:1] == ["node"] and len(names) > 1 and names[1].startswith("python"):
            role = "jsii launcher (node)"
        else:
            role = process.name
        roles[role] = roles.get(role, 0) + process.peak_bytes
    return roles


def _environment(root: Path) -> dict[str, str]:
    env = child_environment(CDK_DISABLE_CLI_TELEMETRY="1", PYTHONPYCACHEPREFIX=str(root / "pyc"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _resource_types(project: Path) -> list[str]:
    template = json.loads((project / "cdk.out" / f"{STACK}.template.json").read_text())
    return sorted(resource["Type"] for resource in template["Resources"].values())


def _spread(values: Sequence[float]) -> dict[str, float]:
    quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return {
        "median": median(values),
        "min": min(values),
        "max": max(values),
        "q1": quartiles[0],
        "q3": quartiles[2],
    }


@dataclass(frozen=True)
class _Pairs:
    """Alternating pairs' figures: medians of each side, and the pairs' ratios."""

    pairs: list[dict[str, Sample]]

    def ratios(self, measure: str) -> list[float]:
        return [getattr(p[OURS], measure) / getattr(p[THEIRS], measure) for p in self.pairs]

    def side(self, name: str, measure: str) -> float:
        return median([getattr(p[name], measure) for p in self.pairs])

    def role_peaks(self, name: str) -> str:
        """Each process's peak by role, MiB."""
        roles = sorted({role for p in self.pairs for role in p[OURS].processes} - {"sh"})
        return ", ".join(
            f"{role} {median([p[name].processes.get(role, 0) for p in self.pairs]) / _MIB:.0f}"
            for role in roles
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "pairs": len(self.pairs),
            "wall_ratio": _spread(self.ratios("seconds")),
            "cpu_ratio": _spread(self.ratios("cpu_seconds")),
            "peak_memory_ratio": _spread(self.ratios("peak_rss_bytes")),
            "samples": [{side: s.as_json() for side, s in p.items()} for p in self.pairs],
        }


_MIB = 1024 * 1024


def _rows(
    pairs: list[dict[str, Sample]],
    unvalidated: list[dict[str, Sample]],
    warm_up: dict[str, dict[str, Any]],
    resources: dict[str, list[str]],
) -> tuple[list[Row], dict[str, Any]]:
    main, off = _Pairs(pairs), _Pairs(unvalidated)
    wall, cpu, memory = (
        main.ratios("seconds"),
        main.ratios("cpu_seconds"),
        main.ratios("peak_rss_bytes"),
    )
    raw: dict[str, Any] = {
        **main.as_json(),
        "command": " ".join(["cdk", *COMMAND[1:]]),
        "stack": STACK,
        "peak_memory": "largest sum of VmRSS over the CLI's process tree, sampled every "
        f"{process_tree.SAMPLE_SECONDS * 1000:g} ms",
        "resources": {name: len(types) for name, types in resources.items()},
        "resource_types": resources,
        "warm_up": warm_up,
        "without_cdk_validation": off.as_json(),
    }
    rows = [
        at_most(
            "P1.cdk_synth_wall",
            "P1 cdk synth wall",
            median(wall),
            limit=LIMIT,
            detail=f"{main.side(OURS, 'seconds'):.2f} s vs {main.side(THEIRS, 'seconds'):.2f} s; "
            f"median of {len(pairs)} alternating pairs' ratios (range {min(wall):.2f}-"
            f"{max(wall):.2f}); CPU {main.side(OURS, 'cpu_seconds'):.2f} s vs "
            f"{main.side(THEIRS, 'cpu_seconds'):.2f} s ({median(cpu):.2f}x); the README's "
            f"first example, {len(resources[OURS])} resources vs {len(resources[THEIRS])}",
        ),
        at_most(
            "P1.cdk_synth_peak_memory",
            "P1 cdk synth peak memory",
            median(memory),
            limit=LIMIT,
            detail=f"{main.side(OURS, 'peak_rss_bytes') / _MIB:.0f} MiB vs "
            f"{main.side(THEIRS, 'peak_rss_bytes') / _MIB:.0f} MiB, the process tree's summed "
            f"RSS (range {min(memory):.2f}-{max(memory):.2f}); each process's peak, MiB: "
            f"{main.role_peaks(OURS)} vs {main.role_peaks(THEIRS)}",
        ),
        Row(
            "P1.cdk_synth_without_validation_info",
            "P1 info: cdk synth, CDK_VALIDATION=false",
            median(off.ratios("seconds")),
            "(info)",
            None,
            f"wall {off.side(OURS, 'seconds'):.2f} s vs {off.side(THEIRS, 'seconds'):.2f} s; "
            f"CPU {off.side(OURS, 'cpu_seconds'):.2f} s vs "
            f"{off.side(THEIRS, 'cpu_seconds'):.2f} s ({median(off.ratios('cpu_seconds')):.2f}x); "
            f"peak {off.side(OURS, 'peak_rss_bytes') / _MIB:.0f} MiB vs "
            f"{off.side(THEIRS, 'peak_rss_bytes') / _MIB:.0f} MiB "
            f"({median(off.ratios('peak_rss_bytes')):.2f}x); {len(unvalidated)} pairs without "
            "the CloudFormation validation aws-cdk-lib runs in every synth",
        ),
    ]
    rows[0].raw["plot_ratios"] = {"label": "wall", "ratios": wall, "limit": LIMIT}
    rows[1].raw["plot_ratios"] = {"label": "peak memory", "ratios": memory, "limit": LIMIT}
    return rows, raw
