"""Patches of moto's Kinesis Data Streams for the local emulator (see emulator/README.md)."""

from __future__ import annotations

from typing import Any

from emulator.patches.registry import patch as _patch


# --------------------------------------------------------------------------
# Kinesis shards: reads and writes that do not slow down as the shard grows
# --------------------------------------------------------------------------
# AWS: GetRecords reads from the iterator's position and PutRecord(s)
# appends; neither costs more because the shard already holds many records
# (a shard takes 1 MB/s or 1,000 records/s for its whole retention period).
# moto: every PutRecord lists all the keys of the shard to find the last
# sequence number, and every GetRecords scans the shard from its first record
# to the iterator's position, so a pipeline slows down quadratically: at
# 2,000 records/s a shard holds 600,000 records after 5 minutes and each put
# costs milliseconds. moto's sequence numbers are consecutive integers per
# shard (max + 1 on every put), so the last one is the last key of the
# ordered dict and a read starts at ``position + 1`` by dict lookup.
# (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html)
@_patch
def kinesis_shard_constant_time_records() -> None:
    """Shard put/get cost independent of the shard's size (same results as moto's)."""
    from moto.kinesis import models
    from moto.kinesis.models import Shard

    def get_min_sequence_number(self: Any) -> int:
        return next(iter(self.records), 0)

    def get_max_sequence_number(self: Any) -> int:
        return next(reversed(self.records), 0) if self.records else 0

    def put_record(self: Any, partition_key: str, data: str, explicit_hash_key: str) -> str:
        sequence_number = get_max_sequence_number(self) + 1
        self.records[sequence_number] = models.Record(partition_key, data, sequence_number, explicit_hash_key)
        return str(sequence_number)

    def get_records(self: Any, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
        position = int(last_sequence_id)
        last = get_max_sequence_number(self)
        results: list[Any] = []
        sequence = max(position + 1, get_min_sequence_number(self))
        while sequence <= last and (not limit or len(results) < limit):
            record = self.records.get(sequence)
            if record is not None:
                results.append(record)
                position = sequence
            sequence += 1
        behind = 0
        if results:
            behind = int((self.records[last].created_at - results[-1].created_at) * 1000)
        return results, position, behind

    Shard.get_min_sequence_number = get_min_sequence_number
    Shard.get_max_sequence_number = get_max_sequence_number
    Shard.put_record = put_record
    Shard.get_records = get_records


# --------------------------------------------------------------------------
# Kinesis records older than the stream's retention period are trimmed
# --------------------------------------------------------------------------
# AWS: a record stays readable for the stream's retention period
# (RetentionPeriodHours, 24 by default, up to 8760) and is then trimmed: the
# shard's TRIM_HORIZON moves past it and GetRecords never returns it again.
# moto keeps every record of a shard for as long as it runs, so a stream fed
# at 2,000 records/s grows the emulator's heap without limit. Each put now
# drops the shard's records older than the retention period (the oldest first,
# constant time per record). Gap: a closed shard (after a split or merge) gets
# no puts, so its records stay until the emulator stops.
# (https://docs.aws.amazon.com/streams/latest/dev/kinesis-extended-retention.html)
@_patch
def kinesis_records_trimmed_after_retention() -> None:
    """A put drops the shard's records older than the stream's RetentionPeriodHours."""
    import time

    from moto.kinesis.models import Stream

    original = Stream.put_record

    def put_record(self: Any, partition_key: str, explicit_hash_key: str, data: str) -> tuple[str, str]:
        sequence_number, shard_id = original(self, partition_key, explicit_hash_key, data)
        shard = self.shards.get(shard_id)
        if shard is not None:
            horizon = time.time() - self.retention_period_hours * 3600
            # the shard's records are kinesis_records_held_compressed's store (its put made them so)
            shard.records.trim(int(horizon * 1e6))  # the newest record (just put) always stays
        return sequence_number, shard_id

    Stream.put_record = put_record


# --------------------------------------------------------------------------
# Kinesis records held as their bytes
# --------------------------------------------------------------------------
# AWS: a shard holds each record's data blob (up to 1 MiB) for the retention
# period. moto keeps each record as the base64 text of its request (a third
# larger than the data) in an object with a per-instance dict, and decodes the
# text again on every GetRecords: ~1.1 KB of heap for a 534-byte DMS record,
# ~640 MB for the 600,000 records a 5-minute run at 2,000 records/s leaves in
# the stream (24 h retention). Here a record keeps the decoded bytes in a
# slotted object (same attributes and answers: ``data`` is still the base64
# text for moto's split/merge, ``to_json`` gives the same dict).
@_patch
def kinesis_records_held_as_bytes() -> None:
    """Shard records keep their data as bytes in a slotted object (same API answers, less heap)."""
    from base64 import b64decode, b64encode

    from moto.core.utils import unix_time, utcnow
    from moto.kinesis import models

    if getattr(models.Record, "_smartstream_compact", False):
        return

    class Record:
        __slots__ = (
            "created_at",
            "created_at_datetime",
            "explicit_hash_key",
            "partition_key",
            "raw",
            "sequence_number",
        )
        _smartstream_compact = True

        def __init__(self, partition_key: str, data: str, sequence_number: int, explicit_hash_key: str):
            self.partition_key = partition_key
            self.raw = b64decode(data)
            self.sequence_number = sequence_number
            self.explicit_hash_key = explicit_hash_key
            self.created_at_datetime = utcnow()
            self.created_at = unix_time(self.created_at_datetime)

        @property
        def data(self) -> str:
            return b64encode(self.raw).decode()

        def to_json(self) -> dict[str, Any]:
            return {
                "Data": self.raw,
                "PartitionKey": self.partition_key,
                "SequenceNumber": str(self.sequence_number),
                "ApproximateArrivalTimestamp": self.created_at_datetime,
            }

    models.Record = Record


# --------------------------------------------------------------------------
# Kinesis records held compressed, indexed by sequence number
# --------------------------------------------------------------------------
# AWS: a shard keeps every record for the stream's retention period (24 h at
# least) in durable storage, whatever its consumers read. moto keeps them in
# the emulator's heap, one object per record in an OrderedDict: even as bytes
# in a slotted object (above) ~820 bytes for a 534-byte DMS record, so a
# 5-minute run at 2,000 records/s held ~500 MB and grew with every second of
# the 24 h. Here a shard's records live in a store (kinesis_store.py) that
# keeps per record 12 bytes of index (arrival time, offset) and its entry in
# zlib-compressed segments of 256 KiB (DMS's JSON shrinks about tenfold),
# the last segments read kept decompressed (consumers read near the tip).
# GetRecords reads a page in one pass; AT_TIMESTAMP iterators bisect the
# arrival times. Same sequence numbers, data, partition keys and timestamps
# as before; a record read back is a copy (changing it changes nothing held).
# (https://docs.aws.amazon.com/streams/latest/dev/key-concepts.html "Retention period")
@_patch
def kinesis_records_held_compressed() -> None:
    """Shard records in a compact, compressed store (same API answers, a fraction of the heap)."""
    from base64 import b64decode

    from moto.core.utils import utcnow
    from moto.kinesis import models
    from moto.kinesis.models import Shard

    from emulator.patches.kinesis_store import ShardRecords, to_us

    if getattr(Shard, "_smartstream_store", False):
        return
    original_init = Shard.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.records = ShardRecords(models.Record)

    def put_record(self: Any, partition_key: str, data: str, explicit_hash_key: str) -> str:
        records = self.records
        if not isinstance(records, ShardRecords):  # a parent emptied by moto's split_shard
            records = self.records = ShardRecords(models.Record)
        return str(records.put(partition_key, b64decode(data), explicit_hash_key, to_us(utcnow())))

    def get_records(self: Any, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
        records = self.records
        if not isinstance(records, ShardRecords):
            return original_get_records(self, last_sequence_id, limit)
        results = records.slice(int(last_sequence_id), limit)
        position = results[-1].sequence_number if results else int(last_sequence_id)
        behind = 0
        if results:
            last = next(reversed(records))
            behind = int((records.arrival(last) - results[-1].created_at) * 1000)
        return results, position, behind

    def get_sequence_number_at(self: Any, at_timestamp: float) -> int:
        if isinstance(self.records, ShardRecords):
            return self.records.sequence_at(at_timestamp)
        return original_sequence_at(self, at_timestamp)

    original_get_records, original_sequence_at = Shard.get_records, Shard.get_sequence_number_at
    Shard.__init__ = __init__
    Shard.put_record = put_record
    Shard.get_records = get_records
    Shard.get_sequence_number_at = get_sequence_number_at
    Shard._smartstream_store = True


# --------------------------------------------------------------------------
# Kinesis shard iterators of a stream named by its ARN
# --------------------------------------------------------------------------
# AWS: GetShardIterator takes StreamName or StreamARN; the iterator it returns
# is enough for GetRecords (StreamARN is optional there). moto encodes the
# stream *name* given in the request into the iterator, so an iterator got
# with StreamARN holds the name "None" and GetRecords without StreamARN fails
# with ResourceNotFoundException.
# (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetShardIterator.html)
@_patch
def kinesis_shard_iterator_by_arn() -> None:
    """GetShardIterator with StreamARN returns an iterator GetRecords accepts alone."""
    from moto.kinesis.models import KinesisBackend

    original = KinesisBackend.get_shard_iterator

    def get_shard_iterator(self: Any, stream_arn: Any, stream_name: Any, *args: Any, **kwargs: Any) -> str:
        if stream_name is None and stream_arn:
            stream_name = self.describe_stream(stream_arn=stream_arn, stream_name=None).stream_name
        return original(self, stream_arn, stream_name, *args, **kwargs)

    KinesisBackend.get_shard_iterator = get_shard_iterator


# --------------------------------------------------------------------------
# Kinesis records go to open shards only
# --------------------------------------------------------------------------
# AWS: after SplitShard / MergeShards (or UpdateShardCount) the parent shards
# are closed; new records go to the open child whose hash key range holds the
# record's hash key, and the ranges are inclusive (EndingHashKey included).
# moto picks the first shard of the stream whose range holds the key, closed
# parents included, so records keep landing in a closed shard (that a
# consumer has finished), and a key equal to EndingHashKey finds no shard.
# (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_HashKeyRange.html)
@_patch
def kinesis_records_to_open_shards() -> None:
    """A record goes to the open shard whose inclusive hash key range holds its hash key."""
    from moto.kinesis.models import Stream

    original = Stream.get_shard_for_key

    def get_shard_for_key(self: Any, partition_key: str, explicit_hash_key: str) -> Any:
        chosen = original(self, partition_key, explicit_hash_key)  # moto's validation and hashing
        if chosen is not None and chosen.is_open:
            return chosen
        from moto.utilities.utils import md5_hash

        key = int(explicit_hash_key) if explicit_hash_key else int(md5_hash(partition_key.encode()).hexdigest(), 16)
        for shard in self.shards.values():
            if shard.is_open and shard.starting_hash <= key <= shard.ending_hash:
                return shard
        return chosen

    Stream.get_shard_for_key = get_shard_for_key


# --------------------------------------------------------------------------
# Slow mode (SMARTSTREAM_EMULATOR_SLOW, emulator/slow.py): stream creation time
# --------------------------------------------------------------------------
# AWS: CreateStream answers at once; the stream is ``CREATING`` (~30 s), then
# ``ACTIVE``. moto is ``ACTIVE`` at once. In slow mode DescribeStream(Summary)
# shows CREATING for the scaled time (the streaming role waits: wait: true).
# (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_CreateStream.html)
@_patch
def kinesis_stream_creating_slow() -> None:
    """Slow mode: CREATING -> ACTIVE takes AWS's time scaled."""
    from moto.kinesis.models import KinesisBackend, Stream

    from emulator import slow

    slow.status_property(Stream, "status")
    create = KinesisBackend.create_stream

    def create_stream(self: Any, *args: Any, **kwargs: Any) -> Any:
        stream = create(self, *args, **kwargs)
        slow.show(stream, "ACTIVE", [("CREATING", slow.seconds("kinesis.creating"))])
        return stream

    KinesisBackend.create_stream = create_stream
