"""Freshness checks against moto: metrics and the newest objects, in seconds against thresholds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks import freshness

from .conftest import NAMES, client, utcnow

LAKE = NAMES["data_lake_bucket"]
EXPECTED = {"freshness": {"trusted_tables": ["public.employees"], "thresholds": {"raw_object_age": 60}}}


def put_metric(namespace: str, name: str, value: float, dimensions: dict[str, str]) -> None:
    client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Value": value,
                "Timestamp": utcnow(),
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            }
        ],
    )


def test_iterator_age_in_milliseconds_is_reported_in_seconds_and_fails_over_the_threshold(check):
    put_metric("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", 420_000, {"StreamName": NAMES["stream"]})
    result = check(freshness.stream_iterator_age, EXPECTED)
    assert not result["ok"]
    assert result["seconds"] == 420.0 and result["threshold_seconds"] == 300
    assert result["detail"].startswith("420.0 s behind (over 300 s)")
    # another stream's metric is not this one's
    put_metric("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", 1, {"StreamName": "other"})
    assert check(freshness.stream_iterator_age, EXPECTED)["seconds"] == 420.0


def test_firehose_freshness_within_threshold_passes_and_no_data_is_reported(check):
    result = check(freshness.firehose_data_freshness, EXPECTED)
    assert result["ok"] and result["seconds"] is None and "no DeliveryToS3.DataFreshness datapoint" in result["detail"]
    put_metric("AWS/Firehose", "DeliveryToS3.DataFreshness", 12.5, {"DeliveryStreamName": NAMES["delivery_stream"]})
    result = check(freshness.firehose_data_freshness, EXPECTED)
    assert result["ok"] and result["seconds"] == 12.5 and result["threshold_seconds"] == 900


@pytest.fixture
def replication_task(aws):
    dms = client("dms")
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier=NAMES["replication_instance"], ReplicationInstanceClass="dms.t3.micro"
    )["ReplicationInstance"]["ReplicationInstanceArn"]
    endpoints = [
        dms.create_endpoint(EndpointIdentifier=n, EndpointType=t, EngineName=e)["Endpoint"]["EndpointArn"]
        for n, t, e in (("s", "source", "postgres"), ("t", "target", "kinesis"))
    ]
    return dms.create_replication_task(
        ReplicationTaskIdentifier=NAMES["replication_task"],
        SourceEndpointArn=endpoints[0],
        TargetEndpointArn=endpoints[1],
        ReplicationInstanceArn=instance,
        MigrationType="full-load-and-cdc",
        TableMappings='{"rules": []}',
    )["ReplicationTask"]["ReplicationTaskArn"]


def test_dms_latency_uses_the_task_arn_suffix_as_its_dimension(check, replication_task):
    dimensions = {
        "ReplicationInstanceIdentifier": NAMES["replication_instance"],
        "ReplicationTaskIdentifier": replication_task.rsplit(":", 1)[-1],
    }
    put_metric("AWS/DMS", "CDCLatencySource", 3.0, dimensions)
    put_metric("AWS/DMS", "CDCLatencyTarget", 900.0, dimensions)
    source = check(freshness.dms_source_latency, EXPECTED)
    target = check(freshness.dms_target_latency, EXPECTED)
    assert source["ok"] and source["seconds"] == 3.0
    assert not target["ok"] and target["seconds"] == 900.0 and target["threshold_seconds"] == 600


def lake_with(*keys: str) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket=LAKE)
    for key in keys:
        s3.put_object(Bucket=LAKE, Key=key, Body=b"x")


def test_newest_raw_object_is_found_in_the_hour_prefixes_and_ages(check):
    now = utcnow()
    earlier = now - timedelta(hours=3)
    lake_with("raw/", earlier.strftime("raw/%Y/%m/%d/%H/old.gz"), "raw/1999/01/01/00/ancient.gz")
    # Seen from now, the object is seconds old; from two hours later, over the 60 s threshold
    fresh = check(freshness.raw_object_age, EXPECTED, now=now)
    assert fresh["ok"] and fresh["seconds"] < 60 and fresh["detail"].endswith("old.gz")
    late = check(freshness.raw_object_age, EXPECTED, now=now + timedelta(hours=2))
    assert not late["ok"] and late["seconds"] > 7100 and "over 60 s" in late["detail"]
    # beyond the look-back nothing is listed
    expected = {"freshness": {**EXPECTED["freshness"], "raw_lookback_hours": 1}}
    gone = check(freshness.raw_object_age, expected, now=now)
    assert gone["ok"] and gone["seconds"] is None and gone["detail"] == "no object in the last 1 h"


def test_trusted_empty_while_raw_has_data_fails(check):
    now = utcnow()
    lake_with(now.strftime("raw/%Y/%m/%d/%H/a.gz"))
    result = check(freshness.trusted_object_age, EXPECTED, now=now)
    assert not result["ok"] and "trusted/ nothing in the last 2 day(s)" in result["detail"]
    client("s3").put_object(Bucket=LAKE, Key=now.strftime("trusted/public/employees/dt=%Y-%m-%d/a.parquet"), Body=b"x")
    result = check(freshness.trusted_object_age, EXPECTED, now=now)
    assert result["ok"] and result["detail"].endswith("a.parquet")


def test_listing_is_bounded_to_the_pages_of_one_prefix(aws, monkeypatch):
    lake_with(*(f"raw/2024/01/01/00/{i:04d}" for i in range(5)))
    calls = []
    s3 = client("s3")
    real = s3.list_objects_v2

    def listing(**kwargs):
        calls.append(kwargs)
        return real(**kwargs, MaxKeys=2)

    monkeypatch.setattr(s3, "list_objects_v2", listing)
    monkeypatch.setattr(freshness, "MAX_PAGES", 2)
    newest = freshness.newest_object(s3, LAKE, "raw/2024/01/01/00/")
    assert len(calls) == 2 and all(c["Prefix"] == "raw/2024/01/01/00/" for c in calls)
    assert newest is not None and newest["Key"] in {
        "raw/2024/01/01/00/0000",
        "raw/2024/01/01/00/0001",
        "raw/2024/01/01/00/0002",
        "raw/2024/01/01/00/0003",
    }
