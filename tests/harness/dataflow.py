"""Read every stage of a deployed platform's data path through the AWS API and the source database.

Used by the end-to-end tests, the demo (``python -m tests.harness.demo``) and
the end-to-end benchmark: rows in the source -> records in the stream -> raw
objects -> trusted Parquet -> the current state derived from trusted/ by the
analytics layer's saved current-employees query. Everything is found from the
outputs file ``site.yml`` writes (``outputs/<host>.json``) and read as a
client of the emulator would read AWS.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot

from tests.harness.emulator_inventory import client, emulator_session_kwargs

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "roles" / "analytics" / "templates" / "queries"
EMPLOYEE_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "department",
    "salary",
    "hire_date",
    "created_at",
    "updated_at",
)
TRUSTED_TABLE = "trusted/public/employees/"


@dataclass(frozen=True)
class Platform:
    """Names of one deployed environment, from its outputs file."""

    region: str
    bucket: str
    stream: str
    firehose: str
    task_arn: str
    secret_name: str
    db_host: str
    db_port: int
    db_name: str
    transform_function: str
    outputs: dict[str, Any]

    @classmethod
    def load(cls, host: str = "local-us-east-1") -> Platform:
        outputs = json.loads((ROOT / "outputs" / f"{host}.json").read_text())
        streaming, database = outputs["streaming"], outputs["database"]
        return cls(
            region=outputs["region"],
            bucket=outputs["storage"]["data_lake_bucket_name"],
            stream=streaming["stream_name"],
            firehose=streaming["delivery_stream_name"],
            task_arn=outputs["ingestion"]["replication_task_arn"],
            secret_name=database["secret_name"],
            db_host=database["connect_host"],
            db_port=int(database["connect_port"]),
            db_name=database["name"],
            transform_function=outputs["processing"]["transform_function_name"],
            outputs=outputs,
        )

    def client(self, service: str) -> Any:
        return client(service, self.region)

    def connect(self) -> psycopg.Connection:
        """The source database as its master user (credentials from Secrets Manager), TLS verified."""
        secret = json.loads(self.client("secretsmanager").get_secret_value(SecretId=self.secret_name)["SecretString"])
        return psycopg.connect(
            host=self.db_host,
            port=self.db_port,
            dbname=self.db_name,
            user=secret["username"],
            password=secret["password"],
            sslmode="verify-full",
            sslrootcert=emulator_session_kwargs()["verify"],
            autocommit=True,
        )


def source_state(conn: psycopg.Connection) -> dict[int, tuple]:
    """The source table, id -> normalised row."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT {', '.join(EMPLOYEE_COLUMNS)} FROM public.employees")
        return {row[0]: normalise(dict(zip(EMPLOYEE_COLUMNS, row, strict=True))) for row in cur.fetchall()}


def normalise(row: dict[str, Any]) -> tuple:
    """A row as comparable values: decimals as text with 2 places, timestamps as naive UTC to the microsecond."""
    out = []
    for name in EMPLOYEE_COLUMNS:
        value = row.get(name)
        if isinstance(value, Decimal | float) and name == "salary":
            value = f"{Decimal(value):.2f}"
        elif isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        out.append(value)
    return tuple(out)


def stream_records(platform: Platform) -> int:
    """How many records the stream holds (every shard, from its trim horizon)."""
    kinesis = platform.client("kinesis")
    total = 0
    for shard in kinesis.list_shards(StreamName=platform.stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=platform.stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10000)
            total += len(page["Records"])
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
    return total


def objects(platform: Platform, prefix: str) -> list[dict[str, Any]]:
    """Every object under ``prefix`` of the data lake (Key, Size, LastModified)."""
    s3 = platform.client("s3")
    found: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=platform.bucket, Prefix=prefix):
        found.extend(o for o in page.get("Contents", []) if not o["Key"].endswith("/"))  # not folder markers
    return found


def trusted_changes(platform: Platform) -> pa.Table | None:
    """Every change row of the employees table in trusted/, from all its Parquet files."""
    s3 = platform.client("s3")
    tables = []
    for item in objects(platform, TRUSTED_TABLE):
        if item["Key"].endswith(".parquet"):
            body = s3.get_object(Bucket=platform.bucket, Key=item["Key"])["Body"].read()
            table = pq.read_table(io.BytesIO(body))
            day = item["Key"].split("/dt=", 1)[1].split("/", 1)[0] if "/dt=" in item["Key"] else None
            tables.append(table.append_column("dt", pa.array([day] * table.num_rows, pa.string())))
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")


def saved_query(name: str, table: str = "employees") -> str:
    """A saved query of the analytics layer as DuckDB SQL over a relation named ``table``."""
    text = (QUERIES / f"{name}.sql").read_text()
    text = text.replace('"{{ analytics_database_name }}".', "")
    text = text.replace("{{ analytics_database_name }}.", "")
    text = text.replace("{{ analytics_employees_table }}", table)
    return sqlglot.transpile(text, read="trino", write="duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE)[0]


def trusted_state(platform: Platform) -> dict[int, tuple]:
    """The current state of the employees table derived from trusted/ by the saved current-employees query."""
    changes = trusted_changes(platform)
    if changes is None:
        return {}
    db = duckdb.connect()
    db.register("employees", changes)
    result = db.sql(saved_query("current-employees")).to_arrow_table().to_pylist()
    return {row["id"]: normalise(row) for row in result}


def athena_rows(platform: Platform, sql: str, timeout: float = 300) -> tuple[list[dict[str, Any]], int]:
    """Run ``sql`` in the environment's workgroup and catalog database, as a client of Athena does:
    StartQueryExecution, poll GetQueryExecution, then GetQueryResults page by page. Returns the rows
    as typed values (from the result's column types) and the number of pages read."""
    athena = platform.client("athena")
    started = athena.start_query_execution(
        QueryString=sql,
        WorkGroup=platform.outputs["analytics"]["workgroup_name"],
        QueryExecutionContext={"Database": platform.outputs["catalog"]["database_name"]},
    )
    query_id = started["QueryExecutionId"]

    def finished():
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        return status if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED") else None

    status, _ = wait_until(finished, timeout, interval=0.5)
    if status["State"] != "SUCCEEDED":
        raise AssertionError(f"Athena query {query_id} {status['State']}: {status.get('StateChangeReason')}\n{sql}")
    rows: list[dict[str, Any]] = []
    pages = 0
    columns: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": 1000}
    while True:
        page = athena.get_query_results(**kwargs)
        pages += 1
        data = page["ResultSet"]["Rows"]
        if pages == 1:
            columns = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
            data = data[1:]  # the first row of the first page is the header
        for row in data:
            values = [cell.get("VarCharValue") for cell in row["Data"]]
            rows.append({c["Name"]: _athena_value(c["Type"], v) for c, v in zip(columns, values, strict=True)})
        if not page.get("NextToken"):
            return rows, pages
        kwargs["NextToken"] = page["NextToken"]


def _athena_value(type_name: str, text: str | None) -> Any:
    """One GetQueryResults value (always text) as the Python value of its Athena type."""
    if text is None:
        return None
    if type_name in ("tinyint", "smallint", "integer", "bigint"):
        return int(text)
    if type_name == "decimal":
        return Decimal(text)
    if type_name in ("double", "real"):
        return float(text)
    if type_name == "boolean":
        return text == "true"
    if type_name == "date":
        return date.fromisoformat(text)
    if type_name == "timestamp":
        return datetime.fromisoformat(text)
    return text


def to_milliseconds(state: dict[int, tuple]) -> dict[int, tuple]:
    """A state with its timestamps cut to the millisecond: Athena (engine v3) reads Parquet
    timestamps as timestamp(3), the source keeps microseconds."""
    return {
        key: tuple(v.replace(microsecond=v.microsecond // 1000 * 1000) if isinstance(v, datetime) else v for v in row)
        for key, row in state.items()
    }


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 1.0) -> tuple[Any, float]:
    """Call ``check`` until it returns something truthy; returns (that, seconds waited). Raises TimeoutError."""
    started = time.monotonic()
    while True:
        value = check()
        if value:
            return value, time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not reached within {timeout:.0f} s")
        time.sleep(interval)


def state_difference(source: dict[int, tuple], derived: dict[int, tuple]) -> dict[str, Any]:
    """What differs between the source and the derived state (empty when equal)."""
    missing = sorted(source.keys() - derived.keys())
    extra = sorted(derived.keys() - source.keys())
    changed = sorted(k for k in source.keys() & derived.keys() if source[k] != derived[k])
    diff: dict[str, Any] = {}
    if missing:
        diff["missing"] = missing[:10]
        diff["missing_count"] = len(missing)
    if extra:
        diff["extra"] = extra[:10]
        diff["extra_count"] = len(extra)
    if changed:
        diff["changed"] = [(k, source[k], derived[k]) for k in changed[:3]]
        diff["changed_count"] = len(changed)
    return diff
