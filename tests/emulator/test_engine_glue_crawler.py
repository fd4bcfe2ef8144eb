"""The Glue crawler engine: StartCrawler reads the Parquet under the targets and writes tables and partitions."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto.moto_api import state_manager

from emulator.engines import glue_crawler
from emulator.engines.glue_crawler.layout import group
from emulator.engines.glue_crawler.scan import DataFile

REGION = "us-east-1"
BUCKET = "lake"
ACCOUNT = "123456789012"


def parquet(**columns: pa.Array) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


def employees(n: int = 3, extra: dict[str, pa.Array] | None = None) -> bytes:
    cols = {
        "id": pa.array(range(n), pa.int64()),
        "first_name": pa.array([f"n{i}" for i in range(n)]),
        "salary": pa.array([1000.5 * i for i in range(n)]),
        "_commit_ts": pa.array([1_700_000_000_000_000 + i for i in range(n)], pa.timestamp("us", tz="UTC")),
        "_record_seq": pa.array(range(n), pa.int32()),
    }
    return parquet(**cols, **(extra or {}))


@pytest.fixture
def lake(engine_host) -> Iterator[dict]:
    """A bucket, a catalog database, the crawler's role and the engine installed; crawls end with their work."""
    glue_crawler.install(engine_host)
    state_manager.set_transition(model_name="glue::crawl", transition={"progression": "immediate"})
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName="crawler",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": "cat"})
    yield {"s3": s3, "glue": glue, "role": role["Role"]["Arn"]}
    state_manager.unset_transition(model_name="glue::crawl")


def put(s3, key: str, body: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def crawler(glue, name: str = "c", path: str = "s3://lake/trusted/", **extra) -> None:
    glue.create_crawler(
        Name=name,
        Role="crawler",
        DatabaseName="cat",
        Targets={"S3Targets": [{"Path": path, "Exclusions": ["**/_SUCCESS", "**/*.json"]}]},
        **extra,
    )


def crawl(glue, name: str = "c") -> dict:
    glue.start_crawler(Name=name)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = glue.get_crawler(Name=name)["Crawler"]
        if got["State"] == "READY":
            return got
        time.sleep(0.1)
    raise AssertionError("crawl did not end")


def test_a_crawl_makes_a_partitioned_table_from_the_parquet_footers(lake):
    # Given the transform's layout under trusted/ and a crawler at its table level (3: trusted/public/employees)
    s3, glue = lake["s3"], lake["glue"]
    for day in ("2024-01-01", "2024-01-02"):
        put(s3, f"trusted/public/employees/dt={day}/a.parquet", employees())
    put(s3, "trusted/public/employees/dt=2024-01-02/_SUCCESS", b"x")
    crawler(glue, Configuration=json.dumps({"Version": 1.0, "Grouping": {"TableLevelConfiguration": 3}}))

    # When it crawls
    last = crawl(glue)["LastCrawl"]

    # Then the employees table exists with its Parquet descriptor, schema and dt partitions
    assert last["Status"] == "SUCCEEDED"
    table = glue.get_table(DatabaseName="cat", Name="employees")["Table"]
    sd = table["StorageDescriptor"]
    assert sd["Location"] == "s3://lake/trusted/public/employees/"
    assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [
        ("id", "bigint"),
        ("first_name", "string"),
        ("salary", "double"),
        ("_commit_ts", "timestamp"),
        ("_record_seq", "int"),
    ]
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["Parameters"]["classification"] == "parquet"
    parts = glue.get_partitions(DatabaseName="cat", TableName="employees")["Partitions"]
    assert sorted((p["Values"][0], p["StorageDescriptor"]["Location"]) for p in parts) == [
        ("2024-01-01", "s3://lake/trusted/public/employees/dt=2024-01-01/"),
        ("2024-01-02", "s3://lake/trusted/public/employees/dt=2024-01-02/"),
    ]
    metrics = glue.get_crawler_metrics(CrawlerNameList=["c"])["CrawlerMetricsList"][0]
    assert metrics["TablesCreated"] == 1


def test_without_a_table_level_the_include_path_is_the_table_and_other_folders_partition_n(lake):
    # Given the same layout and a crawler with the platform's configuration (no table level)
    s3, glue = lake["s3"], lake["glue"]
    put(s3, "trusted/public/employees/dt=2024-01-01/a.parquet", employees())
    crawler(
        glue,
        TablePrefix="x-",
        Configuration=json.dumps({"Version": 1.0, "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"}}),
    )

    # When it crawls
    crawl(glue)

    # Then AWS's rule gives one table named after the include path, the folders as partitions
    table = glue.get_table(DatabaseName="cat", Name="x_trusted")["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["partition_0", "partition_1", "dt"]
    part = glue.get_partitions(DatabaseName="cat", TableName="x_trusted")["Partitions"][0]
    assert part["Values"] == ["public", "employees", "2024-01-01"]


def test_a_new_column_is_added_and_a_second_crawl_with_nothing_new_changes_nothing(lake):
    # Given a crawled table
    s3, glue = lake["s3"], lake["glue"]
    put(s3, "trusted/employees/dt=2024-01-01/a.parquet", employees())
    crawler(glue)
    crawl(glue)
    assert glue.get_table(DatabaseName="cat", Name="trusted")["Table"]["VersionId"] == "1"

    # When a new partition arrives whose files carry one more column, and it crawls twice
    put(s3, "trusted/employees/dt=2024-01-02/a.parquet", employees(extra={"bonus": pa.array([1.0, 2.0, 3.0])}))
    crawl(glue)
    after_first = glue.get_table(DatabaseName="cat", Name="trusted")["Table"]
    crawl(glue)
    after_second = glue.get_table(DatabaseName="cat", Name="trusted")["Table"]

    # Then the column was added once, the partition created, and the second crawl changed nothing
    assert after_first["StorageDescriptor"]["Columns"][-1] == {"Name": "bonus", "Type": "double"}
    assert len(glue.get_partitions(DatabaseName="cat", TableName="trusted")["Partitions"]) == 2
    assert after_second["VersionId"] == after_first["VersionId"] == "2"
    metrics = glue.get_crawler_metrics()["CrawlerMetricsList"][0]
    assert (metrics["TablesCreated"], metrics["TablesUpdated"]) == (0, 0)


def test_an_unreadable_object_fails_the_crawl_with_the_message(lake):
    # Given an object named .parquet that is not Parquet
    s3, glue = lake["s3"], lake["glue"]
    put(s3, "trusted/employees/dt=2024-01-01/a.parquet", employees())
    put(s3, "trusted/employees/dt=2024-01-01/b.parquet", b"this is not parquet at all")
    crawler(glue)

    # When it crawls
    last = crawl(glue)["LastCrawl"]

    # Then the crawl FAILED, saying which object, and no table was made
    assert last["Status"] == "FAILED"
    assert "s3://lake/trusted/employees/dt=2024-01-01/b.parquet" in last["ErrorMessage"]
    assert glue.get_tables(DatabaseName="cat")["TableList"] == []


def test_new_folders_only_reads_only_folders_the_catalog_does_not_know(lake):
    # Given a crawled table and a crawler that recrawls new folders only
    s3, glue = lake["s3"], lake["glue"]
    put(s3, "trusted/employees/dt=2024-01-01/a.parquet", employees())
    crawler(
        glue,
        RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
        SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
    )
    crawl(glue)

    # When a known folder's file becomes unreadable and a new folder arrives
    put(s3, "trusted/employees/dt=2024-01-01/a.parquet", b"garbage")
    put(s3, "trusted/employees/dt=2024-01-02/a.parquet", employees())
    last = crawl(glue)["LastCrawl"]

    # Then the known folder was not read again and the new partition was added
    assert last["Status"] == "SUCCEEDED"
    values = sorted(p["Values"] for p in glue.get_partitions(DatabaseName="cat", TableName="trusted")["Partitions"])
    assert values == [["employees", "2024-01-01"], ["employees", "2024-01-02"]]


def test_dissimilar_folders_become_separate_tables_and_plain_folders_partition_n():
    # Given two folders with unrelated schemas, one with a plain sub-folder level
    def f(folders, cols):
        return DataFile("b", "/".join(("z", *folders, "x.parquet")), tuple(folders), 1, cols)

    files = [
        f(("Orders", "2024"), [("id", "bigint"), ("total", "double")]),
        f(("Orders", "2025"), [("id", "bigint"), ("total", "double")]),
        f(("people-v2", "eu"), [("name", "string"), ("age", "int"), ("city", "string")]),
    ]

    # When they are grouped
    tables = {t.name: t for t in group(files, "b", "z/", table_prefix="p_")}

    # Then one table per folder, named after it
    assert set(tables) == {"p_orders", "p_people_v2"}
    assert tables["p_orders"].partition_keys == ["partition_0"]
    assert sorted(tables["p_orders"].partitions) == [("2024",), ("2025",)]
    assert tables["p_orders"].location == "s3://b/z/Orders/"


def test_aws_cron_expressions_become_five_field_crons():
    assert glue_crawler.aws_cron_to_croniter("cron(0 1 * * ? *)") == "0 1 * * *"
    assert glue_crawler.aws_cron_to_croniter("cron(15 3 ? * 2-6 *)") == "15 3 * * 1-5"
    assert glue_crawler.aws_cron_to_croniter("cron(0 1 L * ? *)") is None


def test_crawler_metrics_exist_before_any_crawl(emulator):
    # Given a crawler that never ran (patch glue_crawler_metrics: moto has no GetCrawlerMetrics)
    glue = boto3.client("glue", region_name=REGION)
    glue.create_crawler(Name="idle", Role="r", DatabaseName="d", Targets={"S3Targets": [{"Path": "s3://b/x/"}]})

    # When its metrics are asked for
    metrics = glue.get_crawler_metrics(CrawlerNameList=["idle"])["CrawlerMetricsList"]

    # Then they are there, all zero
    assert metrics == [
        {
            "CrawlerName": "idle",
            "TimeLeftSeconds": 0.0,
            "StillEstimating": False,
            "LastRuntimeSeconds": 0.0,
            "MedianRuntimeSeconds": 0.0,
            "TablesCreated": 0,
            "TablesUpdated": 0,
            "TablesDeleted": 0,
        }
    ]
