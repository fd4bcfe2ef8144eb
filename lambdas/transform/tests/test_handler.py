"""The Lambda handler against moto S3, driven by real S3 event JSON."""

from __future__ import annotations

import gzip
import io
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws
from smartstream_ml import synthetic
from smartstream_transform import handler
from smartstream_transform.config import ConfigError, Settings
from smartstream_transform.core import source_stem

EVENT = json.loads((Path(__file__).parent / "events" / "s3_object_created.json").read_text())
BUCKET = EVENT["Records"][0]["s3"]["bucket"]["name"]
GZ_KEY = "raw/2026/11/24/10/smartstream-local-cdc-1-2026-11-24-10-14-02-0f6b5a3e.gz"
PLAIN_KEY = "raw/2026/11/24/10/late batch été & co+1.json"  # as encoded in the event: + for space, %XX
START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class LambdaContext:
    function_name = "smartstream-local-transform"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


@pytest.fixture
def s3(monkeypatch):
    for var in ("AWS_ENDPOINT_URL", "AWS_CA_BUNDLE", "AWS_PROFILE", "OUTPUT_BUCKET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(handler, "_S3", None)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def put_raw(s3, key: str, records, message_format: str, gzipped: bool) -> None:
    body = synthetic.render(records, message_format)
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(body) if gzipped else body)


def keys(s3, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_one_event_with_two_objects_writes_trusted_parquet_and_quarantine(s3, caplog):
    people = synthetic.employees(20, seed=11)
    put_raw(s3, GZ_KEY, synthetic.cdc_stream(people, START, seed=11), "json", gzipped=True)
    bad = synthetic.dms_record(people[0].row() | {"email": "nope"}, "update", START, 9)
    put_raw(s3, PLAIN_KEY, [synthetic.dms_record(people[1].row(), "update", START, 8), bad], "json-unformatted", False)

    with caplog.at_level(logging.INFO, logger="smartstream.transform"):
        summary = handler.lambda_handler(EVENT, LambdaContext())

    trusted = keys(s3, "trusted/")
    assert len(trusted) == 2 and all(k.startswith("trusted/public/employees/dt=2026-11-24/") for k in trusted)
    assert keys(s3, "quarantine/") == [f"quarantine/2026/11/24/10/{source_stem(PLAIN_KEY)}.jsonl"]
    assert summary["objects"] == 2 and summary["quarantined"] == 1
    table_rows = sum(
        pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())).num_rows for k in trusted
    )
    assert table_rows == summary["written"]
    logs = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith("{")]
    assert [entry["source_key"] for entry in logs] == [GZ_KEY, PLAIN_KEY]  # keys URL-decoded
    assert all(entry["balanced"] for entry in logs)


def test_reprocessing_the_same_event_adds_no_duplicates(s3):
    put_raw(s3, GZ_KEY, synthetic.cdc_stream(synthetic.employees(30), START), "json-unformatted", True)
    single = {"Records": EVENT["Records"][:1]}

    handler.lambda_handler(single, LambdaContext())
    first = {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys(s3, "trusted/")}
    handler.lambda_handler(single, LambdaContext())
    second = {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys(s3, "trusted/")}

    assert list(first) == list(second)
    rows = lambda blobs: sum(pq.read_table(io.BytesIO(b)).num_rows for b in blobs.values())  # noqa: E731
    assert rows(first) == rows(second)


def test_objects_outside_raw_and_other_events_are_ignored(s3):
    event = json.loads(json.dumps(EVENT))
    event["Records"][0]["s3"]["object"]["key"] = "trusted/public/employees/x.parquet"
    event["Records"][1]["eventName"] = "ObjectRemoved:Delete"

    summary = handler.lambda_handler(event, LambdaContext())

    assert summary == {"objects": 0, "written": 0, "quarantined": 0, "skipped": 0}
    assert keys(s3, "") == []


def test_a_missing_object_fails_the_invocation_so_it_is_retried(s3):
    with pytest.raises(s3.exceptions.NoSuchKey):
        handler.lambda_handler({"Records": EVENT["Records"][:1]}, LambdaContext())


def test_output_bucket_can_differ_from_the_source(s3, monkeypatch):
    s3.create_bucket(Bucket="other-lake")
    monkeypatch.setenv("OUTPUT_BUCKET", "other-lake")
    put_raw(s3, GZ_KEY, [synthetic.dms_record(synthetic.employees(1)[0].row(), "load", START)], "json", True)

    handler.lambda_handler({"Records": EVENT["Records"][:1]}, LambdaContext())

    assert len(s3.list_objects_v2(Bucket="other-lake", Prefix="trusted/")["Contents"]) == 1


@pytest.mark.parametrize(
    "environ",
    [{"RAW_PREFIX": "/raw/"}, {"TRUSTED_PREFIX": "trusted"}, {"QUARANTINE_PREFIX": ""}, {"LOG_LEVEL": "LOUD"}],
)
def test_bad_configuration_is_refused_with_the_variable_named(environ):
    with pytest.raises(ConfigError) as err:
        Settings.from_env(environ)
    assert next(iter(environ)) in str(err.value)


def test_configuration_defaults():
    settings = Settings.from_env({})
    assert (settings.transform.raw_prefix, settings.transform.trusted_prefix) == ("raw/", "trusted/")
    assert settings.transform.quarantine_prefix == "quarantine/" and settings.output_bucket is None
