"""Benchmarks of the Lambda cores, measured in one run: `make bench`.

Transform: a ~5 MB GZIP Firehose object of DMS records (json-unformatted, as
Firehose concatenates them, the platform's DMS message format) through the
whole pure core (parse, validate, normalise, Parquet out), against the floor
for the same bytes: gunzip plus the fastest JSON parse available here (one
json.loads per line, no validation, no output). The same object through the
per-record path alone (``block_bytes=0``: no pyarrow.json blocks) is timed
beside it. ML: scoring the trusted Parquet the transform wrote
(read, score, Parquet out) against reading and decoding the same file.

Peak memory is the peak resident set of a fresh process that runs only the
core on the object, next to that process's size before the run, for a
200,000-record object (about 100 MB of JSON, multi-byte names) on every path:
clean, all records rejected, broken framing (``json`` framing, one broken
record near the start) and a table without a contract. Broken-framing
throughput is measured next to the clean one, in both framings.
Prints a table and writes bench/results.json.
"""

from __future__ import annotations

import gzip
import io
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambdas" / "transform"), str(ROOT / "lambdas" / "ml")]

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from smartstream_ml import inference, model, synthetic  # noqa: E402
from smartstream_transform.core import transform_object  # noqa: E402

TARGET_GZ_BYTES = 5_000_000
RUNS = 5
SOURCE_KEY = "raw/2026/11/24/10/smartstream-bench-1-2026-11-24-10-00-00-bench.gz"


MEMORY_RECORDS = 200_000
PATHS = ("clean", "all-rejected", "broken-framing", "uncontracted")


def make_records(employees: int = 120_000, seed: int = 2026) -> list[dict]:
    """A full load then CDC; each change carries a stream-position and transaction-record-id, as DMS
    writes them for a PostgreSQL source (a full load's records have none)."""
    people = synthetic.employees(employees, seed=seed)
    records = list(synthetic.cdc_stream(people, datetime(2026, 11, 24, 10, tzinfo=UTC), seed=seed))
    lsn = 0x2_7C007178
    for record in records:
        meta = record["metadata"]
        if meta["record-type"] == "data" and meta["operation"] != "load":
            lsn += 0x58
            at = f"{lsn >> 32:08X}/{lsn & 0xFFFFFFFF:08X}"
            meta["stream-position"] = f"{at}.3.{at}"
            meta["transaction-record-id"] = 1
    return records


def make_object(target: int = TARGET_GZ_BYTES, seed: int = 2026) -> tuple[bytes, int]:
    """A GZIP object of at least ``target`` bytes; returns (object, records)."""
    records = make_records(seed=seed)
    body = synthetic.render(records, "json-unformatted")
    return gzip.compress(body, compresslevel=6), len(records)


def broken(body: bytes, framing: str) -> bytes:
    """The object with one record near the start cut short (its end lost), as a broken write leaves it."""
    step = b"}{" if framing == "json" else b"}\n{"
    at = 0
    for _ in range(10):
        at = body.index(step, at + 1)
    return body[: at - 40] + body[at + 1 :]


def variant(records: list[dict], path: str) -> bytes:
    """The 200k-record object of one memory path (GZIP)."""
    if path == "all-rejected":
        records = [r | {"data": r["data"] | {"salary": "1_000.00"}} if "data" in r else r for r in records]
    elif path == "uncontracted":
        records = [r | {"metadata": r["metadata"] | {"table-name": "things"}} for r in records]
    framing = "json" if path == "broken-framing" else "json-unformatted"
    body = synthetic.render(records, framing)
    if path == "broken-framing":
        body = broken(body, framing)
    return gzip.compress(body, compresslevel=1)


def best_of(fn, runs: int = RUNS, cpu: list[float] | None = None) -> float:
    """The best wall time of ``runs``; the best CPU time of this process is appended to ``cpu`` (less
    disturbed than wall time on a shared machine)."""
    times, cpu_times = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - start_cpu)
    if cpu is not None:
        cpu.append(min(cpu_times))
    return min(times)


def floor_parse(gz: bytes) -> int:
    count = 0
    loads = json.loads
    for line in gzip.decompress(gz).splitlines():
        if line:
            loads(line)
            count += 1
    return count


def peak_memory(mode: str, path: Path) -> dict[str, float]:
    """Run one core in a fresh process; RSS before and at peak, in MiB."""
    out = subprocess.run(
        [sys.executable, __file__, "--memory", mode, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def _vm_hwm_mib() -> float:
    """Peak resident set of this process (VmHWM). ru_maxrss would not do: Linux keeps it across
    exec, so a child started by a big parent reports the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _memory_child(mode: str, path: str) -> None:
    data = Path(path).read_bytes()
    before = _vm_hwm_mib()
    start = time.perf_counter()
    if mode == "transform":
        result = transform_object(io.BytesIO(data), SOURCE_KEY)
        assert result.log_record()["balanced"]
        seconds = time.perf_counter() - start
        print(
            json.dumps(
                {
                    "rss_before_mib": round(before, 1),
                    "rss_peak_mib": round(_vm_hwm_mib(), 1),
                    "above_baseline_mib": round(_vm_hwm_mib() - before, 1),
                    "seconds": round(seconds, 2),
                    "read": result.totals.read,
                    "written": result.totals.written,
                    "quarantined": result.totals.quarantined,
                }
            )
        )
        return
    else:
        fitted = model.SalaryModel.from_json(Path(path + ".model.json").read_text())
        batches = pq.ParquetFile(io.BytesIO(data)).iter_batches(batch_size=16_384)
        table = inference.score_rows(fitted, (row for b in batches for row in b.to_pylist()), SOURCE_KEY)
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="snappy")
    peak = _vm_hwm_mib()
    print(json.dumps({"rss_before_mib": round(before, 1), "rss_peak_mib": round(peak, 1)}))


def main() -> None:
    work = ROOT / "bench" / ".work"
    work.mkdir(exist_ok=True)
    gz, records = make_object()
    raw_bytes = len(gzip.decompress(gz))
    (work / "object.gz").write_bytes(gz)

    holder: dict = {}
    cpu: list[float] = []
    transform_s = best_of(lambda: holder.__setitem__("r", transform_object(io.BytesIO(gz), SOURCE_KEY)), cpu=cpu)
    result = holder["r"]
    assert all(c.balanced for c in result.counts.values())
    floor_s = best_of(lambda: floor_parse(gz), cpu=cpu)
    per_record_s = best_of(lambda: transform_object(io.BytesIO(gz), SOURCE_KEY, block_bytes=0), runs=3, cpu=cpu)
    transform_cpu_s, floor_cpu_s, per_record_cpu_s = cpu
    plain = gzip.decompress(gz)
    framings = {}
    for framing in ("json-unformatted", "json"):
        body = plain if framing == "json-unformatted" else synthetic.render(make_records(), "json")
        clean_gz, broken_gz = gzip.compress(body, 6), gzip.compress(broken(body, framing), 6)
        clean_s = best_of(lambda g=clean_gz: transform_object(io.BytesIO(g), SOURCE_KEY), runs=3)
        broken_s = best_of(lambda g=broken_gz: transform_object(io.BytesIO(g), SOURCE_KEY), runs=3)
        framings[framing] = {
            "clean_seconds": round(clean_s, 3),
            "broken_seconds": round(broken_s, 3),
            "clean_records_per_s": round(records / clean_s),
            "broken_records_per_s": round(records / broken_s),
            "broken_over_clean": round(broken_s / clean_s, 3),
        }
    big = make_records(employees=int(MEMORY_RECORDS / 1.13), seed=7)
    memory = {}
    for path in PATHS:
        target = work / f"memory-{path}.gz"
        target.write_bytes(variant(big, path))
        memory[path] = peak_memory("transform", target)

    trusted = result.outputs[0]
    trusted_body = trusted.body
    (work / "trusted.parquet").write_bytes(trusted_body)
    rows = pq.read_table(io.BytesIO(trusted_body)).to_pylist()
    current = model.current_state(rows)
    observations = [o for o in (model.observation(r, r["_commit_ts"].date()) for r in current) if o]
    fitted = model.fit(observations)
    (work / "trusted.parquet.model.json").write_text(fitted.to_json())
    labels = {p.id: p.planted_anomaly for p in synthetic.employees(120_000, seed=2026)}
    quality = model.quality(fitted, observations, labels)

    def score() -> None:
        batches = pq.ParquetFile(io.BytesIO(trusted_body)).iter_batches(batch_size=16_384)
        table = inference.score_rows(fitted, (row for b in batches for row in b.to_pylist()), SOURCE_KEY)
        pq.write_table(table, io.BytesIO(), compression="snappy")

    ml_s = best_of(score)
    ml_floor_s = best_of(lambda: pq.read_table(io.BytesIO(trusted_body)).to_pylist())
    fit_s = best_of(lambda: model.fit(observations), runs=3)

    report = {
        "input": {
            "gzip_bytes": len(gz),
            "json_bytes": raw_bytes,
            "records": records,
            "trusted_rows": trusted.rows,
            "python": sys.version.split()[0],
            "pyarrow": pa.__version__,
        },
        "transform": {
            "seconds": round(transform_s, 3),
            "records_per_s": round(records / transform_s),
            "mb_per_s_gzip": round(len(gz) / 1e6 / transform_s, 2),
            "mb_per_s_json": round(raw_bytes / 1e6 / transform_s, 2),
            "floor_seconds": round(floor_s, 3),
            "floor_records_per_s": round(records / floor_s),
            "ratio_to_floor": round(floor_s / transform_s, 3),
            "cpu_seconds": round(transform_cpu_s, 3),
            "floor_cpu_seconds": round(floor_cpu_s, 3),
            "ratio_to_floor_cpu": round(floor_cpu_s / transform_cpu_s, 3),
            "per_record_path_seconds": round(per_record_s, 3),
            "per_record_path_cpu_seconds": round(per_record_cpu_s, 3),
            "per_record_path_ratio_to_floor": round(floor_s / per_record_s, 3),
            "per_record_path_ratio_to_floor_cpu": round(floor_cpu_s / per_record_cpu_s, 3),
            "framings": framings,
            "memory_records": len(big),
            "memory_json_mb": round(len(synthetic.render(big)) / 1e6, 1),
            "memory": memory,
        },
        "ml": {
            "rows": trusted.rows,
            "scoring_seconds": round(ml_s, 3),
            "rows_per_s": round(trusted.rows / ml_s),
            "floor_seconds": round(ml_floor_s, 3),
            "ratio_to_floor": round(ml_floor_s / ml_s, 3),
            "training_seconds": round(fit_s, 3),
            "training_rows": len(observations),
            "quality_on_planted_anomalies": quality,
            "memory": peak_memory("ml", work / "trusted.parquet"),
        },
    }
    (ROOT / "bench" / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    t, m = report["transform"], report["ml"]
    print(f"input      {len(gz) / 1e6:.2f} MB gzip, {raw_bytes / 1e6:.1f} MB JSON, {records} DMS records")
    print(
        f"transform  {t['seconds']} s  {t['records_per_s']} records/s  {t['mb_per_s_gzip']} MB/s gzip "
        f"({t['mb_per_s_json']} MB/s JSON)"
    )
    print(f"  floor    {t['floor_seconds']} s  {t['floor_records_per_s']} records/s  (gunzip + json.loads per line)")
    print(f"  ratio    {t['ratio_to_floor']:.0%} of the floor (target >= 60%)")
    print(
        f"  cpu      transform {t['cpu_seconds']} s, floor {t['floor_cpu_seconds']} s: "
        f"{t['ratio_to_floor_cpu']:.0%} of the floor in CPU time"
    )
    print(
        f"  per-record path alone (no blocks) {t['per_record_path_seconds']} s, cpu {t['per_record_path_cpu_seconds']} s: "
        f"{t['per_record_path_ratio_to_floor']:.0%} of the floor, {t['per_record_path_ratio_to_floor_cpu']:.0%} in CPU time"
    )
    for framing, f in t["framings"].items():
        print(
            f"  {framing:<17} clean {f['clean_seconds']} s ({f['clean_records_per_s']} records/s), broken framing "
            f"{f['broken_seconds']} s ({f['broken_records_per_s']} records/s): x{f['broken_over_clean']}"
        )
    print(f"  memory   {t['memory_records']} records, {t['memory_json_mb']} MB JSON, fresh process per path:")
    for path, mem in t["memory"].items():
        print(
            f"    {path:<15} +{mem['above_baseline_mib']} MiB above the baseline ({mem['rss_before_mib']} -> "
            f"{mem['rss_peak_mib']} MiB), {mem['seconds']} s, written {mem['written']}, "
            f"quarantined {mem['quarantined']}"
        )
    print(
        f"ml score   {m['scoring_seconds']} s  {m['rows_per_s']} rows/s; floor (read + decode) "
        f"{m['floor_seconds']} s; ratio {m['ratio_to_floor']:.0%}"
    )
    print(
        f"ml train   {m['training_seconds']} s for {m['training_rows']} employees; quality "
        f"precision {m['quality_on_planted_anomalies']['precision']} recall {m['quality_on_planted_anomalies']['recall']}"
    )
    print(f"  memory   peak RSS {m['memory']['rss_peak_mib']} MiB (before: {m['memory']['rss_before_mib']} MiB)")
    print(f"(best of {RUNS} runs each)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--memory":
        _memory_child(sys.argv[2], sys.argv[3])
    else:
        main()
