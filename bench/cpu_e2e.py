"""CPU seconds per 100,000 changes of each process of the local default: `python bench/cpu_e2e.py`.

Wall-clock rates depend on what else loads the machine; CPU time per change
does not (much). This drives the benchmark's writer (bench_e2e.Writer) at
BENCH_RATE for BENCH_SECONDS (default 60), waits until the last marker is in
trusted/, and prints the CPU time (user + system, children reaped included:
the Lambda runs of the emulator) each process used meanwhile, per 100k
changes: the emulator, the writer itself, and PostgreSQL by backend kind
(the writer's session, DMS's session, WAL writer, checkpointer, ...).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_e2e  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "60"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, tid: int | None = None, fields_at: tuple[int, ...] = (11, 12, 13, 14)) -> float:
    """utime + stime (+ cutime + cstime: reaped children) of a process or one of its threads, in seconds."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(fields[i]) for i in fields_at) / TICK


def threads(pid: int) -> dict[int, float]:
    """CPU seconds of each live thread of ``pid``."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return {}
    return {tid: cpu_seconds(pid, tid, (11, 12)) for tid in tids}


def thread_names(pid: int) -> dict[int, str]:
    """Python thread names by native id (py-spy dump; PYSPY names the binary), empty without py-spy."""
    binary = os.environ.get("PYSPY", "/tmp/pyspy/bin/py-spy")
    if not Path(binary).exists():
        return {}
    out = subprocess.run([binary, "dump", "-p", str(pid)], capture_output=True, text=True, check=False).stdout
    names = {}
    for match in re.finditer(r'^Thread (\d+) \([a-z]+\): "([^"]*)"', out, re.M):
        name = match.group(2)
        names[int(match.group(1))] = "HTTP request threads" if "process_request_thread" in name else name
    return names


def pg_roles(conn) -> dict[int, str]:
    """pid -> what the PostgreSQL process does (backend type, or the session's application)."""
    rows = conn.execute("SELECT pid, backend_type, coalesce(application_name, '') FROM pg_stat_activity").fetchall()
    return {pid: (app or kind) if kind == "client backend" else kind for pid, kind, app in rows}


def snapshot() -> dict[int, float]:
    return {pid: cpu_seconds(pid) for pid in bench_e2e.local_default_pids()}


def main() -> None:
    platform = bench_e2e.dataflow.Platform.load()
    moto = int((bench_e2e.RUN_DIR / "moto.pid").read_text().split()[0])
    with platform.connect() as conn:
        watcher = bench_e2e.TrustedWatcher(platform)
        writer = bench_e2e.Writer(conn)
        me0 = time.process_time()
        before = snapshot()
        threads_before = threads(moto)
        own_before = cpu_seconds(moto, fields_at=(11, 12))
        roles = pg_roles(conn)
        started = time.time()
        markers = writer.run(SECONDS, bench_e2e.RATE, watcher)
        written = time.time() - started
        deadline = time.time() + 600
        while not all(n in watcher.arrived for n in markers) and time.time() < deadline:
            watcher.poll()
            time.sleep(1)
        drained = time.time() - started
        after = snapshot()
        threads_after = threads(moto)
        own = cpu_seconds(moto, fields_at=(11, 12)) - own_before
        names = thread_names(moto)
        me = time.process_time() - me0
        roles.update(pg_roles(conn))
    per = 100_000 / max(writer.applied, 1)
    kinds = bench_e2e.memory.processes(bench_e2e.RUN_DIR)  # a Lambda run still alive counts as the emulator's
    groups: dict[str, float] = {}
    for pid, end in after.items():
        used = end - before.get(pid, 0.0)
        name = (
            "emulator (+ Lambda runs)"
            if pid == moto or kinds.get(pid) == "lambda"
            else f"postgres: {roles.get(pid, 'other')}"
        )
        groups[name] = groups.get(name, 0.0) + used
    groups["writer + watcher (this process)"] = me
    inside: dict[str, float] = {}
    for tid, end in threads_after.items():
        name = names.get(tid, "other threads") if tid != moto else "MainThread (accept, TLS handshakes)"
        inside[name] = inside.get(name, 0.0) + end - threads_before.get(tid, 0.0)
    inside["threads ended meanwhile"] = own - sum(inside.values())
    inside["Lambda runs (children)"] = groups["emulator (+ Lambda runs)"] - own
    result = {
        "changes": writer.applied,
        "write_s": round(written, 1),
        "offered_rate": round(writer.applied / written),
        "all_in_trusted_after_s": round(drained, 1),
        "cpu_s_per_100k": {k: round(v * per, 1) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])},
        "total_cpu_s_per_100k": round(sum(groups.values()) * per, 1),
        "emulator_cpu_s_per_100k": {k: round(v * per, 1) for k, v in sorted(inside.items(), key=lambda kv: -kv[1])},
        "load": os.getloadavg()[0],
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
