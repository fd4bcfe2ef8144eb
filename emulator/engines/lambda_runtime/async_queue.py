"""Asynchronous invocations (InvocationType=Event, S3 notifications, EventBridge targets): queue, retries, DLQ.

As Lambda: the caller gets 202 at once; the event waits in the function's queue and two workers (this
machine has two cores) run it. A function error (timeout and out-of-memory included) is retried
``MaximumRetryAttempts`` times (EventInvokeConfig, default 2) after ~1 min then ~2 min, scaled down here by
``TIME_SCALE`` (default 1/60: 1 s then 2 s; ``SMARTSTREAM_LAMBDA_ASYNC_TIME_SCALE`` changes it); a
throttled event (reserved concurrency used up, 0: always) goes back to the queue without using a retry.
An event older than ``MaximumEventAgeInSeconds`` (default 6 h, scaled alike) is not run again. A failed
event then goes to the function's DeadLetterConfig target (SQS SendMessage / SNS Publish of the event,
attributes RequestID, ErrorCode, ErrorMessage) and to the on-failure destination of its
EventInvokeConfig (SQS, SNS or Lambda: an invocation record), both as the function's role; a successful
one to the on-success destination. Events from a service (S3) are run only when the function's resource
policy allows that service (``source``); otherwise they are dropped as S3 drops them (the engine log and
the status say so). Gaps: no batching of events; ordering between workers is not guaranteed (neither is
it on AWS); the queue is in memory (lost when the emulator stops, as nothing is persisted).
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator.engines.lambda_runtime import policy
from emulator.engines.lambda_runtime.runtime import Runtime, ServiceError, Throttled

TIME_SCALE = float(os.environ.get("SMARTSTREAM_LAMBDA_ASYNC_TIME_SCALE", str(1 / 60)))
RETRY_DELAYS_S = (60.0, 120.0)  # AWS: about one minute, then two
THROTTLE_DELAY_S = 60.0
DEFAULT_MAX_AGE_S = 21600
WORKERS = 2


@dataclass(order=True)
class AsyncEvent:
    due: float
    seq: int
    account: str = field(compare=False)
    region: str = field(compare=False)
    function_arn: str = field(compare=False)
    payload: bytes = field(compare=False)
    request_id: str = field(compare=False, default_factory=lambda: str(uuid.uuid4()))
    received: float = field(compare=False, default_factory=time.time)
    attempts: int = field(compare=False, default=0)
    source: dict[str, str] | None = field(compare=False, default=None)  # principal, source_arn, source_account


class AsyncQueue:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._heap: list[AsyncEvent] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for n in range(WORKERS):
            thread = threading.Thread(target=self._work, name=f"engine-lambda_runtime-async-{n}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def submit(self, account: str, region: str, function_arn: str, payload: bytes, source: dict | None = None) -> str:
        event = AsyncEvent(time.monotonic(), next(self._seq), account, region, function_arn, payload, source=source)
        self._push(event)
        self.runtime.status.count("async_received")
        return event.request_id

    def clear(self) -> None:
        with self._cv:
            self._heap.clear()

    def pending(self) -> int:
        with self._cv:
            return len(self._heap)

    def _push(self, event: AsyncEvent) -> None:
        with self._cv:
            heapq.heappush(self._heap, event)
            self._cv.notify()

    def _next(self) -> AsyncEvent | None:
        with self._cv:
            while not self.runtime.stopped:
                now = time.monotonic()
                if self._heap and self._heap[0].due <= now:
                    return heapq.heappop(self._heap)
                self._cv.wait(min(0.5, self._heap[0].due - now) if self._heap else 0.5)
        return None

    def _work(self) -> None:
        while (event := self._next()) is not None:
            try:
                self._run(event)
            except Exception as exc:  # an engine error is visible, never fatal to the worker, never loses the event
                self.runtime.log.exception("async event %s of %s: %s", event.request_id, event.function_arn, exc)
                self.runtime.status.error(f"async {event.function_arn}: {type(exc).__name__}: {exc}")
                if time.time() - event.received > DEFAULT_MAX_AGE_S * TIME_SCALE:
                    self.runtime.log.error(
                        "async event %s of %s discarded: too old", event.request_id, event.function_arn
                    )
                    continue
                event.due = time.monotonic() + THROTTLE_DELAY_S * TIME_SCALE  # again later; its age still counts
                self._push(event)

    def _run(self, event: AsyncEvent) -> None:
        from moto.awslambda.models import lambda_backends

        try:
            fn = lambda_backends[event.account][event.region].get_function(event.function_arn)
        except Exception:  # deleted (or the emulator was reset): AWS discards the events of a deleted function
            self.runtime.log.info("async event %s dropped: %s no longer exists", event.request_id, event.function_arn)
            return
        lam = self.runtime.client("lambda", event.region)
        if event.source and event.attempts == 0 and not self._allowed(lam, fn, event.source):
            self.runtime.status.count("denied_by_resource_policy")
            self.runtime.status.error(f"{event.source['principal']} may not invoke {fn.function_name}")
            self.runtime.log.warning(
                "%s (source %s) may not invoke %s: its resource policy does not allow it; event dropped",
                event.source["principal"],
                event.source.get("source_arn"),
                fn.function_arn,
            )
            return
        config = _invoke_config(lam, event.function_arn)
        config["DeadLetterTarget"] = (
            lam.get_function_configuration(FunctionName=event.function_arn).get("DeadLetterConfig") or {}
        ).get("TargetArn")
        max_retries = int(config.get("MaximumRetryAttempts", 2))
        max_age = float(config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_S)) * TIME_SCALE
        if time.time() - event.received > max_age:
            self._failed(fn, config, event, None, "EventAgeExceeded")
            return
        try:
            outcome = self.runtime.execute(fn, event.payload, event.request_id)
        except Throttled:
            event.due = time.monotonic() + THROTTLE_DELAY_S * TIME_SCALE
            self._push(event)
            return
        except ServiceError as exc:
            outcome = None
            self.runtime.log.warning("async event %s of %s: %s", event.request_id, fn.function_name, exc)
        event.attempts += 1
        if outcome is not None and outcome.function_error is None:
            self._destination(fn, config, "OnSuccess", event, outcome, "Success")
            return
        if event.attempts <= max_retries:
            delay = RETRY_DELAYS_S[min(event.attempts, len(RETRY_DELAYS_S)) - 1] * TIME_SCALE
            self.runtime.status.count("async_retries")
            self.runtime.log.info("async event %s of %s: retry %d in %.1f s", event.request_id, fn.function_name,
                                  event.attempts, delay)  # fmt: skip
            event.due = time.monotonic() + delay
            self._push(event)
            return
        self._failed(fn, config, event, outcome, "RetriesExhausted")

    @staticmethod
    def _allowed(lam: Any, fn: Any, source: dict[str, str]) -> bool:
        try:
            document = json.loads(lam.get_policy(FunctionName=fn.function_arn)["Policy"])
        except lam.exceptions.ResourceNotFoundException:
            return False  # no resource policy: no service may invoke the function
        return policy.allows(document, source["principal"], "lambda:InvokeFunction", fn.function_arn, source)

    def _failed(self, fn: Any, config: dict, event: AsyncEvent, outcome: Any, condition: str) -> None:
        self.runtime.status.count("async_failed")
        message = (outcome.error_message if outcome else None) or condition
        dlq = config.get("DeadLetterTarget")
        if dlq:
            attributes = {
                "RequestID": {"DataType": "String", "StringValue": event.request_id},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {
                    "DataType": "String",
                    "StringValue": message.encode()[:1024].decode("utf-8", "ignore"),
                },
            }
            body = event.payload.decode("utf-8", "replace")
            if self._send(fn, dlq, body, attributes):
                self.runtime.status.count("dead_lettered")
                self.runtime.status.action(f"{fn.function_name} {event.request_id}: sent to {dlq}")
            else:
                self.runtime.telemetry.put_metrics(_spec(fn), {"DeadLetterErrors": (1, "Count")})
        self._destination(fn, config, "OnFailure", event, outcome, condition)
        if not dlq and not (config.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination"):
            self.runtime.log.warning("async event %s of %s discarded after %d attempts (%s): no DLQ or destination",
                                     event.request_id, fn.function_name, event.attempts, condition)  # fmt: skip

    def _destination(self, fn: Any, config: dict, kind: str, event: AsyncEvent, outcome: Any, condition: str) -> None:
        target = ((config.get("DestinationConfig") or {}).get(kind) or {}).get("Destination")
        if not target:
            return
        response = json.loads(outcome.payload) if outcome and outcome.payload else None
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": f"{fn.function_arn}:$LATEST" if str(fn.version) == "$LATEST" else fn.function_arn,
                "condition": condition,
                "approximateInvokeCount": event.attempts,
            },
            "requestPayload": _json_or_text(event.payload),
            "responseContext": {"statusCode": 200, "executedVersion": str(fn.version)},
            "responsePayload": response,
        }
        if outcome is not None and outcome.function_error:
            record["responseContext"]["functionError"] = outcome.function_error
        if self._send(fn, target, json.dumps(record), {}):
            self.runtime.status.count(f"destination_{kind}")

    def _send(self, fn: Any, target: str, body: str, attributes: dict[str, Any]) -> bool:
        """Send to an SQS queue, SNS topic or Lambda function as the function's role."""
        service, region, account = target.split(":")[2], target.split(":")[3], target.split(":")[4]
        try:
            client = self.runtime.ctx.client_as(fn.role, service, region, session=fn.function_name)
            if service == "sqs":
                # by ARN, as Lambda sends: the role needs sqs:SendMessage only (no GetQueueUrl)
                url = f"{self.runtime.ctx.endpoint_url}/{account}/{target.split(':')[5]}"
                client.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
            elif service == "sns":
                client.publish(TopicArn=target, Message=body, MessageAttributes=attributes)
            elif service == "lambda":
                client.invoke(FunctionName=target, InvocationType="Event", Payload=body.encode())
            else:
                raise ValueError(f"unsupported target {target}")
            return True
        except Exception as exc:  # visible: the engine log, the status and DeadLetterErrors
            self.runtime.status.error(f"{fn.function_name}: sending to {target}: {exc}")
            self.runtime.log.error("%s: sending to %s as %s failed: %s", fn.function_name, target, fn.role, exc)
            return False


def _invoke_config(lam: Any, function_arn: str) -> dict[str, Any]:
    """The function's EventInvokeConfig (retries, event age, destinations), read through the API."""
    try:
        return lam.get_function_event_invoke_config(FunctionName=function_arn)
    except lam.exceptions.ResourceNotFoundException:
        return {}


def _json_or_text(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


def _spec(fn: Any) -> Any:
    from emulator.engines.lambda_runtime.invoke import FunctionSpec

    return FunctionSpec.from_moto(fn, {})
