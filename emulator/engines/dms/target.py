"""The Kinesis target: PutRecords as the endpoint's role, 500 records / 5 MB a call, failed records retried.

``put`` returns only when Kinesis accepted every record given (the caller
then confirms the source position), raises ``TaskError`` for what DMS treats
as fatal (the stream is gone, access is denied, a record is too large) or
when retrying has lasted ``retry_seconds``, and ``Interrupted`` when the
task is being stopped while it retries: in both cases nothing is confirmed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from emulator.engines.dms.config import TaskError

MAX_RECORDS = 500
MAX_BYTES = 5 * 1024 * 1024
MAX_RECORD = 1024 * 1024
_CLIENT_TTL_S = 600
_FATAL = frozenset(
    {
        "ResourceNotFoundException",
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSNotFoundException",
        "ValidationException",
        "InvalidArgumentException",
        "ExpiredTokenException",
    }
)


class Interrupted(Exception):
    """The task is stopping: what is not yet accepted stays unconfirmed."""


class KinesisWriter:
    def __init__(
        self,
        client_factory: Callable[[], Any],
        stream_arn: str,
        stop: threading.Event,
        retry_seconds: float = 120.0,
        log: Any = None,
    ):
        self._factory = client_factory
        self._client: Any = None
        self._client_at = 0.0
        self.stream_arn = stream_arn
        self.stop = stop
        self.retry_seconds = retry_seconds
        self.log = log
        self.calls = 0
        self.retried = 0

    def client(self) -> Any:
        if self._client is None or time.monotonic() - self._client_at > _CLIENT_TTL_S:
            self._client, self._client_at = self._factory(), time.monotonic()
        return self._client

    def _fatal(self, exc: Exception) -> TaskError:
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            detail = f"{err.get('Code')}: {err.get('Message', '')}"
        else:
            detail = f"{type(exc).__name__}: {exc}"
        return TaskError(
            "Stream Component Fatal error",
            f"Failed to put records to the Kinesis stream {self.stream_arn}: {detail}",
            1020101,
        )

    def check(self) -> None:
        """DescribeStream as the role (DMS checks its target at start; the documented role policy
        for a Kinesis target is kinesis:DescribeStream, PutRecord, PutRecords)."""
        try:
            self.client().describe_stream(StreamARN=self.stream_arn, Limit=1)
        except (ClientError, BotoCoreError) as exc:
            raise self._fatal(exc) from None

    def put(self, records: list[tuple[bytes, str]]) -> None:
        """Send ``records`` (data, partition key) in order; return when every one is accepted."""
        batch: list[tuple[bytes, str]] = []
        size = 0
        for data, key in records:
            n = len(data) + len(key.encode())
            if n > MAX_RECORD:
                raise TaskError(
                    "Stream Component Fatal error",
                    f"A record of {n} bytes is larger than Kinesis accepts (1 MiB)",
                    1020101,
                )
            if len(batch) == MAX_RECORDS or size + n > MAX_BYTES:
                self._send(batch)
                batch, size = [], 0
            batch.append((data, key))
            size += n
        if batch:
            self._send(batch)

    def _send(self, batch: list[tuple[bytes, str]]) -> None:
        pending = batch
        started = time.monotonic()
        delay = 0.05
        while pending:
            error = ""
            try:
                self.calls += 1
                answer = self.client().put_records(
                    StreamARN=self.stream_arn, Records=[{"Data": d, "PartitionKey": k} for d, k in pending]
                )
                if not answer.get("FailedRecordCount"):
                    return
                results = answer["Records"]
                failed = [rec for rec, res in zip(pending, results, strict=True) if res.get("ErrorCode")]
                codes = {res.get("ErrorCode") for res in results if res.get("ErrorCode")}
                error = f"{len(failed)} of {len(pending)} records failed ({', '.join(sorted(codes))})"
                fatal = codes & _FATAL
                if fatal:
                    raise TaskError(
                        "Stream Component Fatal error",
                        f"Failed to put records to the Kinesis stream {self.stream_arn}: {error}",
                        1020101,
                    )
                pending = failed
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in _FATAL or code.startswith("AccessDenied"):
                    raise self._fatal(exc) from None
                error = f"{code}: {exc}"
            except BotoCoreError as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.retried += 1
            if self.log is not None:
                self.log.warning("PutRecords to %s: %s; retrying", self.stream_arn, error)
            if time.monotonic() - started > self.retry_seconds:
                raise TaskError(
                    "Stream Component Fatal error",
                    f"Gave up putting records to {self.stream_arn} after {self.retry_seconds:.0f} s: {error}",
                    1020101,
                )
            if self.stop.wait(delay):
                raise Interrupted()
            delay = min(delay * 2, 2.0)
