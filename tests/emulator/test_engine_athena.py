"""The Athena engine: queries in Athena's SQL run over the Glue tables, results land where Athena puts them."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import os
import time
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from emulator.engines import athena
from emulator.engines.host import EngineContext, EngineHost
from tests.harness.emulator_inventory import RESET_TIMEOUT_S

REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "roles" / "analytics" / "templates" / "queries"
UTC = dt.UTC


def employees_file(rows: list[tuple]) -> bytes:
    """A trusted employees file as the transform writes it (contract columns, then the CDC metadata)."""
    names = [
        "id",
        "first_name",
        "last_name",
        "email",
        "department",
        "salary",
        "hire_date",
        "created_at",
        "updated_at",
        "_op",
        "_commit_ts",
        "_lsn",
        "_stream_position",
        "_transaction_id",
        "_transaction_record_id",
        "_change_id",
        "_source_key",
        "_record_seq",
    ]
    types = [
        pa.int64(),
        pa.string(),
        pa.string(),
        pa.string(),
        pa.string(),
        pa.float64(),
        pa.date32(),
        pa.timestamp("us", tz="UTC"),
        pa.timestamp("us", tz="UTC"),
        pa.string(),
        pa.timestamp("us", tz="UTC"),
        pa.int64(),
        pa.string(),
        pa.int64(),
        pa.int64(),
        pa.string(),
        pa.string(),
        pa.int64(),
    ]
    columns = list(zip(*rows, strict=True))
    table = pa.table({n: pa.array(list(c), t) for n, c, t in zip(names, columns, types, strict=True)})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def change(id_: int, op: str, salary: float, day: int, seq: int, dept: str = "eng") -> tuple:
    """A change row; CDC changes carry their log position (load rows have none, as from DMS)."""
    ts = dt.datetime(2024, 1, day, 12, 0, seq, tzinfo=UTC)
    lsn = None if op == "load" else 0x1000 + seq
    position = None if lsn is None else f"00000000/{lsn:08X}.1.00000000/{lsn:08X}"
    return (
        id_,
        f"first{id_}",
        f"last{id_}",
        f"p{id_}@x.org",
        dept,
        salary,
        dt.date(2020, 1, 1),
        ts,
        ts,
        op,
        ts,
        lsn,
        position,
        None if lsn is None else 700 + seq,
        None if lsn is None else 1,
        f"{id_}:{op}:{seq}" if lsn is None else f"{lsn}.1",
        f"raw/2024/01/{day:02d}/obj",
        seq,
    )


CHANGES = {
    1: [change(1, "load", 100.0, 1, 1), change(2, "load", 200.0, 1, 2, "ops"), change(3, "load", 300.0, 1, 3)],
    2: [change(1, "update", 150.0, 2, 4), change(2, "delete", 200.0, 2, 5, "ops"), change(4, "insert", 400.0, 2, 6)],
}


@pytest.fixture(scope="module")
def lake(emulator_url: str, tmp_path_factory: pytest.TempPathFactory):
    """The emulator wiped once for this module (its tests leave the lake as they found it) and the engine on."""
    requests.post(f"{emulator_url}/moto-api/reset", timeout=RESET_TIMEOUT_S).raise_for_status()
    env = {
        "AWS_ENDPOINT_URL": emulator_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CA_BUNDLE": None,
        "AWS_PROFILE": None,
    }
    saved = {k: os.environ.get(k) for k in env}
    for key, value in env.items():
        os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    host = EngineHost(
        EngineContext(endpoint_url=emulator_url, ca_bundle=None, run_dir=tmp_path_factory.mktemp("athena"))
    )
    athena.install(host)
    yield make_lake()
    host.stop()
    for key, value in saved.items():
        os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def make_lake() -> dict:
    """A data lake with the trusted employees table and ML anomalies, a work group enforcing SSE_S3 results."""
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("lake", "results"):
        s3.create_bucket(Bucket=bucket)
    for day, rows in CHANGES.items():
        s3.put_object(
            Bucket="lake", Key=f"trusted/public/employees/dt=2024-01-0{day}/part.parquet", Body=employees_file(rows)
        )
    anomalies = pa.table(
        {
            "id": pa.array([1, 3], pa.int64()),
            "department": ["eng", "eng"],
            "salary": [150.0, 300.0],
            "expected_salary": [140.0, 120.0],
            "anomaly_score": [0.5, 7.25],
            "is_anomaly": [False, True],
            "model_version": ["v1", "v1"],
            "_commit_ts": pa.array([0, 0], pa.timestamp("us", tz="UTC")),
        }
    )
    sink = io.BytesIO()
    pq.write_table(anomalies, sink)
    s3.put_object(Bucket="lake", Key="trusted-analytics/salary_anomalies/dt=2024-01-02/p.parquet", Body=sink.getvalue())
    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": "cat"})
    client = boto3.client("athena", region_name=REGION)
    client.create_work_group(
        Name="wg",
        Configuration={
            "ResultConfiguration": {
                "OutputLocation": "s3://results/q/",
                "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
            },
            "EnforceWorkGroupConfiguration": True,
        },
    )
    lake = {"s3": s3, "glue": glue, "athena": client}
    for ddl in (
        """CREATE EXTERNAL TABLE employees (id bigint, first_name string, last_name string, email string,
           department string, salary double, hire_date date, created_at timestamp, updated_at timestamp,
           _op string, _commit_ts timestamp, _lsn bigint, _stream_position string, _transaction_id bigint,
           _transaction_record_id bigint, _change_id string, _source_key string, _record_seq bigint)
           PARTITIONED BY (dt string) STORED AS PARQUET LOCATION 's3://lake/trusted/public/employees/'""",
        """CREATE EXTERNAL TABLE analytics_salary_anomalies (id bigint, department string, salary double,
           expected_salary double, anomaly_score double, is_anomaly boolean, model_version string,
           _commit_ts timestamp) PARTITIONED BY (dt string) STORED AS PARQUET
           LOCATION 's3://lake/trusted-analytics/salary_anomalies/'""",
        "MSCK REPAIR TABLE employees",
        "MSCK REPAIR TABLE analytics_salary_anomalies",
    ):
        assert run(lake, ddl)["Status"]["State"] == "SUCCEEDED"
    return lake


def run(lake, sql: str, wait: bool = True, **extra) -> dict:
    client = lake["athena"]
    kwargs = {"WorkGroup": "wg", "QueryExecutionContext": {"Database": "cat"}, **extra}
    qid = client.start_query_execution(QueryString=sql, **kwargs)["QueryExecutionId"]
    deadline = time.monotonic() + 30
    while True:
        execution = client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if not wait or execution["Status"]["State"] not in ("QUEUED", "RUNNING") or time.monotonic() > deadline:
            return execution
        time.sleep(0.05)


def rows(lake, execution: dict) -> list[list[str | None]]:
    got, token = [], None
    while True:
        page = lake["athena"].get_query_results(
            QueryExecutionId=execution["QueryExecutionId"], **({"NextToken": token} if token else {})
        )
        got.extend([d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"])
        token = page.get("NextToken")
        if not token:
            return got


def saved_query(name: str) -> str:
    text = (QUERIES / f"{name}.sql").read_text()
    for key, value in {
        "analytics_database_name": "cat",
        "analytics_employees_table": "employees",
        "analytics_anomalies_table": "analytics_salary_anomalies",
    }.items():
        text = text.replace("{{ " + key + " }}", value)
    return text


def test_select_over_a_partitioned_table_reads_only_the_partitions_the_where_keeps(lake):
    # Given the employees table with two dt partitions
    one_day = lake["s3"].head_object(Bucket="lake", Key="trusted/public/employees/dt=2024-01-02/part.parquet")

    # When a query filters on the partition column
    execution = run(lake, "SELECT count(*) AS n, min(dt) AS day FROM employees WHERE dt = '2024-01-02'")

    # Then it answers from that partition alone, and says how much it scanned
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    assert rows(lake, execution) == [["n", "day"], ["3", "2024-01-02"]]
    assert execution["Statistics"]["DataScannedInBytes"] == one_day["ContentLength"]
    assert execution["Statistics"]["EngineExecutionTimeInMillis"] >= 0


def test_each_saved_query_of_the_analytics_layer_runs(lake):
    # Given the four saved queries, their Jinja names rendered
    # When each runs in the work group
    results = {
        name: run(lake, saved_query(name))
        for name in ("current-employees", "changes-per-day", "salary-by-department", "salary-anomalies")
    }

    # Then each succeeds with the answer the data implies
    for name, execution in results.items():
        assert execution["Status"]["State"] == "SUCCEEDED", (name, execution["Status"])
    current = rows(lake, results["current-employees"])
    assert current[0][0] == "id"
    assert [(r[0], r[5]) for r in current[1:]] == [("1", "150.0"), ("3", "300.0"), ("4", "400.0")]
    assert current[1][9] == "2024-01-02 12:00:04.000"
    assert rows(lake, results["changes-per-day"])[1:] == [
        ["2024-01-02", "delete", "1"],
        ["2024-01-02", "insert", "1"],
        ["2024-01-02", "update", "1"],
        ["2024-01-01", "load", "3"],
    ]
    by_department = rows(lake, results["salary-by-department"])
    assert by_department[1][:5] == ["eng", "3", "283.33", "150.0", "400.0"]
    assert rows(lake, results["salary-anomalies"])[1:] == [
        ["3", "eng", "300.0", "120.0", "7.25", "v1", "1970-01-01 00:00:00.000"]
    ]
    info = lake["athena"].get_query_results(QueryExecutionId=results["current-employees"]["QueryExecutionId"])
    types = {c["Name"]: c["Type"] for c in info["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]}
    assert (types["id"], types["first_name"], types["salary"], types["hire_date"], types["changed_at"]) == (
        "bigint",
        "varchar",
        "double",
        "date",
        "timestamp",
    )


def test_a_view_is_stored_in_glue_as_athena_stores_it_queried_then_dropped(lake):
    # Given a view created in Athena's dialect
    created = run(
        lake,
        "CREATE OR REPLACE VIEW current_ids AS SELECT id, max(_commit_ts) AS last_change FROM employees GROUP BY id",
    )
    assert created["Status"]["State"] == "SUCCEEDED", created["Status"]

    # Then Glue holds a Presto view
    view = lake["glue"].get_table(DatabaseName="cat", Name="current_ids")["Table"]
    assert view["TableType"] == "VIRTUAL_VIEW"
    assert view["Parameters"] == {"presto_view": "true", "comment": "Presto View"}
    assert view["ViewExpandedText"] == "/* Presto View */"
    encoded = view["ViewOriginalText"].removeprefix("/* Presto View: ").removesuffix(" */")
    payload = json.loads(base64.b64decode(encoded))
    assert payload["originalSql"].startswith("SELECT id, max(_commit_ts)")
    assert payload["catalog"] == "awsdatacatalog" and payload["schema"] == "cat"
    assert payload["columns"] == [{"name": "id", "type": "bigint"}, {"name": "last_change", "type": "timestamp(3)"}]
    assert [c["Name"] for c in view["StorageDescriptor"]["Columns"]] == ["id", "last_change"]

    # When it is queried, qualified, and then dropped
    queried = run(lake, 'SELECT count(*) FROM "cat"."current_ids" v WHERE v.id > 1')
    dropped = run(lake, "DROP VIEW current_ids")
    again = run(lake, "DROP VIEW IF EXISTS current_ids")

    # Then the query answered through the view, and the view is gone
    assert rows(lake, queried)[1] == ["3"]
    assert dropped["Status"]["State"] == again["Status"]["State"] == "SUCCEEDED"
    assert [t["Name"] for t in lake["glue"].get_tables(DatabaseName="cat")["TableList"]] == [
        "employees",
        "analytics_salary_anomalies",
    ]


def test_an_untranslatable_or_invalid_query_fails_with_a_clear_reason(lake):
    # When a query uses what DuckDB cannot express, or is not SQL, or names a missing table
    untranslatable = run(lake, "SELECT reduce(ARRAY[1, 2], 0, (s, x) -> s + x, s -> s * 10) AS r")
    invalid = run(lake, "SELEC id FROM employees")
    missing = run(lake, "SELECT * FROM nowhere")

    # Then each FAILED, saying why
    assert untranslatable["Status"]["State"] == "FAILED"
    assert untranslatable["Status"]["StateChangeReason"].startswith("NOT_SUPPORTED: ")
    assert "Reduce" in untranslatable["Status"]["StateChangeReason"]
    assert invalid["Status"]["State"] == "FAILED"
    assert invalid["Status"]["StateChangeReason"].startswith("SYNTAX_ERROR: line 1:")
    assert (
        missing["Status"]["StateChangeReason"] == "TABLE_NOT_FOUND: Table 'awsdatacatalog.cat.nowhere' does not exist"
    )
    assert missing["Status"]["AthenaError"]["ErrorCategory"] == 2


def test_the_bytes_scanned_cutoff_cancels_a_query_as_athena_does(lake):
    # Given a work group with the smallest cutoff Athena allows, and a table of 11 MB of incompressible bytes
    lake["athena"].create_work_group(
        Name="small",
        Configuration={
            "ResultConfiguration": {"OutputLocation": "s3://results/small/"},
            "BytesScannedCutoffPerQuery": 10_000_000,
        },
    )
    blob = pa.table({"b": pa.array([os.urandom(11_000_000)], pa.binary())})
    sink = io.BytesIO()
    pq.write_table(blob, sink, compression="none")
    lake["s3"].put_object(Bucket="lake", Key="big/data.parquet", Body=sink.getvalue())
    assert run(lake, "CREATE DATABASE IF NOT EXISTS scratch")["Status"]["State"] == "SUCCEEDED"
    assert (
        run(lake, "CREATE EXTERNAL TABLE scratch.big (b binary) STORED AS PARQUET LOCATION 's3://lake/big/'")["Status"][
            "State"
        ]
        == "SUCCEEDED"
    )

    # When a query scans it in that work group, and a small one too
    over = run(lake, "SELECT length(b) FROM scratch.big", WorkGroup="small")
    under = run(lake, "SELECT count(*) FROM employees WHERE dt = '2024-01-01'", WorkGroup="small")

    # Then the big one is cancelled with Athena's reason at the cutoff; the small one runs
    assert over["Status"]["State"] == "CANCELLED"
    assert over["Status"]["StateChangeReason"] == "Bytes scanned limit was exceeded"
    assert over["Statistics"]["DataScannedInBytes"] == 10_000_000
    assert under["Status"]["State"] == "SUCCEEDED"


def test_a_5000_row_result_pages_by_1000_with_the_header_first(lake):
    # When a query returns 5,000 rows
    execution = run(lake, "SELECT n, 'x' || CAST(n AS varchar) AS s FROM UNNEST(sequence(1, 5000)) AS t(n) ORDER BY n")

    # Then GetQueryResults pages them: header first, at most 1000 rows a page, NextToken to the end
    client, token, pages, got = lake["athena"], None, 0, []
    while True:
        page = client.get_query_results(
            QueryExecutionId=execution["QueryExecutionId"], MaxResults=1000, **({"NextToken": token} if token else {})
        )
        pages += 1
        assert len(page["ResultSet"]["Rows"]) <= 1000
        got.extend(r["Data"][0]["VarCharValue"] for r in page["ResultSet"]["Rows"])
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 6
    assert got[0] == "n" and got[1:] == [str(n) for n in range(1, 5001)]
    small = client.get_query_results(QueryExecutionId=execution["QueryExecutionId"], MaxResults=10)
    assert len(small["ResultSet"]["Rows"]) == 10 and small["NextToken"]


def test_the_csv_and_its_metadata_land_at_the_enforced_location_encrypted(lake):
    # When a query runs in the enforcing work group although the request names another location
    execution = run(
        lake,
        "SELECT id, first_name, NULL AS nothing, 'say \"hi\"' AS quote FROM employees "
        "WHERE dt = '2024-01-01' ORDER BY id",
        ResultConfiguration={"OutputLocation": "s3://elsewhere/"},
    )

    # Then <OutputLocation><QueryExecutionId>.csv and .csv.metadata exist there, SSE_S3, quoted as Athena quotes
    qid = execution["QueryExecutionId"]
    assert execution["ResultConfiguration"]["OutputLocation"] == f"s3://results/q/{qid}.csv"
    obj = lake["s3"].get_object(Bucket="results", Key=f"q/{qid}.csv")
    assert obj["ServerSideEncryption"] == "AES256"
    text = obj["Body"].read().decode()
    assert text.splitlines()[:2] == ['"id","first_name","nothing","quote"', '"1","first1",,"say ""hi"""']
    assert list(csv.reader(io.StringIO(text)))[3] == ["3", "first3", "", 'say "hi"']
    lake["s3"].head_object(Bucket="results", Key=f"q/{qid}.csv.metadata")


def test_show_tables_and_describe_answer_from_glue(lake):
    # When the catalog is asked about itself
    tables = run(lake, "SHOW TABLES IN cat")
    described = run(lake, "DESCRIBE employees")
    partitions = run(lake, "SHOW PARTITIONS employees")

    # Then the answers come from Glue, without a header row
    assert rows(lake, tables) == [["analytics_salary_anomalies"], ["employees"]]
    assert rows(lake, described)[0][0].split("\t")[:2] == ["id".ljust(20), "bigint".ljust(20)]
    assert rows(lake, partitions) == [["dt=2024-01-01"], ["dt=2024-01-02"]]
    assert tables["ResultConfiguration"]["OutputLocation"].endswith(".txt")


def test_stop_query_execution_cancels_a_query(lake):
    # When a long query is stopped while it runs
    # (4e9 rows of a cross join of two small arrays: ~20 s of DuckDB without holding much memory)
    execution = run(
        lake,
        "SELECT max(x * 3 + y) FROM UNNEST(sequence(1, 100000)) AS a(x) CROSS JOIN UNNEST(sequence(1, 40000)) AS b(y)",
        wait=False,
    )
    lake["athena"].stop_query_execution(QueryExecutionId=execution["QueryExecutionId"])
    final = run(lake, "SELECT 1")  # a later query still runs
    stopped = lake["athena"].get_query_execution(QueryExecutionId=execution["QueryExecutionId"])["QueryExecution"]

    # Then it is CANCELLED, and DuckDB really stopped (its connection released), not running on in the background
    assert stopped["Status"]["State"] == "CANCELLED"
    assert final["Status"]["State"] == "SUCCEEDED"
    from moto.athena.models import athena_backends

    backend = athena_backends["123456789012"]["us-east-1"]
    engine_run = backend.executions[execution["QueryExecutionId"]].engine
    deadline = time.monotonic() + 5
    while engine_run.connection is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine_run.connection is None
