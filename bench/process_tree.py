"""Wall time and memory of a whole process tree, read from /proc (Linux; no psutil needed).

`cdk synth` is four processes at its peak: the CLI (node), the app it starts (python), and the
jsii runtime the app starts (a node launcher and the node kernel it starts); a shell sits
between the CLI and the app. What a user's machine must hold is their sum, so a sampler thread
adds up the resident sets (VmRSS) of every live process of the tree every few milliseconds and
keeps the largest sum. Each process's own peak (VmHWM, kept by the kernel, so no sample can
miss it) is recorded too.

Why not `/usr/bin/time -v` or `getrusage(RUSAGE_CHILDREN)`: their max RSS is the largest
single process, not the tree, and it survives execve, so a child forked from a large parent
(this benchmark's process holds a jsii kernel too) can report the parent's size.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_SECONDS = 0.01
_PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessPeak:
    """One process of the tree: its name, its parent's pid and its own peak (VmHWM)."""

    name: str
    parent: int | None
    peak_bytes: int


@dataclass
class TreeRun:
    """One command's run: its wall time and what its process tree held."""

    returncode: int
    seconds: float
    # User + system CPU of the command and of every descendant it waited for (wait4).
    cpu_seconds: float
    peak_rss_bytes: int  # the largest sampled sum of VmRSS over the live tree
    samples: int
    # Every process of the tree, by pid, in the order they appeared.
    processes: dict[int, ProcessPeak] = field(default_factory=dict)

    @property
    def largest_process_bytes(self) -> int:
        return max((p.peak_bytes for p in self.processes.values()), default=0)

    @property
    def sum_of_process_peaks_bytes(self) -> int:
        """An upper bound of the tree's peak (each process's peak, whenever it was)."""
        return sum(p.peak_bytes for p in self.processes.values())


def run(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stderr_path: Path,
    timeout: float = 600.0,
) -> TreeRun:
    """Run `command` to its end, sampling its process tree; stdout is discarded."""
    with stderr_path.open("wb") as stderr:
        started = time.perf_counter()
        # Its own process group, so a timeout ends the whole tree.
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        sampler = _Sampler(process.pid)
        sampler.start()
        watchdog = threading.Timer(timeout, os.killpg, (process.pid, signal.SIGKILL))
        watchdog.start()
        try:
            # wait4, not Popen.wait: its resource usage covers the waited-for descendants.
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            seconds = time.perf_counter() - started
            watchdog.cancel()
            sampler.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
    return TreeRun(
        returncode=process.returncode,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_bytes=sampler.peak_bytes,
        samples=sampler.samples,
        processes=sampler.processes,
    )


class _Sampler(threading.Thread):
    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self._root = root
        self._stopping = threading.Event()
        self._parents: dict[int, int | None] = {}  # every pid seen, and its parent pid
        self.peak_bytes = 0
        self.samples = 0
        self.processes: dict[int, ProcessPeak] = {}

    def stop(self) -> None:
        self._stopping.set()
        self.join()

    def run(self) -> None:
        while not self._stopping.is_set():
            self._sample()
            self._stopping.wait(SAMPLE_SECONDS)

    def _sample(self) -> None:
        tree = self._tree()
        total = 0
        for pid in tree:
            status = _status(pid)
            if status is None:  # gone since the listing
                continue
            name, rss, hwm = status
            total += rss
            seen = self.processes.get(pid)
            peak = hwm if seen is None else max(hwm, seen.peak_bytes)
            # The name is the latest: a process that exec()s (a shell) changes it.
            self.processes[pid] = ProcessPeak(name, self._parents.get(pid), peak)
        self.samples += 1
        self.peak_bytes = max(self.peak_bytes, total)

    def _tree(self) -> list[int]:
        """The root and its live descendants. A pid's parent is read once, when first seen:
        a tree of a few seconds does not reuse pids."""
        for entry in os.listdir(_PROC):
            if entry.isdigit() and int(entry) not in self._parents:
                self._parents[int(entry)] = _parent(int(entry))
        tree = [self._root]
        members = {self._root}
        grown = True
        while grown:
            grown = False
            for pid, parent in self._parents.items():
                if parent in members and pid not in members:
                    members.add(pid)
                    tree.append(pid)
                    grown = True
        return tree


def _parent(pid: int) -> int | None:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after it.
    return int(stat.rsplit(")", 1)[1].split()[1])


def _status(pid: int) -> tuple[str, int, int] | None:
    """The process's name, VmRSS and VmHWM in bytes (0 for a zombie's), or None if gone."""
    try:
        lines = (_PROC / str(pid) / "status").read_text().splitlines()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    name = fields.get("Name", "?").strip()

    def kib(key: str) -> int:
        value = fields.get(key, "0 kB").split()
        return int(value[0]) * 1024 if value else 0

    return name, kib("VmRSS"), kib("VmHWM")
