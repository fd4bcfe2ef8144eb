"""One delivery stream of the Firehose engine: its shard readers, its buffer, its deliveries (see __init__)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from emulator.engines.firehose.objects import compress, object_key, s3_error

if TYPE_CHECKING:
    from emulator.engines.firehose import FirehoseEngine

GET_RECORDS_LIMIT = 10_000  # the most GetRecords returns in one call
MAX_READS_PER_PASS = 20  # GetRecords rounds per stream and pass before the others get their turn
RETRY_BASE_S = 0.5  # first retry of a failed put; doubles up to RETRY_MAX_S
RETRY_MAX_S = 5.0  # Firehose retries a failed S3 delivery every 5 seconds
MIB = 1024 * 1024


@dataclass
class ShardReader:
    """Where the delivery stream is in one shard: read into the buffer, and committed (delivered to S3)."""

    shard_id: str
    parents: tuple[str, ...]
    start: str  # AT_TIMESTAMP, LATEST or TRIM_HORIZON
    closed: bool = False
    done: bool = False  # a closed shard read to its end
    iterator: str | None = None
    read: str | None = None  # sequence number of the last record read into the buffer
    committed: str | None = None  # sequence number of the last record delivered to S3


@dataclass
class Buffered:
    shard_id: str
    sequence: str
    data: bytes
    arrival: datetime


class DeliveryStream:
    def __init__(self, engine: FirehoseEngine, region: str, description: dict[str, Any]):
        self.engine, self.region = engine, region
        self.name = description["DeliveryStreamName"]
        self.arn = description["DeliveryStreamARN"]
        self.arn_created = (self.arn, description["CreateTimestamp"])
        source = description.get("Source", {}).get("KinesisStreamSourceDescription", {})
        self.source_arn, self.source_role = source["KinesisStreamARN"], source["RoleARN"]
        self.start_at: datetime | None = source.get("DeliveryStartTimestamp")
        self.start = "AT_TIMESTAMP" if self.start_at else "LATEST"
        self.shards: dict[str, ShardReader] = {}
        self.buffer: list[Buffered] = []
        self.buffer_bytes = 0
        self.buffer_since: float | None = None  # monotonic time the oldest buffered record was read
        self.failures = 0
        self.retry_at = 0.0
        self._read_records = self._read_bytes = self._behind_ms = 0
        self._iterator_age_ms: int | None = None  # the oldest GetRecords iterator age since the last publish
        self._last_error: str | None = None
        self.configure(description)

    @property
    def key(self) -> tuple[str, str]:
        return self.region, self.name

    def configure(self, description: dict[str, Any]) -> None:
        """Take the destination of the description (a new VersionId applies to the next object)."""
        version = description["VersionId"]
        destination = description["Destinations"][0]
        dest = destination.get("ExtendedS3DestinationDescription") or destination["S3DestinationDescription"]
        if getattr(self, "version", version) != version:
            self.engine.log.info("delivery stream %s: version %s applies to the next object", self.name, version)
        self.version, self.dest = version, dest
        hints = dest.get("BufferingHints") or {}
        self.size_limit = int(hints.get("SizeInMBs", 5)) * MIB
        self.interval_s = float(hints.get("IntervalInSeconds", 300))

    # ---------------------------------------------------------------- reading
    def kinesis(self) -> Any:
        return self.engine.client_as(self.source_role, "kinesis", self.region)

    def sync_shards(self) -> None:
        """List the shards; a new one starts where the stream starts (first listing) or at TRIM_HORIZON."""
        first = not self.shards
        kinesis, request = self.kinesis(), {"StreamARN": self.source_arn}
        listed: dict[str, dict[str, Any]] = {}
        while True:
            page = kinesis.list_shards(**request)
            listed.update({s["ShardId"]: s for s in page.get("Shards", [])})
            if not page.get("NextToken"):
                break
            request = {"NextToken": page["NextToken"]}
        for shard_id, shard in listed.items():
            reader = self.shards.get(shard_id)
            if reader is None:
                parents = tuple(p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p)
                reader = ShardReader(shard_id, parents, self.start if first else "TRIM_HORIZON")
                self.shards[shard_id] = reader
                if reader.start == "LATEST":  # LATEST is the moment the engine first sees the stream
                    self._open(kinesis, reader)
            reader.closed = "EndingSequenceNumber" in shard.get("SequenceNumberRange", {})
        for shard_id in set(self.shards) - set(listed):  # expired past retention
            if self.shards[shard_id].done or not self.shards[shard_id].read:
                del self.shards[shard_id]

    def _open(self, kinesis: Any, reader: ShardReader) -> None:
        request: dict[str, Any] = {"StreamARN": self.source_arn, "ShardId": reader.shard_id}
        if reader.read:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=reader.read)
        elif reader.start == "AT_TIMESTAMP":
            request.update(ShardIteratorType="AT_TIMESTAMP", Timestamp=self.start_at)
        else:
            request["ShardIteratorType"] = reader.start
        reader.iterator = kinesis.get_shard_iterator(**request)["ShardIterator"]

    def _readable(self, reader: ShardReader) -> bool:
        parents_done = all(p not in self.shards or self.shards[p].done for p in reader.parents)
        return not reader.done and parents_done

    def read_once(self) -> bool:
        """One GetRecords per readable shard into the buffer; True when some shard may hold more."""
        kinesis, more = self.kinesis(), False
        for reader in list(self.shards.values()):
            if not self._readable(reader):
                continue
            try:
                if reader.iterator is None:
                    self._open(kinesis, reader)
                page = kinesis.get_records(ShardIterator=reader.iterator, Limit=GET_RECORDS_LIMIT)
            except Exception as exc:  # expired iterator, vanished stream, denied read: reopen next pass
                reader.iterator = None
                self.report_source_error("GetRecords", exc)
                continue
            self._last_error = None
            records = page.get("Records", [])
            reader.iterator = page.get("NextShardIterator")
            self._behind_ms = max(self._behind_ms, int(page.get("MillisBehindLatest", 0)))
            self._note_iterator_age(records, int(page.get("MillisBehindLatest", 0)))
            if records:
                now = time.monotonic()
                if self.buffer_since is None:
                    self.buffer_since = now
                for record in records:
                    data = record["Data"]
                    self.buffer.append(
                        Buffered(reader.shard_id, record["SequenceNumber"], data, record["ApproximateArrivalTimestamp"])
                    )
                    self.buffer_bytes += len(data)
                    self._read_bytes += len(data)
                reader.read = records[-1]["SequenceNumber"]
                self._read_records += len(records)
                more = more or len(records) >= GET_RECORDS_LIMIT or page.get("MillisBehindLatest", 0) > 0
            elif reader.closed or reader.iterator is None:
                reader.done = True  # its children may start
                more = True
        return more

    def report_source_error(self, operation: str, exc: BaseException) -> None:
        text = f"{operation} on {self.source_arn} as {self.source_role}: {type(exc).__name__}: {exc}"
        if text != self._last_error:  # once per distinct error, not every pass
            self._last_error = text
            self.engine.log.error("delivery stream %s: %s", self.name, text)
            self.engine.status.error(f"{self.name}: {text}")

    @property
    def stream_name(self) -> str:
        return self.source_arn.rsplit("/", 1)[-1]

    def _note_iterator_age(self, records: list[dict[str, Any]], behind_ms: int) -> None:
        """GetRecords.IteratorAgeMilliseconds as Kinesis measures it: the age of the last record a call returned.

        A call that returns nothing is as old as the reader is behind the tip (0 when caught up).
        """
        if records:
            arrival = records[-1]["ApproximateArrivalTimestamp"]
            age = int(max((datetime.now(UTC) - arrival.astimezone(UTC)).total_seconds(), 0.0) * 1000)
        else:
            age = behind_ms
        self._iterator_age_ms = age if self._iterator_age_ms is None else max(self._iterator_age_ms, age)

    def take_iterator_age(self) -> int | None:
        """The largest iterator age seen since the last call (None when no GetRecords succeeded)."""
        age, self._iterator_age_ms = self._iterator_age_ms, None
        return age

    def take_read_metrics(self) -> list[tuple[str, float, str]]:
        if not self._read_records and not self._behind_ms:
            return []
        n, b, behind = self._read_records, self._read_bytes, self._behind_ms
        self._read_records = self._read_bytes = self._behind_ms = 0
        self.engine.status.count("records_read", n)
        return [
            ("IncomingRecords", n, "Count"),
            ("IncomingBytes", b, "Bytes"),
            ("DataReadFromKinesisStream.Records", n, "Count"),
            ("DataReadFromKinesisStream.Bytes", b, "Bytes"),
            ("KinesisMillisBehindLatest", behind, "Milliseconds"),
        ]

    # ---------------------------------------------------------------- delivering
    def pump(self) -> None:
        """Retry a failed object when due, else read, then deliver what the buffering hints ask for."""
        if self.failures and (time.monotonic() < self.retry_at or not self.deliver(self._cut())):
            return  # nothing more is read while an object cannot be written
        for _ in range(MAX_READS_PER_PASS):
            more = self.read_once()
            while self.buffer_bytes >= self.size_limit:
                if not self.deliver(self._cut()):
                    return
            if not more:
                break
        if self.buffer and time.monotonic() - (self.buffer_since or 0) >= self.interval_s:
            self.deliver(len(self.buffer))

    def _cut(self) -> int:
        """How many buffered records make the next object: up to SizeInMBs (at least one)."""
        total = 0
        for i, item in enumerate(self.buffer):
            total += len(item.data)
            if total > self.size_limit:
                return max(i, 1)
        return len(self.buffer)

    def deliver(self, count: int) -> bool:
        """Write the first ``count`` buffered records as one object; commit their positions only if S3 took it."""
        batch = self.buffer[:count]
        if not batch:
            return True
        dest, version = self.dest, self.version
        oldest = min(item.arrival for item in batch).astimezone(UTC)
        data = b"".join(item.data for item in batch)
        bucket = dest["BucketARN"].split(":::", 1)[-1]
        try:
            compression = dest.get("CompressionFormat", "UNCOMPRESSED")
            key = object_key(dest.get("Prefix", ""), self.name, version, oldest, compression)
            request: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": compress(data, compression)}
            kms = (dest.get("EncryptionConfiguration") or {}).get("KMSEncryptionConfig", {}).get("AWSKMSKeyARN")
            if kms:
                request.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms)
            self.engine.client_as(dest["RoleARN"], "s3", self.region).put_object(**request)
        except Exception as exc:
            self._failed(exc, dest, version)
            return False
        del self.buffer[:count]
        self.buffer_bytes -= len(data)
        self.buffer_since = time.monotonic() if self.buffer else None
        for item in batch:
            if item.shard_id in self.shards:
                self.shards[item.shard_id].committed = item.sequence
        self.failures, self.retry_at = 0, 0.0
        freshness = (datetime.now(UTC) - oldest).total_seconds()
        self.engine.put_metrics(
            self,
            [
                ("DeliveryToS3.Success", 1, "None"),
                ("DeliveryToS3.Records", len(batch), "Count"),
                ("DeliveryToS3.Bytes", len(data), "Bytes"),
                ("DeliveryToS3.DataFreshness", round(max(freshness, 0.0), 3), "Seconds"),
            ],
        )
        status = self.engine.status
        status.count("records_delivered", len(batch))
        status.count("objects", 1)
        status.action(f"{self.name}: {len(batch)} records to s3://{bucket}/{key}")
        self.engine.log.info(
            "delivery stream %s: %d records, %d bytes to s3://%s/%s", self.name, len(batch), len(data), bucket, key
        )
        return True

    def _failed(self, exc: BaseException, dest: dict[str, Any], version: str) -> None:
        self.failures += 1
        self.retry_at = time.monotonic() + min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (self.failures - 1))
        code, message = s3_error(exc) if not isinstance(exc, ValueError) else ("InternalError", str(exc))
        self.engine.log.error(
            "delivery stream %s: %s (%s: %s); %d records kept, retry %d in %.1f s",
            self.name, code, type(exc).__name__, exc, len(self.buffer), self.failures,
            self.retry_at - time.monotonic(),
        )  # fmt: skip
        self.engine.status.error(f"{self.name}: {code}: {exc}")
        self.engine.status.count("failed_puts", 1)
        self.engine.put_metrics(self, [("DeliveryToS3.Success", 0, "None")])
        logging_options = dest.get("CloudWatchLoggingOptions") or {}
        if not logging_options.get("Enabled"):
            return
        event = {
            "deliveryStreamARN": self.arn,
            "destination": dest["BucketARN"],
            "deliveryStreamVersionId": int(version),
            "message": message,
            "errorCode": code,
        }
        try:
            self.engine.client_as(dest["RoleARN"], "logs", self.region).put_log_events(
                logGroupName=logging_options["LogGroupName"],
                logStreamName=logging_options["LogStreamName"],
                logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(event)}],
            )
        except Exception as log_exc:  # Firehose does not create the group or stream; the role may not log
            self.engine.log.warning("delivery stream %s: error log not written: %s", self.name, log_exc)
