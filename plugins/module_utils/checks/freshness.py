# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Freshness: how far behind each stage is, in seconds, against a healthy threshold.

- DMS: ``CDCLatencySource`` / ``CDCLatencyTarget`` (AWS/DMS, dimensions
  ReplicationInstanceIdentifier and ReplicationTaskIdentifier, the task ARN's last part);
- Kinesis: ``GetRecords.IteratorAgeMilliseconds`` (AWS/Kinesis, StreamName), published as consumers read;
- Firehose: ``DeliveryToS3.DataFreshness`` (AWS/Firehose, DeliveryStreamName);
- S3: the age of the newest object in raw/ and in trusted/.

Metrics: the latest one-minute maximum within ``metric_window_minutes`` (no
datapoint: reported, not failed, as nothing flowed). Listings are bounded,
never a whole bucket: raw/ one ``raw/YYYY/MM/DD/HH/`` prefix per hour back
from now (up to ``raw_lookback_hours``), trusted/ one
``trusted/<schema>/<table>/dt=YYYY-MM-DD/`` partition per day back (up to
``trusted_lookback_days``), at most ``MAX_PAGES`` pages of 1,000 keys each.
"""

from __future__ import annotations

from datetime import timedelta

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    HEALTH,
    check,
    first,
)

# Healthy thresholds in seconds (the monitoring layer's alarm thresholds); expected.freshness.thresholds overrides.
THRESHOLDS = {
    "dms_source_latency": 600,
    "dms_target_latency": 600,
    "stream_iterator_age": 300,
    "firehose_data_freshness": 900,
    "raw_object_age": 3600,
    "trusted_object_age": 3600,
}
MAX_PAGES = 20


def _threshold(ctx, key):
    return float({**THRESHOLDS, **ctx.want("thresholds", {})}[key])


def _latest(ctx, namespace, metric, dimensions):
    """(value, age of the datapoint in seconds) of the newest one-minute maximum in the window, or (None, None)."""
    now = ctx.now()
    points = ctx.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - timedelta(minutes=int(ctx.want("metric_window_minutes", 15))),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    if not points:
        return None, None
    newest = max(points, key=lambda p: p["Timestamp"])
    return float(newest["Maximum"]), max((now - newest["Timestamp"]).total_seconds(), 0.0)


def _judge(ctx, key, seconds, what, no_data):
    threshold = _threshold(ctx, key)
    extra = {"seconds": None if seconds is None else round(seconds, 1), "threshold_seconds": threshold}
    if seconds is None:
        return True, no_data, extra
    ok = seconds <= threshold
    return ok, f"{seconds:.1f} s {what} ({'within' if ok else 'over'} {threshold:g} s)", extra


def _metric(ctx, key, namespace, metric, dimensions, scale=1.0, what="behind"):
    value, age = _latest(ctx, namespace, metric, dimensions)
    window = int(ctx.want("metric_window_minutes", 15))
    seconds = None if value is None else value * scale
    ok, detail, extra = _judge(
        ctx, key, seconds, what, f"no {metric} datapoint in the last {window} min (nothing flowed)"
    )
    if age is not None:
        detail += f", latest one-minute period began {age:.0f} s ago"
    return ok, detail, extra


def _dms_dimensions(ctx):
    name = ctx.name("replication_task")
    tasks = ctx.client("dms").describe_replication_tasks(
        Filters=[{"Name": "replication-task-id", "Values": [name]}], WithoutSettings=True
    )["ReplicationTasks"]
    arn = first(tasks, f"replication task {name}")["ReplicationTaskArn"]
    return {
        "ReplicationInstanceIdentifier": ctx.name("replication_instance"),
        "ReplicationTaskIdentifier": arn.rsplit(":", 1)[-1],
    }


@check("DMS source latency (CDCLatencySource)", HEALTH)
def dms_source_latency(ctx):
    return _metric(ctx, "dms_source_latency", "AWS/DMS", "CDCLatencySource", _dms_dimensions(ctx))


@check("DMS target latency (CDCLatencyTarget)", HEALTH)
def dms_target_latency(ctx):
    return _metric(ctx, "dms_target_latency", "AWS/DMS", "CDCLatencyTarget", _dms_dimensions(ctx))


@check("stream iterator age (GetRecords.IteratorAgeMilliseconds)", HEALTH)
def stream_iterator_age(ctx):
    dims = {"StreamName": ctx.name("stream")}
    return _metric(ctx, "stream_iterator_age", "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", dims, 0.001)


@check("Firehose data freshness (DeliveryToS3.DataFreshness)", HEALTH)
def firehose_data_freshness(ctx):
    dims = {"DeliveryStreamName": ctx.name("delivery_stream")}
    return _metric(ctx, "firehose_data_freshness", "AWS/Firehose", "DeliveryToS3.DataFreshness", dims)


def newest_object(s3, bucket, prefix):
    """The newest object under one prefix (at most MAX_PAGES pages), or None."""
    newest, request = None, {"Bucket": bucket, "Prefix": prefix}
    for _page in range(MAX_PAGES):
        page = s3.list_objects_v2(**request)
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/") and (newest is None or obj["LastModified"] > newest["LastModified"]):
                newest = obj
        if not page.get("IsTruncated"):
            break
        request["ContinuationToken"] = page["NextContinuationToken"]
    return newest


def newest_raw(ctx):
    """The newest object Firehose wrote, hour prefix by hour prefix back from now."""
    s3, bucket, now = ctx.client("s3"), ctx.name("data_lake_bucket"), ctx.now()
    for hours in range(int(ctx.want("raw_lookback_hours", 24)) + 1):
        found = newest_object(s3, bucket, (now - timedelta(hours=hours)).strftime("raw/%Y/%m/%d/%H/"))
        if found:
            return found
    return None


def newest_trusted(ctx):
    """The newest Parquet file of every replicated table, day partition by day partition back from today."""
    s3, bucket, now, newest = ctx.client("s3"), ctx.name("data_lake_bucket"), ctx.now(), None
    for table in ctx.want("trusted_tables"):
        schema, name = table.split(".", 1)
        for days in range(int(ctx.want("trusted_lookback_days", 2)) + 1):
            day = (now - timedelta(days=days)).strftime("%Y-%m-%d")
            found = newest_object(s3, bucket, f"trusted/{schema}/{name}/dt={day}/")
            if found:
                if newest is None or found["LastModified"] > newest["LastModified"]:
                    newest = found
                break
    return newest


def _age(ctx, obj):
    return None if obj is None else max((ctx.now() - obj["LastModified"]).total_seconds(), 0.0)


@check("newest object in raw/", HEALTH)
def raw_object_age(ctx):
    hours = int(ctx.want("raw_lookback_hours", 24))
    obj = newest_raw(ctx)
    ok, detail, extra = _judge(ctx, "raw_object_age", _age(ctx, obj), "old", f"no object in the last {hours} h")
    return ok, detail + (f": {obj['Key']}" if obj else ""), extra


@check("newest object in trusted/", HEALTH)
def trusted_object_age(ctx):
    obj, raw = newest_trusted(ctx), newest_raw(ctx)
    days = int(ctx.want("trusted_lookback_days", 2))
    ok, detail, extra = _judge(ctx, "trusted_object_age", _age(ctx, obj), "old", f"no object in the last {days} day(s)")
    if obj is None and raw is not None:  # data reached raw/ but the transform wrote nothing
        return False, f"raw/ has {raw['Key']}, trusted/ nothing in the last {days} day(s)", extra
    return ok, detail + (f": {obj['Key']}" if obj else ""), extra


CHECKS = (
    dms_source_latency,
    dms_target_latency,
    stream_iterator_age,
    firehose_data_freshness,
    raw_object_age,
    trusted_object_age,
)
