# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming: the Kinesis stream and the Firehose delivery stream that writes raw/."""

from __future__ import annotations

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    HEALTH,
    check,
    compare,
)


def _stream(ctx):
    return ctx.client("kinesis").describe_stream_summary(StreamName=ctx.name("stream"))["StreamDescriptionSummary"]


def _delivery(ctx):
    firehose = ctx.client("firehose")
    return firehose.describe_delivery_stream(DeliveryStreamName=ctx.name("delivery_stream"))[
        "DeliveryStreamDescription"
    ]


@check("Kinesis stream active, KMS-encrypted, shards and retention per inventory")
def kinesis_stream(ctx):
    d = _stream(ctx)
    got = {
        "status": d["StreamStatus"],
        "encryption": d.get("EncryptionType"),
        "key": d.get("KeyId"),
        "shards": d.get("OpenShardCount"),
        "retention": d.get("RetentionPeriodHours"),
    }
    want = {
        "status": "ACTIVE",
        "encryption": "KMS",
        "key": ctx.want("kms_key_id", "alias/aws/kinesis"),
        "shards": ctx.want("shards"),
        "retention": ctx.want("retention_hours"),
    }
    return compare(want, got)


@check("Firehose reads the stream, GZIP to raw/ with error prefix and logging")
def delivery_stream(ctx):
    d = _delivery(ctx)
    dest = d["Destinations"][0]["ExtendedS3DestinationDescription"]
    got = {
        "status": d["DeliveryStreamStatus"],
        "type": d["DeliveryStreamType"],
        "source": d.get("Source", {}).get("KinesisStreamSourceDescription", {}).get("KinesisStreamARN", ""),
        "bucket": dest["BucketARN"],
        "prefix": dest.get("Prefix"),
        "error_prefix": dest.get("ErrorOutputPrefix", "").startswith("errors/firehose/"),
        "compression": dest.get("CompressionFormat"),
        "buffer": [dest["BufferingHints"]["IntervalInSeconds"], dest["BufferingHints"]["SizeInMBs"]],
        "logging": dest.get("CloudWatchLoggingOptions", {}).get("Enabled"),
    }
    want = {
        "status": "ACTIVE",
        "type": "KinesisStreamAsSource",
        "source": _stream(ctx)["StreamARN"],
        "bucket": f"arn:aws:s3:::{ctx.name('data_lake_bucket')}",
        "prefix": "raw/",
        "error_prefix": True,
        "compression": "GZIP",
        "buffer": [ctx.want("buffer_interval_seconds"), ctx.want("buffer_size_mb")],
        "logging": True,
    }
    return compare(want, got)


@check("Firehose error log group with retention and its stream")
def delivery_logs(ctx):
    logs, group = ctx.client("logs"), f"/aws/kinesisfirehose/{ctx.name('delivery_stream')}"
    found = [g for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] if g["logGroupName"] == group]
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"] if found else []
    got = {"retention_days": found[0].get("retentionInDays") if found else None, "streams": len(streams) > 0}
    return compare({"retention_days": ctx.want("log_retention_days"), "streams": True}, got)


def _alarm_state(ctx, suffix):
    name = f"{ctx.name('prefix')}-{suffix}"
    alarms = ctx.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarms[0]["StateValue"] if alarms else "missing"


@check("Kinesis stream active, iterator-age alarm not firing", HEALTH)
def stream_health(ctx):
    d = _stream(ctx)
    alarm = _alarm_state(ctx, "kinesis-iterator-age")
    ok = d["StreamStatus"] == "ACTIVE" and alarm != "ALARM"
    return ok, f"{d['StreamStatus']}, {d.get('OpenShardCount')} shard(s), iterator age alarm {alarm}"


@check("Firehose active", HEALTH)
def delivery_health(ctx):
    d = _delivery(ctx)
    return d["DeliveryStreamStatus"] == "ACTIVE", d["DeliveryStreamStatus"]


CHECKS = (kinesis_stream, delivery_stream, delivery_logs, stream_health, delivery_health)
