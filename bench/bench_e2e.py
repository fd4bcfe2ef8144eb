"""End-to-end benchmark of the local default: `make bench-e2e` (after a converge and a seed).

Measures, in one run, against the running local default:
- freshness: source commit -> the change in a trusted/ Parquet file, for
  markers inserted one at a time on a quiet pipeline (p50, p95);
- sustained throughput: a writer drives inserts and updates at a target rate
  (BENCH_RATE changes/s, default 2000) for BENCH_SECONDS (default 300), in
  transactions of 200 row changes (one multi-row INSERT of 100 rows, one
  UPDATE of 100 rows chosen by primary key: see Writer), paced on the whole
  run; a
  marker every 5 s gives the lag over time ("no growing lag": the last
  minute's lag against the first's); at the end, how long until every change
  is in trusted/;
- peak memory of the whole local default (emulator process and its children,
  PostgreSQL processes), sampled every second (bench/memory.py). The figure
  is the sum of each process's PSS (``/proc/<pid>/smaps_rollup``): a page
  shared by several processes (PostgreSQL's shared buffers, the shared
  libraries of the emulator and its Lambda runs) is counted once, divided
  among them. The naive sum of RSS, which counts such a page once per
  process, is reported beside it (``peak_memory_rss_sum_mib``; it was the
  figure before), with the split by process group and a timeline.
Prints a table and writes bench/results-e2e.json. Nothing here is asserted:
the figures are for the notes.
"""

from __future__ import annotations

import io
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import memory  # noqa: E402
from tests.harness import dataflow  # noqa: E402

RUN_DIR = Path(os.environ.get("SMARTSTREAM_RUN_DIR", "/tmp/smartstream-local"))
RATE = int(os.environ.get("BENCH_RATE", "2000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "300"))


class TrustedWatcher:
    """Finds marker e-mails in trusted/ files as they appear (each new file read once)."""

    def __init__(self, platform: dataflow.Platform):
        self.platform, self.s3 = platform, platform.client("s3")
        self.seen: set[str] = {o["Key"] for o in dataflow.objects(platform, dataflow.TRUSTED_TABLE)}
        self.arrived: dict[str, float] = {}

    def poll(self) -> None:
        for item in dataflow.objects(self.platform, dataflow.TRUSTED_TABLE):
            if item["Key"] in self.seen or not item["Key"].endswith(".parquet"):
                continue
            self.seen.add(item["Key"])
            body = self.s3.get_object(Bucket=self.platform.bucket, Key=item["Key"])["Body"].read()
            now = time.time()
            for email in pq.read_table(io.BytesIO(body), columns=["email"]).column("email").to_pylist():
                if email and email.startswith("marker-"):
                    self.arrived.setdefault(email, now)


def local_default_pids() -> list[int]:
    """The emulator (and its children: Lambda runs) and every PostgreSQL process of the run dir."""
    return sorted(memory.processes(RUN_DIR))


def insert_marker(cur, name: str) -> float:
    cur.execute(
        "INSERT INTO public.employees (first_name, last_name, email, department, salary, hire_date)"
        " VALUES ('Mark', 'Er', %s, 'Bench', 1.00, '2026-01-01')",
        (name,),
    )
    return time.time()


def freshness(platform, conn, watcher: TrustedWatcher, markers: int = 12) -> list[float]:
    committed = {}
    with conn.cursor() as cur:
        for i in range(markers):
            name = f"marker-fresh-{time.time_ns()}-{i}@example.com"
            committed[name] = insert_marker(cur, name)
            deadline = time.time() + 120
            while name not in watcher.arrived and time.time() < deadline:
                watcher.poll()
                time.sleep(0.25)
    return [watcher.arrived[n] - t for n, t in committed.items() if n in watcher.arrived]


class Writer:
    """The application writing to the source, at ``rate`` changes/s: transactions of 100 inserts (one
    multi-row INSERT of 100 rows) and 100 updates (one UPDATE of 100 rows picked at random by primary key
    among the ids written so far), each row its own change in the WAL and in the stream; a marker row every
    5 s (the lag probe). One round trip per statement, not per row, as an application batching its writes
    does; the rows to update are found by their key (an index lookup), not by sorting the table."""

    batch = 200

    def __init__(self, conn):
        self.conn, self.applied = conn, 0
        self.low, self.high = conn.execute(
            "SELECT coalesce(min(id), 1), coalesce(max(id), 1) FROM public.employees"
        ).fetchone()
        self.random = random.Random(1)

    def transaction(self, cur) -> int:
        inserts = self.batch // 2
        cur.execute(
            "INSERT INTO public.employees (first_name, last_name, email, department, salary, hire_date)"
            " SELECT 'Load', 'Test', e, 'Bench', 50000.00, '2026-01-01' FROM unnest(%s::text[]) AS e",
            ([f"load-{time.time_ns()}-{i}@example.com" for i in range(inserts)],),
        )
        self.high += inserts
        ids = self.random.sample(range(self.low, self.high + 1), min(self.batch - inserts, self.high - self.low + 1))
        cur.execute("UPDATE public.employees SET salary = salary + 1 WHERE id = ANY(%s)", (ids,))
        return inserts + cur.rowcount

    def run(self, seconds: float, rate: int, watcher: TrustedWatcher) -> dict[str, float]:
        """Write for ``seconds``; returns the markers (name -> commit time). trusted/ is looked at once a second."""
        markers: dict[str, float] = {}
        started = time.time()
        next_marker = next_poll = started
        with self.conn.cursor() as cur:
            while time.time() - started < seconds:
                tick = time.time()
                with self.conn.transaction():
                    self.applied += self.transaction(cur)
                if tick >= next_marker:
                    name = f"marker-load-{time.time_ns()}@example.com"
                    markers[name] = insert_marker(cur, name)
                    self.high += 1
                    next_marker = tick + 5
                if tick >= next_poll:
                    watcher.poll()
                    next_poll = tick + 1
                # paced on the whole run, not per transaction: a late transaction is caught up by the next ones
                time.sleep(max(0.0, started + self.applied / rate - time.time()))
        return markers


def sustained(platform, conn, watcher: TrustedWatcher, sampler: memory.MemorySampler | None = None) -> dict:
    started = time.time()
    writer = Writer(conn)
    markers = writer.run(SECONDS, RATE, watcher)
    applied = writer.applied
    write_seconds = time.time() - started
    if sampler is not None:
        sampler.mark("drain")
    deadline = time.time() + 600
    while not all(n in watcher.arrived for n in markers) and time.time() < deadline:
        watcher.poll()
        time.sleep(1)
    drained = max(watcher.arrived.get(n, float("nan")) for n in markers) - started
    lags = [
        (t - started, watcher.arrived[n] - t)
        for n, t in sorted(markers.items(), key=lambda kv: kv[1])
        if n in watcher.arrived
    ]
    first = [lag for at, lag in lags if at < 60]
    last = [lag for at, lag in lags if at >= write_seconds - 60]
    return {
        "target_rate": RATE,
        "seconds": round(write_seconds, 1),
        "changes": applied,
        "offered_rate": round(applied / write_seconds),
        "all_in_trusted_after_s": round(drained, 1),
        "end_to_end_rate": round(applied / drained) if drained == drained else None,
        "lag_first_minute_p50_s": round(statistics.median(first), 1) if first else None,
        "lag_last_minute_p50_s": round(statistics.median(last), 1) if last else None,
        "markers_lost": sum(1 for n in markers if n not in watcher.arrived),
    }


def main() -> None:
    platform = dataflow.Platform.load()
    sampler = memory.MemorySampler(RUN_DIR)
    sampler.start()
    with platform.connect() as conn:
        watcher = TrustedWatcher(platform)
        sampler.mark("freshness")
        fresh = sorted(freshness(platform, conn, watcher))
        results = {
            "freshness_p50_s": round(statistics.median(fresh), 2) if fresh else None,
            "freshness_p95_s": round(fresh[max(0, int(len(fresh) * 0.95) - 1)], 2) if fresh else None,
            "freshness_samples": len(fresh),
        }
        sampler.mark("sustained")
        results.update(sustained(platform, conn, watcher, sampler))
    sampler.stop.set()
    sampler.join()
    results.update(sampler.results())
    results["load_average"] = [round(x, 2) for x in os.getloadavg()]
    for key, value in results.items():
        if key != "memory_timeline_mib":
            print(f"{key:<28} {value}")
    (ROOT / "bench" / "results-e2e.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
