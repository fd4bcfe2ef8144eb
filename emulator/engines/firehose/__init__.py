"""Firehose engine: delivery streams with a Kinesis source read their shards and write S3 objects, as Firehose does.

What it imitates (https://docs.aws.amazon.com/firehose/latest/dev/):
- Every ACTIVE delivery stream of type ``KinesisStreamAsSource`` (all regions
  of the context) reads every shard of its Kinesis stream AS the source's
  RoleARN, from ``DeliveryStartTimestamp`` (AT_TIMESTAMP: the moment the
  delivery stream became ACTIVE, see the firehose patch; LATEST when the
  engine first sees it if that field is missing). A record written to the
  Kinesis stream before the delivery stream was ACTIVE is not delivered, as
  on AWS (the platform starts DMS only once Firehose is ACTIVE).
- Shards are listed every second; a shard that appears later (a child of a
  split or merge) is read from TRIM_HORIZON once its parents are read to
  their end.
- Records are buffered per delivery stream by its ExtendedS3 destination's
  BufferingHints (SizeInMBs or IntervalInSeconds, whichever first; 0 s is
  allowed), concatenated as they came (no delimiter), compressed per
  CompressionFormat, and written AS the destination's RoleARN to
  ``<Prefix>YYYY/MM/DD/HH/<stream>-<VersionId>-YYYY-MM-DD-HH-MM-SS-<uuid>[.gz]``
  (UTC, time of the oldest record of the object; ``!{timestamp:...}`` and
  ``!{firehose:random-string}`` prefix expressions). A KMS key in
  EncryptionConfiguration is passed as SSE-KMS on the put.
- At least once: a shard's committed position (``ShardReader.committed``)
  moves only after the S3 put of the object holding its records succeeded.
  A failed put keeps the buffer, stops reading, and is retried (backoff to
  every 5 s, as Firehose), for as long as it fails; each failure goes to the
  destination's CloudWatch Logs stream (``{"deliveryStreamARN", "destination",
  "deliveryStreamVersionId", "message", "errorCode"}`` as Firehose logs it,
  written AS the destination role) and ``DeliveryToS3.Success`` = 0.
- Metrics in ``AWS/Firehose`` (dimension DeliveryStreamName):
  ``DeliveryToS3.Success``, ``.DataFreshness``, ``.Records``, ``.Bytes``,
  ``IncomingRecords``, ``IncomingBytes``, ``DataReadFromKinesisStream.Records``
  / ``.Bytes``, ``KinesisMillisBehindLatest``; and, for the source stream,
  what Kinesis publishes as a consumer reads: ``AWS/Kinesis``
  ``GetRecords.IteratorAgeMilliseconds`` (dimension StreamName; the age of
  the last record each GetRecords returned, 0 when caught up; the largest
  since the last publish, every second while the engine reads).
- A delivery stream that disappears (deleted, ``/moto-api/reset``) is
  forgotten with its buffer; an UpdateDestination (new VersionId) applies to
  the next object.

Known gaps: AWS discards data after 24 h of failed delivery; the engine
retries forever (never loses data) and never writes S3 delivery failures to
ErrorOutputPrefix (neither does Firehose: that prefix is for processing /
format-conversion failures, which the emulator does not do). No data
transformation (Lambda processors), format conversion, dynamic partitioning
or backup; CompressionFormat ZIP / Snappy / HADOOP_SNAPPY are refused with an
error (nothing read). DirectPut streams are left to moto (which writes each
PutRecord straight to S3). Firehose does not create the CloudWatch log
stream when configured through the API: if it is missing, the error goes to
the engine log only. The engine's state is in memory: the emulator's is too.
"""

from __future__ import annotations

import time
from typing import Any

from emulator.engines.firehose.stream import DeliveryStream, ShardReader
from emulator.engines.host import EngineHost

ENGINE = "firehose"
POLL_S = 0.25  # how often shards are read and buffers checked
DISCOVER_S = 1.0  # how often delivery streams and shards are listed


class FirehoseEngine:
    """The delivery streams the engine serves, keyed by (region, name)."""

    def __init__(self, host: EngineHost):
        self.host = host
        self.ctx = host.ctx
        self.log = host.logger(ENGINE)
        self.status = host.status(ENGINE)
        self.streams: dict[tuple[str, str], DeliveryStream] = {}
        self._clients: dict[tuple[str, str, str], tuple[str, Any]] = {}
        self._next_discovery = 0.0

    def client_as(self, role_arn: str, service: str, region: str) -> Any:
        """A cached client acting as ``role_arn`` (rebuilt when the assumed credentials change)."""
        creds = self.ctx.assume(role_arn, f"firehose-{service}", region)
        key = (role_arn, service, region)
        cached = self._clients.get(key)
        if cached is None or cached[0] != creds["AccessKeyId"]:
            cached = (creds["AccessKeyId"], self.ctx.client(service, region, creds))
            self._clients[key] = cached
        return cached[1]

    def client(self, service: str, region: str) -> Any:
        key = ("", service, region)
        if key not in self._clients:
            self._clients[key] = ("", self.ctx.client(service, region))
        return self._clients[key][1]

    def tick(self) -> None:
        """One pass: discover (every DISCOVER_S), then read, flush and retry every stream."""
        now = time.monotonic()
        if now >= self._next_discovery:
            self._next_discovery = now + DISCOVER_S
            self.discover()
        for stream in list(self.streams.values()):
            try:
                stream.pump()
            except Exception as exc:  # one stream's trouble never stops the others
                self.log.exception("delivery stream %s: %s", stream.name, exc)
                self.status.error(f"{stream.name}: {type(exc).__name__}: {exc}")

    def discover(self) -> None:
        """List the delivery streams of every region; start, update or forget them."""
        seen: set[tuple[str, str]] = set()
        for region in self.ctx.regions:
            firehose = self.client("firehose", region)
            names: list[str] = []
            request: dict[str, Any] = {"DeliveryStreamType": "KinesisStreamAsSource", "Limit": 100}
            while True:
                page = firehose.list_delivery_streams(**request)
                names += page.get("DeliveryStreamNames", [])
                if not page.get("HasMoreDeliveryStreams") or not names:
                    break
                request["ExclusiveStartDeliveryStreamName"] = names[-1]
            for name in names:
                try:
                    description = firehose.describe_delivery_stream(DeliveryStreamName=name)
                except firehose.exceptions.ResourceNotFoundException:
                    continue
                description = description["DeliveryStreamDescription"]
                if description.get("DeliveryStreamStatus") != "ACTIVE":
                    continue
                key = (region, name)
                seen.add(key)
                self._serve(key, description)
            for stream in self.streams.values():
                if stream.region == region and stream.key in seen:
                    self.flush_metrics(stream)
        for key in set(self.streams) - seen:
            gone = self.streams.pop(key)
            self.log.info("delivery stream %s gone: forgotten (%d buffered records dropped)", key[1], len(gone.buffer))
            self.status.action(f"forgot delivery stream {key[1]}")

    def _serve(self, key: tuple[str, str], description: dict[str, Any]) -> None:
        stream = self.streams.get(key)
        if stream is not None and stream.arn_created != (
            description["DeliveryStreamARN"],
            description["CreateTimestamp"],
        ):
            self.streams.pop(key)  # deleted and created again under the same name
            stream = None
        if stream is None:
            stream = DeliveryStream(self, key[0], description)
            self.streams[key] = stream
            self.log.info("delivery stream %s: reading %s from %s", stream.name, stream.source_arn, stream.start)
            self.status.action(f"serving delivery stream {stream.name}")
        else:
            stream.configure(description)
        try:
            stream.sync_shards()
        except Exception as exc:
            stream.report_source_error("ListShards", exc)

    def flush_metrics(self, stream: DeliveryStream) -> None:
        """Publish the stream's read metrics accumulated since the last call."""
        data = stream.take_read_metrics()
        if data:
            self.put_metrics(stream, data)
        age = stream.take_iterator_age()
        if age is not None:
            self.put_iterator_age(stream, age)

    def put_iterator_age(self, stream: DeliveryStream, age_ms: int) -> None:
        """GetRecords.IteratorAgeMilliseconds of the source stream: Kinesis publishes it as consumers read."""
        try:
            self.client("cloudwatch", stream.region).put_metric_data(
                Namespace="AWS/Kinesis",
                MetricData=[
                    {
                        "MetricName": "GetRecords.IteratorAgeMilliseconds",
                        "Value": float(age_ms),
                        "Unit": "Milliseconds",
                        "Dimensions": [{"Name": "StreamName", "Value": stream.stream_name}],
                    }
                ],
            )
        except Exception as exc:  # metrics are best effort, never a reason to stop delivering
            self.log.warning("iterator age of %s not published: %s", stream.stream_name, exc)

    def put_metrics(self, stream: DeliveryStream, metrics: list[tuple[str, float, str]]) -> None:
        dims = [{"Name": "DeliveryStreamName", "Value": stream.name}]
        try:
            self.client("cloudwatch", stream.region).put_metric_data(
                Namespace="AWS/Firehose",
                MetricData=[{"MetricName": n, "Value": v, "Unit": u, "Dimensions": dims} for n, v, u in metrics],
            )
        except Exception as exc:  # metrics are best effort, never a reason to stop delivering
            self.log.warning("metrics of %s not published: %s", stream.name, exc)


def install(host: EngineHost) -> FirehoseEngine:
    """Serve every Kinesis-sourced delivery stream of the emulator in a loop of the engine host."""
    engine = FirehoseEngine(host)
    host.every(ENGINE, POLL_S, engine.tick)
    return engine


__all__ = ["DeliveryStream", "FirehoseEngine", "ShardReader", "install"]
