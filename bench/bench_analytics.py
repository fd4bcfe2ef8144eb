"""Benchmarks of the Glue crawler and Athena engines, measured in one run against an in-process emulator.

Athena: the current-employees saved query over ~1,000,000 trusted change
rows (10 dt partitions, 100 Parquet files shaped like the transform's
output), run through the local Athena (StartQueryExecution -> SUCCEEDED:
Glue lookups, S3 reads through moto, DuckDB, result CSV written to S3),
against DuckDB reading the same Parquet files directly from disk (same SQL,
same run). Target: Athena <= 1.5 x DuckDB.

Crawler: 1,000 small Parquet objects in 100 partitions, one crawl from
StartCrawler to READY, with the S3 and Glue calls the crawl made (counted at
the emulator's HTTP front door).

IAM is enforced as in the local default (emulator/server.py): the crawler
runs as a role holding the catalog role's S3 and Glue permissions, so its
footers are read with ranged GetObjects, and Athena authorises each file
as S3 decides a GetObject by its caller (in-process: bucket policy, identity
policies, KMS), as they do there. ``--no-iam`` measures moto without IAM.

Usage: .venv/bin/python bench/bench_analytics.py [rows] [--no-iam]   (writes bench/.work/results_analytics.json)
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from moto.moto_api import state_manager  # noqa: E402
from moto.moto_server.threaded_moto_server import ThreadedMotoServer  # noqa: E402
from sqlglot import exp, parse_one  # noqa: E402

from emulator import patches  # noqa: E402
from emulator.engines import athena, glue_crawler  # noqa: E402
from emulator.engines.host import EngineContext, EngineHost  # noqa: E402
from emulator.patches import iam  # noqa: E402

REGION = "us-east-1"
RUNS = 5
DAYS = 10
FILES_PER_DAY = 10
WORK = ROOT / "bench" / ".work" / "analytics"


class Calls(logging.Handler):
    """Counts the requests the emulator serves, by kind."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        text = text.replace("\x1b[35m\x1b[1m", "").replace("\x1b[0m", "")
        if '"GET /' in text and "list-type=2" in text:
            self.counts["s3:ListObjectsV2"] += 1
        elif '"GET /' in text:
            self.counts["s3:GetObject"] += 1
        elif '"HEAD /' in text:
            self.counts["s3:HeadObject"] += 1
        elif '"POST / ' in text:
            self.counts["json-api (glue/sts/...)"] += 1


def change_rows(n: int, seed: int = 11) -> pa.Table:
    """``n`` CDC change rows of ~n/7 employees, as the transform writes them (its trusted schema)."""
    rng = np.random.default_rng(seed)
    people = max(1, n // 7)
    ids = rng.integers(1, people + 1, n)
    ops = np.where(rng.random(n) < 0.03, "delete", np.where(rng.random(n) < 0.2, "insert", "update"))
    commit = np.sort(rng.integers(1_735_689_600_000_000, 1_735_689_600_000_000 + DAYS * 86_400_000_000, n))
    lsn = 0x2_7C000000 + np.arange(n, dtype=np.int64) * 64
    record_id = np.arange(n) % 3 + 1
    position = np.char.add(np.char.add(lsn.astype(str), "."), record_id.astype(str))
    departments = np.array(["engineering", "sales", "marketing", "finance", "operations", "support"])
    salary = pa.array(np.round(np.abs(rng.normal(80_000, 15_000, n)), 2)).cast(pa.decimal128(10, 2))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "first_name": pa.array(np.char.add("first", ids.astype(str))),
            "last_name": pa.array(np.char.add("last", ids.astype(str))),
            "email": pa.array(np.char.add(ids.astype(str), "@example.org")),
            "department": pa.array(departments[ids % len(departments)]),
            "salary": salary,
            "hire_date": pa.array((ids % 3000).astype("datetime64[D]").astype("datetime64[D]"), pa.date32()),
            "created_at": pa.array(commit, pa.timestamp("us", tz="UTC")),
            "updated_at": pa.array(commit, pa.timestamp("us", tz="UTC")),
            "_extra": pa.nulls(n, pa.string()),
            "_op": pa.array(ops),
            "_commit_ts": pa.array(commit, pa.timestamp("us", tz="UTC")),
            "_lsn": pa.array(lsn, pa.int64()),
            "_stream_position": pa.array(position),
            "_transaction_id": pa.array(commit // 1000, pa.int64()),
            "_transaction_record_id": pa.array(record_id, pa.int64()),
            "_change_id": pa.array(np.char.add(np.char.add(position, "|"), record_id.astype(str))),
            "_source_key": pa.array(np.char.add("raw/obj-", (np.arange(n) // 5000).astype(str))),
            "_record_seq": pa.array(np.arange(n) % 5000 + 1, pa.int64()),
        }
    )


def write_lake(s3, table: pa.Table, local: Path) -> int:
    """The change rows as trusted/public/employees/dt=<day>/part-<i>.parquet, on disk and in S3; returns bytes."""
    days = (pa.compute.cast(table["_commit_ts"], pa.int64()).to_numpy() // 86_400_000_000).astype("datetime64[D]")
    total = 0
    for day in np.unique(days):
        rows = table.filter(pa.array(days == day))
        for i, chunk in enumerate(np.array_split(np.arange(rows.num_rows), FILES_PER_DAY)):
            sink = io.BytesIO()
            pq.write_table(rows.take(pa.array(chunk)), sink)
            key = f"trusted/public/employees/dt={day}/part-{i}.parquet"
            (local / key).parent.mkdir(parents=True, exist_ok=True)
            (local / key).write_bytes(sink.getvalue())
            s3.put_object(Bucket="lake", Key=key, Body=sink.getvalue())
            total += len(sink.getvalue())
    return total


def crawl(glue, name: str) -> float:
    started = time.perf_counter()
    glue.start_crawler(Name=name)
    while glue.get_crawler(Name=name)["Crawler"]["State"] != "READY":
        time.sleep(0.02)
    return time.perf_counter() - started


def athena_query(client, sql: str) -> tuple[float, dict]:
    started = time.perf_counter()
    qid = client.start_query_execution(QueryString=sql, WorkGroup="bench", QueryExecutionContext={"Database": "bench"})[
        "QueryExecutionId"
    ]
    while True:
        execution = client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if execution["Status"]["State"] not in ("QUEUED", "RUNNING"):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    if execution["Status"]["State"] != "SUCCEEDED":
        raise SystemExit(f"query failed: {execution['Status']}")
    return elapsed, execution


def duckdb_direct(sql: str, local: Path, csv_out: Path | None = None) -> tuple[float, int]:
    """The same query, DuckDB reading the Parquet files from disk (hive partitioning for dt): the result
    fetched as Arrow, or (``csv_out``) written as a quoted CSV like Athena's."""
    tree = parse_one(sql, read="athena")
    for table in tree.find_all(exp.Table):
        table.set("db", None)
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute(
        f"CREATE VIEW employees AS SELECT * FROM read_parquet("
        f"'{local}/trusted/public/employees/*/*.parquet', hive_partitioning = true)"
    )
    started = time.perf_counter()
    if csv_out is not None:
        con.execute(f"COPY ({tree.sql(dialect='duckdb')}) TO '{csv_out}' (HEADER, FORCE_QUOTE *)")
        return time.perf_counter() - started, 0
    result = con.sql(tree.sql(dialect="duckdb")).to_arrow_table()
    return time.perf_counter() - started, result.num_rows


def athena_backend():
    from moto.athena.models import athena_backends

    return athena_backends["123456789012"][REGION]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CRAWLER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
# The catalog role's permissions (roles/catalog/tasks/present.yml), on the bench's bucket and database.
CRAWLER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::lake"]},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::lake/*"]},
        {
            "Effect": "Allow",
            "Action": [
                "glue:GetDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:BatchGetPartition",
                "glue:CreatePartition",
                "glue:BatchCreatePartition",
                "glue:UpdatePartition",
                "glue:BatchUpdatePartition",
            ],
            "Resource": [
                f"arn:aws:glue:{REGION}:123456789012:catalog",
                f"arn:aws:glue:{REGION}:123456789012:database/bench",
                f"arn:aws:glue:{REGION}:123456789012:table/bench/*",
            ],
        },
    ],
}


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    enforced = "--no-iam" not in sys.argv[1:]
    rows = int(args[0]) if args else 1_000_000
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
    )
    patches.apply_all()
    iam.enforce(enforced)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    calls = Calls()
    logging.getLogger("werkzeug").addHandler(calls)
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    logging.getLogger("werkzeug").propagate = False
    url = f"http://127.0.0.1:{port}"
    os.environ["AWS_ENDPOINT_URL"] = url
    host = EngineHost(EngineContext(endpoint_url=url, ca_bundle=None, run_dir=Path(tempfile.mkdtemp())))
    glue_crawler.install(host)
    athena.install(host)
    state_manager.set_transition(model_name="glue::crawl", transition={"progression": "immediate"})
    s3, glue, client = (boto3.client(s, region_name=REGION) for s in ("s3", "glue", "athena"))
    for bucket in ("lake", "results"):
        s3.create_bucket(Bucket=bucket)
    glue.create_database(DatabaseInput={"Name": "bench"})
    boto3.client("iam").create_role(RoleName="crawler", AssumeRolePolicyDocument=json.dumps(CRAWLER_TRUST))
    boto3.client("iam").put_role_policy(
        RoleName="crawler", PolicyName="crawl", PolicyDocument=json.dumps(CRAWLER_POLICY)
    )
    client.create_work_group(Name="bench", Configuration={"ResultConfiguration": {"OutputLocation": "s3://results/"}})
    WORK.mkdir(parents=True, exist_ok=True)
    local = Path(tempfile.mkdtemp(dir=WORK))
    print(f"generating {rows:,} change rows ...", flush=True)
    lake_bytes = write_lake(s3, change_rows(rows), local)

    # Crawler: 1,000 objects in 100 partitions.
    small = pq.write_table
    for day in range(100):
        for i in range(10):
            sink = io.BytesIO()
            small(pa.table({"id": pa.array(range(100), pa.int64()), "v": pa.array([float(i)] * 100)}), sink)
            s3.put_object(
                Bucket="lake",
                Key=f"crawl/events/dt=2025-{1 + day // 28:02d}-{1 + day % 28:02d}/f{i}.parquet",
                Body=sink.getvalue(),
            )
    for name, path, level in (("events", "s3://lake/crawl/", 2), ("trusted", "s3://lake/trusted/", 3)):
        glue.create_crawler(
            Name=name,
            Role="crawler",
            DatabaseName="bench",
            Targets={"S3Targets": [{"Path": path}]},
            Configuration=json.dumps({"Version": 1.0, "Grouping": {"TableLevelConfiguration": level}}),
        )
    crawl(glue, "trusted")
    calls.counts.clear()
    crawl_seconds = crawl(glue, "events")
    crawl_calls = dict(calls.counts)
    from moto.glue.models import glue_backends

    engine_counts = glue_backends["123456789012"][REGION].crawlers["events"].crawls[-1].engine_counts
    parts = sum(
        len(p["Partitions"])
        for p in glue.get_paginator("get_partitions").paginate(DatabaseName="bench", TableName="events")
    )
    recrawl_seconds = crawl(glue, "events")

    # Athena vs DuckDB direct.
    sql = (ROOT / "roles/analytics/templates/queries/current-employees.sql").read_text()
    sql = sql.replace("{{ analytics_database_name }}", "bench").replace("{{ analytics_employees_table }}", "employees")
    athena_times, direct_times, csv_times, execution, direct_rows, phases = [], [], [], {}, 0, []
    for _ in range(RUNS):  # interleaved: the machine is shared, its load moves
        csv_times.append(duckdb_direct(sql, local, local / "direct.csv")[0])
        seconds, execution = athena_query(client, sql)
        athena_times.append(seconds)
        phases.append(
            getattr(getattr(athena_backend().executions[execution["QueryExecutionId"]], "engine", None), "phases", {})
        )
        seconds, direct_rows = duckdb_direct(sql, local)
        direct_times.append(seconds)
    stats = execution["Statistics"]
    result_rows = int(s3.head_object(Bucket="results", Key=execution["QueryExecutionId"] + ".csv")["ContentLength"])
    results = {
        "iam_enforced": enforced,
        "change_rows": rows,
        "lake_bytes": lake_bytes,
        "result_rows": direct_rows,
        "athena_seconds_best": round(min(athena_times), 3),
        "duckdb_direct_seconds_best": round(min(direct_times), 3),
        "ratio": round(min(athena_times) / min(direct_times), 2),
        "athena_seconds_median": round(statistics.median(athena_times), 3),
        "duckdb_direct_seconds_median": round(statistics.median(direct_times), 3),
        "ratio_median": round(statistics.median(athena_times) / statistics.median(direct_times), 2),
        "duckdb_direct_to_csv_seconds_best": round(min(csv_times), 3),
        "ratio_vs_direct_to_csv": round(min(athena_times) / min(csv_times), 2),
        "athena_phases_best_run": phases[athena_times.index(min(athena_times))],
        "athena_engine_ms": stats["EngineExecutionTimeInMillis"],
        "athena_scanned_bytes": stats["DataScannedInBytes"],
        "result_csv_bytes": result_rows,
        "crawler_objects": 1000,
        "crawler_partitions": parts,
        "crawl_seconds": round(crawl_seconds, 2),
        "recrawl_seconds_nothing_new": round(recrawl_seconds, 2),
        "crawl_calls_at_the_emulator_incl_polling": crawl_calls,
        "crawl_engine_counts": {k: v for k, v in engine_counts.items() if k != "messages"},
    }
    print(f"IAM enforced: {enforced}")
    print(
        f"Athena current-employees over {rows:,} rows: {min(athena_times):.2f} s (best of {RUNS}; engine "
        f"{stats['EngineExecutionTimeInMillis']} ms, {stats['DataScannedInBytes']:,} bytes scanned, "
        f"{direct_rows:,} rows out)"
    )
    print(f"  local Athena phases (best run): {results['athena_phases_best_run']}")
    print(
        f"DuckDB reading the same Parquet directly (result as Arrow): {min(direct_times):.2f} s  ->  ratio "
        f"{results['ratio']}x best, {results['ratio_median']}x median (target <= 1.5x)"
    )
    print(
        f"DuckDB reading the same Parquet, writing the same quoted CSV locally: {min(csv_times):.2f} s  ->  ratio "
        f"{results['ratio_vs_direct_to_csv']}x"
    )
    print(
        f"Crawler: 1,000 objects / {parts} partitions in {crawl_seconds:.2f} s; engine {results['crawl_engine_counts']}; "
        f"requests at the emulator (with the client's polling) {crawl_calls}; "
        f"a second crawl with nothing new {recrawl_seconds:.2f} s"
    )
    (ROOT / "bench" / ".work" / "results_analytics.json").write_text(json.dumps(results, indent=1))
    host.stop()
    server.stop()


if __name__ == "__main__":
    main()
