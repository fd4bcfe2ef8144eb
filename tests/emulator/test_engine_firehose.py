"""The Firehose engine and its moto patches: Kinesis shards -> buffer -> S3 objects, as Firehose does."""

from __future__ import annotations

import base64
import gzip
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from emulator import patches
from emulator.engines import firehose as firehose_engine
from emulator.engines.firehose import FirehoseEngine
from emulator.engines.firehose.objects import evaluate_prefix, java_datetime_format, object_key
from emulator.engines.firehose.stream import DeliveryStream

ACCOUNT = "123456789012"
BUCKET = "ss-raw-bucket"
STREAM = "cdc-stream"
DELIVERY = "cdc-to-raw"
LOG_GROUP = "/aws/kinesisfirehose/cdc-to-raw"
KEY = re.compile(
    r"^raw/(\d{4})/(\d{2})/(\d{2})/(\d{2})/cdc-to-raw-(\d+)-(\d{4})-(\d{2})-(\d{2})-(\d{2})-\d{2}-\d{2}-"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\.gz)?$"
)


def _client(service: str) -> Any:
    return boto3.client(service, region_name="us-east-1")


def _setup(bucket: bool = True, kinesis_stream: bool = True, **destination: Any) -> dict[str, Any]:
    """A role, bucket, log group/stream, Kinesis stream and an ACTIVE delivery stream (GZIP, raw/, 0 s)."""
    role = f"arn:aws:iam::{ACCOUNT}:role/firehose-role"  # assumed through STS (IAM enforcement is off here)
    if bucket:
        _client("s3").create_bucket(Bucket=BUCKET)
    logs = _client("logs")
    logs.create_log_group(logGroupName=LOG_GROUP)
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="DestinationDelivery")
    if kinesis_stream:
        _client("kinesis").create_stream(StreamName=STREAM, ShardCount=1)
    stream_arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{STREAM}"
    config = {
        "RoleARN": role,
        "BucketARN": f"arn:aws:s3:::{BUCKET}",
        "Prefix": "raw/",
        "ErrorOutputPrefix": "errors/firehose/",
        "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 0},
        "CompressionFormat": "GZIP",
        "CloudWatchLoggingOptions": {
            "Enabled": True,
            "LogGroupName": LOG_GROUP,
            "LogStreamName": "DestinationDelivery",
        },
    }
    config.update(destination)
    _client("firehose").create_delivery_stream(
        DeliveryStreamName=DELIVERY,
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": role},
        ExtendedS3DestinationConfiguration=config,
    )
    return {"role": role, "stream_arn": stream_arn}


def _put(*records: bytes) -> list[str]:
    kinesis = _client("kinesis")
    return [kinesis.put_record(StreamName=STREAM, Data=r, PartitionKey="k")["SequenceNumber"] for r in records]


def _objects(prefix: str = "") -> list[str]:
    try:
        listing = _client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    except ClientError:
        return []
    return sorted(o["Key"] for o in listing.get("Contents", []))


def _body(key: str) -> bytes:
    data = _client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return gzip.decompress(data) if key.endswith(".gz") else data


def _until(engine: FirehoseEngine, condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        engine.tick()
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def _delivery(engine: FirehoseEngine) -> DeliveryStream:
    return engine.streams[("us-east-1", DELIVERY)]


def _metric(name: str, stat: str) -> float | None:
    points = _client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Firehose",
        MetricName=name,
        Dimensions=[{"Name": "DeliveryStreamName", "Value": DELIVERY}],
        StartTime=datetime.now(UTC) - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=600,
        Statistics=[stat],
    )["Datapoints"]
    return points[0][stat] if points else None


def _error_events() -> list[dict[str, Any]]:
    events = _client("logs").get_log_events(logGroupName=LOG_GROUP, logStreamName="DestinationDelivery")["events"]
    return [json.loads(e["message"]) for e in events]


# ------------------------------------------------------------------ pure functions
def test_prefix_evaluation_follows_firehose_rules() -> None:
    when = datetime(2024, 7, 6, 23, 5, 9, tzinfo=UTC)
    # Given a prefix without a timestamp expression, Then Firehose appends yyyy/MM/dd/HH/
    assert evaluate_prefix("raw/", when) == "raw/2024/07/06/23/"
    assert evaluate_prefix("", when) == "2024/07/06/23/"
    # Given timestamp expressions, Then they replace the default time prefix ('quoted' text is literal)
    assert evaluate_prefix("p/year=!{timestamp:yyyy}/month=!{timestamp:MM}/", when) == "p/year=2024/month=07/"
    assert java_datetime_format("'year='yyyy'/hour='HH", when) == "year=2024/hour=23"
    assert re.fullmatch(r"r/[0-9a-f]{11}/2024/07/06/23/", evaluate_prefix("r/!{firehose:random-string}/", when))
    with pytest.raises(ValueError):
        evaluate_prefix("p/!{partitionKeyFromQuery:id}/", when)


def test_object_key_layout() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    key = object_key("raw/", "cdc-to-raw", "7", when, "GZIP")
    assert re.fullmatch(r"raw/2024/01/02/03/cdc-to-raw-7-2024-01-02-03-04-05-[0-9a-f-]{36}\.gz", key)
    assert object_key("raw/", "s", "1", when, "UNCOMPRESSED").endswith(tuple("0123456789abcdef"))


# ------------------------------------------------------------------ delivery
def test_records_are_delivered_gzip_concatenated_with_the_key_layout(engine_host: Any) -> None:
    # Given an ACTIVE delivery stream (GZIP, raw/, interval 0) and records written after it became ACTIVE
    _setup()
    engine = FirehoseEngine(engine_host)
    engine.tick()
    before = datetime.now(UTC).replace(microsecond=0)
    records = [b'{"a":1}\n', b'{"b":2}\n', b"no-delimiter"]
    sequences = _put(*records)
    # When the engine runs
    keys = _until(engine, _objects)
    after = datetime.now(UTC)
    # Then one object holds the records concatenated as they came, under Firehose's key layout
    assert len(keys) == 1
    match = KEY.match(keys[0])
    assert match and match.group(5) == "1" and match.group(10) == ".gz"
    stamp = datetime(*map(int, match.groups()[5:9]), tzinfo=UTC)
    assert before.replace(minute=0, second=0) <= stamp <= after
    assert match.groups()[:4] == match.groups()[5:9]
    assert _body(keys[0]) == b"".join(records)
    # And the shard position is committed at the last delivered record, the metrics published
    assert _delivery(engine).shards["shardId-000000000000"].committed == sequences[-1]
    assert _metric("DeliveryToS3.Success", "Minimum") == 1
    assert _metric("DeliveryToS3.Records", "Sum") == 3
    assert _metric("DeliveryToS3.DataFreshness", "Maximum") is not None
    engine.discover()
    assert _metric("IncomingRecords", "Sum") == 3


def _iterator_ages() -> list[float]:
    """Every GetRecords.IteratorAgeMilliseconds datapoint of the source stream (one per minute, maximum)."""
    points = _client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Kinesis",
        MetricName="GetRecords.IteratorAgeMilliseconds",
        Dimensions=[{"Name": "StreamName", "Value": STREAM}],
        StartTime=datetime.now(UTC) - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=600,
        Statistics=["Maximum", "SampleCount"],
    )["Datapoints"]
    return [p["Maximum"] for p in points]


def test_reading_publishes_the_stream_iterator_age_as_kinesis_does(engine_host: Any) -> None:
    # Given an ACTIVE delivery stream, caught up with an empty stream
    _setup()
    engine = FirehoseEngine(engine_host)
    engine.tick()
    engine.tick()
    engine.discover()
    # Then Kinesis's iterator age of the source stream is published as 0 (the reader is at the tip)
    assert _iterator_ages() == [0.0]
    # Given a record that waited 1.5 s in the stream before the engine read it
    _put(b'{"late":1}\n')
    time.sleep(1.5)
    _until(engine, _objects)
    engine.discover()
    # Then the iterator age published is the age of that record when read (milliseconds)
    age = _iterator_ages()[0]
    assert 1500 <= age < 10_000
    # And nothing is published for a stream the engine does not read
    delivery = _delivery(engine)
    delivery.take_iterator_age()
    assert delivery.take_iterator_age() is None


def test_delivery_starts_when_the_stream_became_active(engine_host: Any) -> None:
    # Given a record written to the Kinesis stream before the delivery stream is created
    _client("kinesis").create_stream(StreamName=STREAM, ShardCount=1)
    _put(b"before\n")
    time.sleep(0.05)
    _setup(kinesis_stream=False)
    # And one written after it became ACTIVE but before the engine first looked
    _put(b"early\n")
    engine = FirehoseEngine(engine_host)
    engine.tick()
    # When more records are written
    _put(b"after-1\n", b"after-2\n")

    def delivered() -> list[list[bytes]]:
        bodies = [_body(k).splitlines() for k in _objects()]
        return bodies if sum(map(len, bodies)) >= 3 else []

    objects = _until(engine, delivered)
    # Then all but the first are delivered: Firehose reads from DeliveryStartTimestamp (LATEST at ACTIVE),
    # not from the engine's first poll. Objects of one second sort by their random suffix, so compare
    # records, each object in order.
    assert sorted(line for body in objects for line in body) == [b"after-1", b"after-2", b"early"]
    assert all(body == sorted(body, key=[b"early", b"after-1", b"after-2"].index) for body in objects)


def test_buffering_by_size_writes_objects_of_at_most_size_in_mbs(engine_host: Any) -> None:
    # Given SizeInMBs 1 and a long interval, and 1.5 MiB of records
    _setup(BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 900}, CompressionFormat="UNCOMPRESSED")
    engine = FirehoseEngine(engine_host)
    engine.tick()
    chunk = 300 * 1024
    _put(*(bytes([65 + i]) * chunk for i in range(5)))
    # When the engine runs
    keys = _until(engine, _objects)
    for _ in range(3):
        engine.tick()
    # Then one object of the first 3 records (<= 1 MiB) is written; the rest waits for size or interval
    assert len(_objects()) == 1
    assert _body(keys[0]) == b"A" * chunk + b"B" * chunk + b"C" * chunk
    assert len(_delivery(engine).buffer) == 2
    assert not KEY.match(keys[0]).group(10)  # UNCOMPRESSED: no .gz


def test_buffering_by_interval(engine_host: Any) -> None:
    # Given IntervalInSeconds 1 and a large size limit
    _setup(BufferingHints={"SizeInMBs": 64, "IntervalInSeconds": 1})
    engine = FirehoseEngine(engine_host)
    engine.tick()
    _put(b"x\n")
    engine.tick()
    # Then nothing is written before the interval
    assert _objects() == []
    assert len(_delivery(engine).buffer) == 1
    # When the interval passes, Then the buffer is written
    keys = _until(engine, _objects, timeout=5)
    assert _body(keys[0]) == b"x\n"


def test_failed_put_keeps_position_and_delivers_once_the_bucket_exists(engine_host: Any) -> None:
    # Given a delivery stream whose bucket does not exist yet
    _setup(bucket=False)
    engine = FirehoseEngine(engine_host)
    engine.tick()
    sequences = _put(b"r1\n", b"r2\n")
    # When the engine tries to deliver
    _until(engine, lambda: _delivery(engine).failures >= 1)
    reader = _delivery(engine).shards["shardId-000000000000"]
    # Then the position does not advance, the error is logged as Firehose logs it, and Success is 0
    assert reader.committed is None and reader.read == sequences[-1]
    event = _error_events()[0]
    assert event["errorCode"] == "S3.NoSuchBucket"
    assert event["deliveryStreamVersionId"] == 1 and event["destination"] == f"arn:aws:s3:::{BUCKET}"
    assert event["deliveryStreamARN"].endswith(f":deliverystream/{DELIVERY}")
    assert _metric("DeliveryToS3.Success", "Minimum") == 0
    # When the bucket is created, Then the kept records arrive on a retry and the position advances
    _client("s3").create_bucket(Bucket=BUCKET)
    keys = _until(engine, _objects, timeout=10)
    assert _body(keys[0]) == b"r1\nr2\n"
    assert reader.committed == sequences[-1]
    assert _delivery(engine).failures == 0


def test_access_denied_is_logged_and_delivery_resumes_when_the_deny_is_removed(engine_host: Any) -> None:
    # Given a bucket policy denying the puts
    _setup()
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    _client("s3").put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]}))
    engine = FirehoseEngine(engine_host)
    engine.tick()
    sequences = _put(b"denied\n")
    # When the engine tries to deliver
    _until(engine, lambda: _delivery(engine).failures >= 1)
    # Then S3.AccessDenied is in the stream's log with Firehose's message, Success = 0, no position moved
    event = _error_events()[0]
    assert event["errorCode"] == "S3.AccessDenied"
    assert event["message"].startswith("Access was denied. Ensure that the trust policy for the provided IAM role")
    assert _metric("DeliveryToS3.Success", "Minimum") == 0
    assert _delivery(engine).shards["shardId-000000000000"].committed is None
    assert engine.status.errors >= 1 and "S3.AccessDenied" in (engine.status.last_error or "")
    # When the deny is removed, Then the record arrives
    _client("s3").delete_bucket_policy(Bucket=BUCKET)
    keys = _until(engine, _objects, timeout=10)
    assert _body(keys[0]) == b"denied\n"
    assert _delivery(engine).shards["shardId-000000000000"].committed == sequences[0]


def test_update_destination_applies_to_the_next_object(engine_host: Any) -> None:
    # Given a delivered object under version 1
    _setup()
    engine = FirehoseEngine(engine_host)
    engine.tick()
    _put(b"v1\n")
    first = _until(engine, _objects)
    # When the destination is updated (new prefix, UNCOMPRESSED): version 2
    firehose = _client("firehose")
    description = firehose.describe_delivery_stream(DeliveryStreamName=DELIVERY)["DeliveryStreamDescription"]
    firehose.update_destination(
        DeliveryStreamName=DELIVERY,
        CurrentDeliveryStreamVersionId=description["VersionId"],
        DestinationId=description["Destinations"][0]["DestinationId"],
        ExtendedS3DestinationUpdate={"Prefix": "raw/v2/", "CompressionFormat": "UNCOMPRESSED"},
    )
    engine.discover()
    _put(b"v2\n")
    second = _until(engine, lambda: _objects("raw/v2/"))
    # Then the next object carries version 2 and the new settings
    assert KEY.match(first[0]).group(5) == "1"
    assert re.fullmatch(r"raw/v2/\d{4}/\d{2}/\d{2}/\d{2}/cdc-to-raw-2-[0-9-]{19}-[0-9a-f-]{36}", second[0])
    assert _body(second[0]) == b"v2\n"
    # When the delivery stream is deleted, Then the engine forgets it
    firehose.delete_delivery_stream(DeliveryStreamName=DELIVERY)
    engine.discover()
    assert engine.streams == {}


def test_new_shards_after_a_split_are_read_once_the_parent_is_done(engine_host: Any) -> None:
    # Given a delivery stream reading a one-shard stream
    _setup()
    engine = FirehoseEngine(engine_host)
    engine.tick()
    _put(b"p\n")
    _until(engine, _objects)
    # When the shard is split and records are written to the children
    _client("kinesis").split_shard(
        StreamName=STREAM, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127)
    )
    engine.discover()
    _put(*(f"c{i}\n".encode() for i in range(20)))
    # Then every record written after the split arrives (at least once)
    wanted = {f"c{i}\n".encode() for i in range(20)}

    def delivered() -> bool:
        lines = set(b"".join(_body(k) for k in _objects()).splitlines(keepends=True))
        return wanted <= lines

    _until(engine, delivered)
    readers = _delivery(engine).shards
    assert readers["shardId-000000000000"].done
    assert {"shardId-000000000001", "shardId-000000000002"} <= set(readers)


def test_install_runs_the_engine_in_the_host_loop(engine_host: Any) -> None:
    # Given the engine installed in a host (its own thread)
    _setup()
    firehose_engine.install(engine_host)
    time.sleep(0.5)
    # When a record is written, Then it arrives without anyone calling tick()
    _put(b"looped\n")
    deadline = time.monotonic() + 10
    while not _objects() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _body(_objects()[0]) == b"looped\n"
    status_file = engine_host.ctx.run_dir / "engines" / "firehose.json"
    while time.monotonic() < deadline and (
        not status_file.exists() or '"records_delivered": 1' not in status_file.read_text()
    ):
        time.sleep(0.1)
    assert json.loads(status_file.read_text())["counters"]["records_delivered"] == 1


# ------------------------------------------------------------------ patches
def test_patches_of_firehose_and_kinesis(emulator: str) -> None:
    _setup()
    firehose, kinesis = _client("firehose"), _client("kinesis")
    # Firehose: DeliveryStartTimestamp of the Kinesis source; no direct put to a Kinesis-sourced stream
    source = firehose.describe_delivery_stream(DeliveryStreamName=DELIVERY)["DeliveryStreamDescription"]["Source"]
    assert isinstance(source["KinesisStreamSourceDescription"]["DeliveryStartTimestamp"], datetime)
    with pytest.raises(ClientError, match="not permitted on KinesisStreamAsSource"):
        firehose.put_record(DeliveryStreamName=DELIVERY, Record={"Data": b"x"})
    # Kinesis: an iterator got with StreamARN is enough for GetRecords
    arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{STREAM}"
    iterator = kinesis.get_shard_iterator(
        StreamARN=arn, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )
    _put(b"1")
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]] == [b"1"]
    # Kinesis: after a split, records go to the open children (inclusive hash key ranges)
    kinesis.split_shard(StreamName=STREAM, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    shards = {_put_to(kinesis, str(key)) for key in (0, 2**127 - 1, 2**127, 2**128 - 1)}
    assert shards == {"shardId-000000000001", "shardId-000000000002"}


def _put_to(kinesis: Any, hash_key: str) -> str:
    return kinesis.put_record(StreamName=STREAM, Data=b"x", PartitionKey="k", ExplicitHashKey=hash_key)["ShardId"]


def test_patch_shard_reads_and_writes_do_not_slow_down_with_the_shard_size() -> None:
    # Given a shard holding 100,000 records (moto model level, as PutRecords fills it)
    from moto.kinesis.models import Shard

    patches.apply_all()

    shard = Shard(0, 0, 2**128 - 1)
    for _ in range(100_000):
        shard.put_record("k", "eA==", "")
    # When 500 more records are put and read back from near the tip
    started = time.perf_counter()
    for _ in range(500):
        shard.put_record("k", "eA==", "")
    records, position, _ = shard.get_records("100000", 1000)
    elapsed = time.perf_counter() - started
    # Then the results are moto's, and fast (moto lists or scans all 100,000 records on each call)
    assert [r.sequence_number for r in records] == list(range(100_001, 100_501)) and position == 100_500
    assert shard.get_min_sequence_number() == 1 and shard.get_max_sequence_number() == 100_500
    assert elapsed < 0.25, elapsed


def test_patch_records_older_than_the_retention_period_are_trimmed(emulator: str) -> None:
    # Given a stream (24 h retention) holding a record put 25 h ago and one put 23 h ago
    from moto.kinesis.models import kinesis_backends

    kinesis = _client("kinesis")
    kinesis.create_stream(StreamName="retained", ShardCount=1)
    shard = kinesis_backends[ACCOUNT]["us-east-1"].streams["retained"].shards["shardId-000000000000"]
    for sequence, data, hours_ago in ((1, b"old", 25), (2, b"kept", 23)):  # the shard's store, back-dated
        shard.records.append(sequence, "k", data, None, int((time.time() - hours_ago * 3600) * 1e6))
    # When a record is put
    kinesis.put_record(StreamName="retained", Data=b"new", PartitionKey="k")
    # Then the record past the retention period is gone, from TRIM_HORIZON on
    iterator = kinesis.get_shard_iterator(
        StreamName="retained", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=iterator)["Records"]] == [b"kept", b"new"]


def test_patch_records_are_held_as_their_bytes_with_the_same_answers(emulator: str) -> None:
    # Given records put through the API
    from moto.kinesis.models import kinesis_backends

    kinesis = _client("kinesis")
    kinesis.create_stream(StreamName="compact", ShardCount=1)
    blobs = [b"", b"\x00\xff binary", "é, json".encode() * 100]
    _ = [kinesis.put_record(StreamName="compact", Data=blob, PartitionKey="k") for blob in blobs]
    # Then the shard holds their bytes, in objects without a per-instance dict
    shard = kinesis_backends[ACCOUNT]["us-east-1"].streams["compact"].shards["shardId-000000000000"]
    held = list(shard.records.values())
    assert [r.raw for r in held] == blobs and not any(hasattr(r, "__dict__") for r in held)
    assert [base64.b64decode(r.data) for r in held] == blobs  # the base64 text moto's split/merge re-puts
    # And GetRecords answers as before
    iterator = kinesis.get_shard_iterator(
        StreamName="compact", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    assert [r["Data"] for r in records] == blobs and [r["SequenceNumber"] for r in records] == ["1", "2", "3"]
    assert all(r["PartitionKey"] == "k" and isinstance(r["ApproximateArrivalTimestamp"], datetime) for r in records)
    # a split re-puts the held records into the children
    kinesis.split_shard(StreamName="compact", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
