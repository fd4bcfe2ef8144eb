"""Patches of moto's Firehose for the local emulator (see emulator/README.md)."""

from __future__ import annotations

from typing import Any

from emulator.patches.registry import patch as _patch


# --------------------------------------------------------------------------
# Firehose: where a Kinesis source is read from
# --------------------------------------------------------------------------
# AWS: DescribeDeliveryStream reports, for a KinesisStreamAsSource stream,
# Source.KinesisStreamSourceDescription.DeliveryStartTimestamp: "Firehose
# starts retrieving records from the Kinesis data stream starting with this
# timestamp" (the moment the stream became ACTIVE; records written before are
# not delivered). moto reports only the stream and role ARNs. The Firehose
# engine reads every shard AT_TIMESTAMP of it, so records written right after
# ACTIVE are not lost to the engine's polling delay.
# (https://docs.aws.amazon.com/firehose/latest/APIReference/API_KinesisStreamSourceDescription.html)
@_patch
def firehose_kinesis_source_delivery_start() -> None:
    """KinesisStreamSourceDescription.DeliveryStartTimestamp: when the stream became ACTIVE."""
    from moto.firehose.models import DeliveryStream

    original = DeliveryStream.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.source and self.delivery_stream_type == "KinesisStreamAsSource":
            self.source = {**self.source, "DeliveryStartTimestamp": self.create_timestamp}

    DeliveryStream.__init__ = __init__


# --------------------------------------------------------------------------
# Firehose: no direct puts to a stream that reads Kinesis
# --------------------------------------------------------------------------
# AWS: PutRecord / PutRecordBatch on a KinesisStreamAsSource delivery stream
# fail with InvalidArgumentException "This operation is not permitted on
# KinesisStreamAsSource delivery stream type." moto accepts them and writes
# the records straight to S3 (no buffering, compression or role), beside
# what the Firehose engine delivers from the Kinesis source.
# (https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecord.html)
@_patch
def firehose_direct_put_refused_on_kinesis_source() -> None:
    """PutRecord(Batch) on a KinesisStreamAsSource stream: InvalidArgumentException."""
    from moto.firehose.exceptions import InvalidArgumentException
    from moto.firehose.models import FirehoseBackend

    original = FirehoseBackend.put_record_batch

    def put_record_batch(self: Any, delivery_stream_name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        stream = self.delivery_streams.get(delivery_stream_name)
        if stream is not None and stream.delivery_stream_type == "KinesisStreamAsSource":
            raise InvalidArgumentException(
                "This operation is not permitted on KinesisStreamAsSource delivery stream type."
            )
        return original(self, delivery_stream_name, records)

    FirehoseBackend.put_record_batch = put_record_batch


# --------------------------------------------------------------------------
# Slow mode (SMARTSTREAM_EMULATOR_SLOW, emulator/slow.py): delivery stream times
# --------------------------------------------------------------------------
# AWS: CreateDeliveryStream answers at once; the stream is ``CREATING`` for
# about a minute, then ``ACTIVE`` (only then does a Kinesis source start
# being read: DeliveryStartTimestamp is that moment); DeleteDeliveryStream
# leaves it ``DELETING`` for a while. moto is ``ACTIVE`` at once and forgets
# a deleted stream. In slow mode both take the scaled times; the firehose
# engine delivers only ACTIVE streams, from DeliveryStartTimestamp.
# (https://docs.aws.amazon.com/firehose/latest/APIReference/API_CreateDeliveryStream.html)
@_patch
def firehose_delivery_stream_times_slow() -> None:
    """Slow mode: CREATING -> ACTIVE and DELETING take AWS's times scaled."""
    from datetime import timedelta

    from moto.firehose.models import FirehoseBackend as Backend

    from emulator import slow

    create, delete, describe = (
        Backend.create_delivery_stream,
        Backend.delete_delivery_stream,
        Backend.describe_delivery_stream,
    )
    listing = Backend.list_delivery_streams

    def create_delivery_stream(self: Any, region: str, delivery_stream_name: str, *args: Any, **kwargs: Any) -> Any:
        slow.prune(self.delivery_streams)
        arn = create(self, region, delivery_stream_name, *args, **kwargs)
        stream, wait = self.delivery_streams[delivery_stream_name], slow.seconds("firehose.creating")
        slow.show(stream, "ACTIVE", [("CREATING", wait)])
        if wait and (stream.source or {}).get("DeliveryStartTimestamp"):
            stream.source = {
                **stream.source,
                "DeliveryStartTimestamp": stream.create_timestamp + timedelta(seconds=wait),
            }
        return arn

    def delete_delivery_stream(self: Any, delivery_stream_name: str, *args: Any, **kwargs: Any) -> None:
        slow.prune(self.delivery_streams)
        stream = self.delivery_streams.get(delivery_stream_name)
        delete(self, delivery_stream_name, *args, **kwargs)
        if slow.enabled() and not slow.lingering(stream):
            slow.forget(stream)
            slow.linger(stream, slow.seconds("firehose.deleting"))
            self.delivery_streams[delivery_stream_name] = stream

    def describe_delivery_stream(self: Any, delivery_stream_name: str, *args: Any, **kwargs: Any) -> Any:
        slow.prune(self.delivery_streams)
        result = describe(self, delivery_stream_name, *args, **kwargs)
        description = result["DeliveryStreamDescription"]
        stream = self.delivery_streams[delivery_stream_name]
        description["DeliveryStreamStatus"] = slow.shown(stream, stream.delivery_stream_status)
        return result

    def list_delivery_streams(self: Any, *args: Any, **kwargs: Any) -> Any:
        slow.prune(self.delivery_streams)
        return listing(self, *args, **kwargs)

    Backend.create_delivery_stream, Backend.delete_delivery_stream = create_delivery_stream, delete_delivery_stream
    Backend.describe_delivery_stream, Backend.list_delivery_streams = describe_delivery_stream, list_delivery_streams
