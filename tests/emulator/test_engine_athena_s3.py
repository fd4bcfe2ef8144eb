"""The Athena engine's S3 side: reads and writes as the caller under IAM, objects kept across queries, Glue casts."""

from __future__ import annotations

import datetime as dt
import io
import json
import time

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emulator.engines import athena
from emulator.engines.athena import storage
from emulator.engines.athena.glue_types import glue_cast
from emulator.engines.host import EngineContext
from emulator.patches import iam as iam_patches

UTC = dt.UTC
BIG = "SELECT e.id, e.ts, rpad('x', 100, 'x') AS pad, n FROM events e CROSS JOIN UNNEST(sequence(1, 6000)) AS u(n)"


def parquet(ids: list[int], day: int = 1) -> bytes:
    ts = [dt.datetime(2024, 1, day, 12, 0, i, 123456, tzinfo=UTC) for i in range(len(ids))]
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array(ids, pa.int64()), "ts": pa.array(ts, pa.timestamp("us", tz="UTC"))}), sink)
    return sink.getvalue()


def run(client, sql: str) -> dict:
    qid = client.start_query_execution(QueryString=sql, WorkGroup="wg", QueryExecutionContext={"Database": "cat"})[
        "QueryExecutionId"
    ]
    deadline = time.monotonic() + 30
    while True:
        execution = client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if execution["Status"]["State"] not in ("QUEUED", "RUNNING") or time.monotonic() > deadline:
            return execution
        time.sleep(0.05)


def values(client, execution: dict) -> list[list[str | None]]:
    page = client.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    return [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]


@pytest.fixture
def lake(engine_host):
    """A lake with table cat.events (two dt partitions) and a work group writing SSE_S3 results to results/q/."""
    athena.install(engine_host)
    s3 = boto3.client("s3")
    for bucket in ("lake", "results"):
        s3.create_bucket(Bucket=bucket)
    for day, ids in ((1, [1, 2]), (2, [3])):
        s3.put_object(Bucket="lake", Key=f"events/dt=2024-01-0{day}/part.parquet", Body=parquet(ids, day))
    boto3.client("glue").create_database(DatabaseInput={"Name": "cat"})
    client = boto3.client("athena")
    client.create_work_group(
        Name="wg",
        Configuration={
            "ResultConfiguration": {
                "OutputLocation": "s3://results/q/",
                "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
            },
        },
    )
    for ddl in (
        "CREATE EXTERNAL TABLE events (id bigint, ts timestamp) PARTITIONED BY (dt string) STORED AS PARQUET "
        "LOCATION 's3://lake/events/'",
        "MSCK REPAIR TABLE events",
    ):
        assert run(client, ddl)["Status"]["State"] == "SUCCEEDED"
    return {
        "s3": s3,
        "athena": client,
        "ctx": EngineContext(engine_host.ctx.endpoint_url, None, engine_host.ctx.run_dir),
    }


def _as_role(lake: dict, name: str, statements: list[dict]) -> object:
    iam = boto3.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Statement": []}))["Role"]["Arn"]
    document = {"Version": "2012-10-17", "Statement": statements}
    iam.put_role_policy(RoleName=name, PolicyName="access", PolicyDocument=json.dumps(document))
    return lake["ctx"].client("athena", credentials=lake["ctx"].assume(arn, name))


CATALOG = {"Effect": "Allow", "Action": ["athena:*", "glue:Get*"], "Resource": "*"}
LIST = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::lake"}
READ = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/events/*"}
WRITE = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::results/q/*"}


def test_with_iam_enforced_a_query_reads_and_writes_as_its_caller(lake):
    # Given IAM enforced and three callers: allowed all, denied the result location, denied the data
    analyst = _as_role(lake, "analyst", [CATALOG, LIST, READ, WRITE])
    no_write = _as_role(lake, "no-write", [CATALOG, LIST, READ])
    no_read = _as_role(lake, "no-read", [CATALOG, LIST, WRITE])
    iam_patches.enforce(True)
    try:
        # When each runs a query whose result (1.4 MB) is put in-process once S3 authorised it
        allowed = run(analyst, BIG)
        unwritable = run(no_write, BIG)
        unreadable = run(no_read, "SELECT count(*) FROM events")
    finally:
        iam_patches.enforce(False)

    # Then the allowed one wrote its CSV (work group encryption, text/csv) and metadata where Athena puts them
    assert allowed["Status"]["State"] == "SUCCEEDED", allowed["Status"]
    qid = allowed["QueryExecutionId"]
    head = lake["s3"].head_object(Bucket="results", Key=f"q/{qid}.csv")
    assert (head["ServerSideEncryption"], head["ContentType"]) == ("AES256", "text/csv")
    assert head["ContentLength"] > storage.IN_PROCESS_PUT_BYTES
    lines = lake["s3"].get_object(Bucket="results", Key=f"q/{qid}.csv")["Body"].read().decode().splitlines()
    assert len(lines) == 18_001 and lines[0] == '"id","ts","pad","n"'
    assert lines[1].startswith('"1","2024-01-01 12:00:00.123","xxxx')
    lake["s3"].head_object(Bucket="results", Key=f"q/{qid}.csv.metadata")
    # and the others failed as Athena fails them, leaving nothing behind
    assert unwritable["Status"]["State"] == "FAILED"
    assert unwritable["Status"]["StateChangeReason"].startswith("Access denied when writing output to url: s3://")
    keys = [o["Key"] for o in lake["s3"].list_objects_v2(Bucket="results").get("Contents", [])]
    assert not any(unwritable["QueryExecutionId"] in key for key in keys)
    assert unreadable["Status"]["State"] == "FAILED"
    assert unreadable["Status"]["StateChangeReason"].startswith("HIVE_CANNOT_OPEN_SPLIT: ")


def test_an_object_rewritten_between_queries_is_read_anew_and_eviction_spares_running_queries(lake, monkeypatch):
    # Given a table read once (its objects now kept locally), and a cache that holds only one object
    client, s3 = lake["athena"], lake["s3"]
    assert values(client, run(client, "SELECT count(*), sum(id) FROM events"))[1] == ["3", "6"]
    monkeypatch.setattr(storage.OBJECTS, "limit", 1)

    # When one object is rewritten with other rows, and then with its first content again
    s3.put_object(Bucket="lake", Key="events/dt=2024-01-01/part.parquet", Body=parquet([10, 20, 30]))
    rewritten = run(client, "SELECT count(*), sum(id) FROM events")
    s3.put_object(Bucket="lake", Key="events/dt=2024-01-01/part.parquet", Body=parquet([1, 2]))
    restored = run(client, "SELECT count(*), sum(id) FROM events")

    # Then every query reads what S3 holds at the time
    assert values(client, rewritten)[1] == ["4", "63"]
    assert values(client, restored)[1] == ["3", "6"]
    assert len(storage.OBJECTS.files) == 1


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-02 03:04:05.678901+00",
        "1969-12-31 23:59:59.999999+00",
        "1500-03-01 00:00:00+00",
        "infinity",
        "-infinity",
        None,
    ],
)
def test_a_utc_parquet_timestamp_under_a_glue_timestamp_is_its_utc_wall_clock(value):
    # Given a Parquet timestamp adjusted to UTC (DuckDB: TIMESTAMP WITH TIME ZONE), in the engine's UTC session
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    literal = "NULL" if value is None else f"'{value}'"
    con.execute(f"CREATE TABLE t AS SELECT CAST({literal} AS TIMESTAMPTZ) AS c")

    # When it is read as Glue's timestamp
    read = con.sql(f"SELECT {glue_cast('c', 'TIMESTAMP WITH TIME ZONE', 'TIMESTAMP')} AS v FROM t")

    # Then it is a TIMESTAMP with the value a plain CAST gives (which converts value by value through ICU)
    assert [str(t) for t in read.types] == ["TIMESTAMP"]
    assert read.fetchall() == con.sql("SELECT CAST(c AS TIMESTAMP) FROM t").fetchall()
