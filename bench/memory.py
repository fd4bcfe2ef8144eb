"""Memory of the local default, process by process: what `bench_e2e.py` samples every second.

The local default is the emulator process (moto with the engines), its
children (the Lambda runs: ``bootstrap.py`` subprocesses) and every process
of the run dir's PostgreSQL (postmaster, background processes, backends).

Two sums are reported:

- **RSS** (``VmRSS``): each process's resident set, summed. This counts a
  shared page once per process that maps it: PostgreSQL's shared buffers
  (a 128 MiB segment every backend touches) and the shared libraries of the
  Python processes (the emulator and its Lambda runs map the same
  libpython, pyarrow and numpy files) are counted several times, so the sum
  is more than the machine holds.
- **PSS** (``Pss`` of ``/proc/<pid>/smaps_rollup``): the proportional set
  size, each shared page divided among the processes sharing it. Summed
  over processes it counts every page once: the memory the local default
  really takes (the figure for the goal).

Groups: ``emulator`` (the server process), ``lambda`` (its children),
``postgres`` (all PostgreSQL processes); the sampler keeps the peak of both
sums, the split by group at the PSS peak, each group's own peak, the most
Lambda processes seen at once and a timeline every ``timeline_s`` seconds.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

MIB = 2**20


def _field(path: str, name: str) -> int:
    """A ``Name:  <n> kB`` field of a /proc file, in bytes (0 when the process is gone)."""
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith(name):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def rss_bytes(pid: int) -> int:
    return _field(f"/proc/{pid}/status", "VmRSS:")


def pss_bytes(pid: int) -> int:
    return _field(f"/proc/{pid}/smaps_rollup", "Pss:")


def _children(pid: int) -> list[int]:
    """The children of every thread of ``pid`` (a child is listed under the thread that started it: the
    emulator's Lambda runs are started by its request and worker threads, not its main thread)."""
    found: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            found += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            continue
    return found


def _descendants(root: int) -> list[int]:
    found, frontier = [], [root]
    while frontier:
        for child in _children(frontier.pop()):
            if child not in found:
                found.append(child)
                frontier.append(child)
    return found


def _root(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def processes(run_dir: Path) -> dict[int, str]:
    """pid -> group (emulator, lambda, postgres) of every process of the local default."""
    groups: dict[int, str] = {}
    moto = _root(run_dir / "moto.pid")
    if moto is not None:
        groups[moto] = "emulator"
        groups.update({pid: "lambda" for pid in _descendants(moto)})
    postmaster = _root(run_dir / "postgres" / "data" / "postmaster.pid")
    if postmaster is not None:
        groups[postmaster] = "postgres"
        groups.update({pid: "postgres" for pid in _descendants(postmaster)})
    return groups


def sample(run_dir: Path) -> dict[str, dict[str, int]]:
    """{"rss": {group: bytes}, "pss": {group: bytes}, "count": {group: processes}} now."""
    out: dict[str, dict[str, int]] = {"rss": {}, "pss": {}, "count": {}}
    for pid, group in processes(run_dir).items():
        rss, pss = rss_bytes(pid), pss_bytes(pid)
        if not rss:
            continue  # ended meanwhile
        out["rss"][group] = out["rss"].get(group, 0) + rss
        out["pss"][group] = out["pss"].get(group, 0) + pss
        out["count"][group] = out["count"].get(group, 0) + 1
    return out


class MemorySampler(threading.Thread):
    """Samples the local default every ``period_s``; ``results()`` gives the figures in MiB."""

    def __init__(self, run_dir: Path, period_s: float = 0.5, timeline_s: float = 10.0):
        super().__init__(daemon=True, name="memory-sampler")
        self.run_dir, self.period_s, self.timeline_s = run_dir, period_s, timeline_s
        self.stop = threading.Event()
        self.peak_rss = self.peak_pss = 0
        self.at_peak: dict[str, int] = {}
        self.group_peak: dict[str, int] = {}
        self.most_lambdas = 0
        self.timeline: list[dict[str, float]] = []
        self.started = time.time()
        self.marks: dict[str, float] = {}

    def mark(self, name: str) -> None:
        """Note when a phase starts (its offset appears in the results)."""
        self.marks[name] = round(time.time() - self.started, 1)

    def run(self) -> None:
        next_point = self.started
        while not self.stop.is_set():
            now = sample(self.run_dir)
            rss, pss = sum(now["rss"].values()), sum(now["pss"].values())
            self.peak_rss = max(self.peak_rss, rss)
            if pss > self.peak_pss:
                self.peak_pss, self.at_peak = pss, dict(now["pss"])
            for group, size in now["pss"].items():
                self.group_peak[group] = max(self.group_peak.get(group, 0), size)
            self.most_lambdas = max(self.most_lambdas, now["count"].get("lambda", 0))
            if time.time() >= next_point:
                point = {"t": round(time.time() - self.started), "rss": round(rss / MIB), "pss": round(pss / MIB)}
                point.update({g: round(v / MIB) for g, v in sorted(now["pss"].items())})
                self.timeline.append(point)
                next_point += self.timeline_s
            self.stop.wait(self.period_s)

    def results(self) -> dict[str, object]:
        return {
            "peak_memory_mib": round(self.peak_pss / MIB),
            "peak_memory_rss_sum_mib": round(self.peak_rss / MIB),
            "peak_memory_split_mib": {g: round(v / MIB) for g, v in sorted(self.at_peak.items())},
            "peak_memory_by_group_mib": {g: round(v / MIB) for g, v in sorted(self.group_peak.items())},
            "most_lambda_processes": self.most_lambdas,
            "memory_phases_s": self.marks,
            "memory_timeline_mib": self.timeline,
        }
