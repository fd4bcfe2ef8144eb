"""What Lambda writes about each invocation: log events in CloudWatch Logs and metrics in CloudWatch.

Logs go to ``/aws/lambda/<name>``, stream ``YYYY/MM/DD/[<version>]<32 hex>``, written through the logs
API with the function's role (as Lambda does: the role needs logs:CreateLogStream / PutLogEvents, and
logs:CreateLogGroup when the group is missing). A stream is one execution environment: a stream free
again after an invocation is reused by the next one of the same function that day, so sequential
invocations share a stream as warm invocations do on AWS. Metrics (namespace AWS/Lambda, dimension
FunctionName) are put by the Lambda service itself, as the emulator's base identity.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from emulator.engines.lambda_runtime.invoke import FunctionSpec

_MAX_EVENT_BYTES = 256 * 1024 - 26
_MAX_BATCH_BYTES = 1_000_000
_MAX_BATCH_EVENTS = 10_000


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


class Telemetry:
    def __init__(self, client: Any, log: Any, status: Any) -> None:
        self.client, self.log, self.status = client, log, status
        self._free: dict[tuple[str, str], list[str]] = {}
        self._made: set[tuple[str, str, str]] = set()  # (region, group, stream) created by this engine
        self._lock = threading.Lock()

    def acquire_stream(self, spec: FunctionSpec) -> str:
        day = datetime.now(UTC).strftime("%Y/%m/%d/")
        with self._lock:
            free = [s for s in self._free.get((spec.region, spec.arn), []) if s.startswith(day)]
            self._free[(spec.region, spec.arn)] = free
            if free:
                return free.pop()
        return f"{day}[{spec.version}]{uuid.uuid4().hex}"

    def release_stream(self, spec: FunctionSpec, stream: str) -> None:
        with self._lock:
            self._free.setdefault((spec.region, spec.arn), []).append(stream)

    def forget(self) -> None:
        with self._lock:
            self._free.clear()
            self._made.clear()

    def write_logs(self, spec: FunctionSpec, stream: str, lines: list[tuple[int, str]]) -> bool:
        """Put the invocation's log events; False (and the reason in the engine log) when the role may not."""
        events = [{"timestamp": ts, "message": _clip(text)} for ts, text in sorted(lines, key=lambda x: x[0])]
        try:
            logs = self.client("logs", spec.region, spec.role, spec.name)
            made = (spec.region, spec.log_group, stream)
            if made not in self._made:
                self._ensure_stream(logs, spec, stream)
                self._made.add(made)
            for batch in _batches(events):
                try:
                    logs.put_log_events(logGroupName=spec.log_group, logStreamName=stream, logEvents=batch)
                except ClientError as exc:  # the group or stream went away (deleted, emulator reset)
                    if _code(exc) != "ResourceNotFoundException":
                        raise
                    self._ensure_stream(logs, spec, stream)
                    logs.put_log_events(logGroupName=spec.log_group, logStreamName=stream, logEvents=batch)
            return True
        except Exception as exc:  # the invocation's outcome stands even when its logs cannot be written
            self.log.warning("logs of %s not written (as %s): %s: %s", spec.name, spec.role, type(exc).__name__, exc)
            self.status.count("logs_not_written")
            self.status.error(f"logs of {spec.name} not written (as {spec.role}): {exc}")
        return False

    @staticmethod
    def _ensure_stream(logs: Any, spec: FunctionSpec, stream: str) -> None:
        try:
            logs.create_log_stream(logGroupName=spec.log_group, logStreamName=stream)
        except ClientError as exc:
            if _code(exc) == "ResourceAlreadyExistsException":
                return
            if _code(exc) != "ResourceNotFoundException":
                raise
            # AWS creates the group only when the role may (logs:CreateLogGroup)
            logs.create_log_group(logGroupName=spec.log_group)
            logs.create_log_stream(logGroupName=spec.log_group, logStreamName=stream)

    def put_metrics(self, spec: FunctionSpec, values: dict[str, tuple[float, str]]) -> None:
        data = [
            {
                "MetricName": name,
                "Dimensions": [{"Name": "FunctionName", "Value": spec.name}],
                "Timestamp": datetime.now(UTC),
                "Value": value,
                "Unit": unit,
            }
            for name, (value, unit) in values.items()
        ]
        try:
            self.client("cloudwatch", spec.region).put_metric_data(Namespace="AWS/Lambda", MetricData=data)
        except Exception as exc:  # metrics are best effort; the engine log says why they are missing
            self.log.warning("metrics of %s not put: %s: %s", spec.name, type(exc).__name__, exc)


def _clip(text: str) -> str:
    data = text.encode("utf-8")
    if len(data) <= _MAX_EVENT_BYTES:
        return text or " "
    return data[:_MAX_EVENT_BYTES].decode("utf-8", "ignore")


def _batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = [[]]
    size = 0
    for event in events:
        cost = len(event["message"].encode("utf-8")) + 26
        if batches[-1] and (size + cost > _MAX_BATCH_BYTES or len(batches[-1]) >= _MAX_BATCH_EVENTS):
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += cost
    return [b for b in batches if b]
