"""Engine ``lambda_runtime``: Lambda without Docker — the deployed zip run in a subprocess of the emulator.

AWS behaviour imitated:
- ``Invoke`` (RequestResponse) runs the function's code (the zip moto keeps) with the handler, environment,
  memory and timeout of its configuration, its role's credentials (AssumeRole, exported as AWS_ACCESS_KEY_ID /
  AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN), AWS_REGION, the AWS_LAMBDA_* variables and a context object;
  boto3 in the function reaches the emulator (AWS_ENDPOINT_URL, AWS_CA_BUNDLE). It returns the handler's
  result, or the error payload with ``X-Amz-Function-Error: Unhandled`` (exception, "Task timed out after
  N.NN seconds", "Runtime exited with error: signal: killed" on out-of-memory); ``LogType=Tail`` gives the
  last 4 KB of the log. ``InvocationType=Event`` answers 202 at once and queues the event (async_queue.py:
  retries, dead-letter queue, destinations); ``DryRun`` runs nothing. Reserved concurrency 0 (or used up)
  throttles: 429 TooManyRequestsException and the Throttles metric.
- Logs: the function's output with START / END / REPORT lines in ``/aws/lambda/<name>`` written as its role;
  metrics Invocations, Errors, Duration, Throttles (AWS/Lambda, FunctionName) — telemetry.py.
- S3 notifications (moto calls Invoke synchronously and swallows every error) become asynchronous
  invocations by s3.amazonaws.com, run only if the function's resource policy allows S3 for that bucket
  and account (``AWS:SourceArn`` / ``AWS:SourceAccount``) — policy.py.
- Layers: the zips of layers published to the emulator, ``python/`` on the path after the code. The managed
  AWS SDK for pandas layer (account 336392948345, which moto cannot hold) stands in as the emulator's own
  site-packages (pyarrow, numpy), which the function sees after its code and its real layers.

Not imitated (known gaps): warm execution environments (every invocation is a cold start in a new process,
so module globals do not survive between invocations; the log stream is reused as a warm one would be);
the init phase is limited to 10 s + Timeout in one go (AWS re-runs a timed-out init in the invoke phase);
memory is the resident set of the function's own process (children it forks are not counted), sampled every
20 ms; CPU is not scaled with MemorySize; the runtime is the emulator's Python (3.11), whatever ``Runtime``
says; container images (PackageType Image), function URLs, SnapStart, extensions and X-Ray are not run;
another account's layers other than the pandas one have no code here; VPC settings are ignored.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from typing import Any
from urllib.parse import quote_plus

from emulator.engines.lambda_runtime.async_queue import AsyncQueue
from emulator.engines.lambda_runtime.runtime import ENGINE, PayloadTooLarge, Runtime, ServiceError

_STATE: dict[str, Any] = {"runtime": None, "queue": None, "hooked": False}
_TAIL_BYTES = 4096
_SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
_ASYNC_PAYLOAD_LIMIT = 256 * 1024


def active() -> tuple[Runtime, AsyncQueue] | None:
    """The runtime of the installed engine host, or None (then moto's own behaviour stands)."""
    runtime, async_queue = _STATE["runtime"], _STATE["queue"]
    if runtime is None or runtime.stopped:
        return None
    return runtime, async_queue


def install(host: Any) -> None:
    runtime = Runtime(host)
    async_queue = AsyncQueue(runtime)
    _STATE.update(runtime=runtime, queue=async_queue)
    _hook_moto()
    async_queue.start()

    def tick() -> None:
        runtime.status.counters["async_pending"] = async_queue.pending()

    host.every(ENGINE, 5.0, tick)


def invoke_as_service(
    function_arn: str, event: Any, principal: str, source_arn: str, source_account: str
) -> str | None:
    """Queue an asynchronous invocation by an AWS service (``principal``, e.g. events.amazonaws.com), run only if
    the function's resource policy allows that service from ``source_arn`` / ``source_account``, as Lambda
    checks it. For other engines (EventBridge rules); returns the request id, or None when the engine is off."""
    engine = active()
    if engine is None:
        return None
    _, _, _, region, account, *_ = function_arn.split(":")
    source = {"principal": principal, "source_arn": source_arn, "source_account": source_account}
    return engine[1].submit(account, region, function_arn, json.dumps(event).encode(), source)


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None and isinstance(headers, dict):
        value = {k.lower(): v for k, v in headers.items()}.get(name.lower())
    return value


_SEQUENCER = {"last": 0}
_SEQUENCER_LOCK = threading.Lock()


def complete_s3_event(record: dict[str, Any], bucket: Any, key: Any) -> None:
    """Add what S3's event record has and moto's lacks: identities, request ids, versionId, sequencer; keys
    URL-encoded as S3 does (form encoding, ``/`` kept).

    AWS: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html — the
    sequencer is a hex string that grows with each event of a key (compare after left-padding)."""
    with _SEQUENCER_LOCK:
        _SEQUENCER["last"] = max(_SEQUENCER["last"] + 1, time.time_ns())
        sequencer = f"{_SEQUENCER['last']:018X}"
    owner = getattr(bucket, "account_id", "")
    record.setdefault("userIdentity", {"principalId": f"AWS:{owner}"})
    record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
    record.setdefault("responseElements", {"x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                                           "x-amz-id-2": base64.b64encode(os.urandom(48)).decode()})  # fmt: skip
    record["s3"]["bucket"].setdefault("ownerIdentity", {"principalId": owner})
    obj = record["s3"]["object"]
    obj["key"] = quote_plus(key.name, safe="/")  # AWS keeps the slashes; moto encodes them as %2F
    if getattr(bucket, "is_versioned", False) and getattr(key, "version_id", None) not in (None, "null"):
        obj["versionId"] = key.version_id
    obj["sequencer"] = sequencer


def _hook_moto() -> None:
    if _STATE["hooked"]:
        return
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda.responses import LambdaResponse
    from moto.s3 import notifications

    original_invoke = LambdaFunction.invoke
    original_s3_invoke = notifications._invoke_awslambda
    original_s3_event = notifications._get_s3_event

    def _get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = original_s3_event(event_name, bucket, key, notification_id)
        complete_s3_event(event["Records"][0], bucket, key)
        return event

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
        engine = active()
        if engine is None:
            return original_invoke(self, body, request_headers, response_headers)
        runtime, async_queue = engine
        payload = body.encode() if isinstance(body, str) else (body or b"")
        try:
            json.loads(payload or b"{}")
        except ValueError as exc:
            message = f"Could not parse request body into json: {exc}"
            raise LambdaClientError("InvalidRequestContentException", message) from None
        kind = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
        limit = _ASYNC_PAYLOAD_LIMIT if kind == "Event" else _SYNC_PAYLOAD_LIMIT
        if len(payload) > limit:
            raise PayloadTooLarge(len(payload), limit)
        if kind == "DryRun":
            return b""
        if kind == "Event":
            request_id = async_queue.submit(self.account_id, self.region, self.function_arn, payload or b"{}")
            response_headers["x-amzn-requestid"] = request_id
            return b""
        try:
            outcome = runtime.execute(self, payload or b"{}")
        except LambdaClientError:
            raise
        except Exception as exc:  # never a crash of the emulator: a service error the caller sees
            runtime.log.exception("invoke of %s: %s", self.function_name, exc)
            runtime.status.error(f"invoke of {self.function_name}: {type(exc).__name__}: {exc}")
            raise ServiceError(f"{type(exc).__name__}: {exc}") from exc
        if outcome.function_error:
            response_headers["x-amz-function-error"] = outcome.function_error
        text = "\n".join(line for _, line in outcome.logs).encode()
        response_headers["x-amz-log-result"] = base64.b64encode(text[-_TAIL_BYTES:]).decode()
        response_headers["x-amz-executed-version"] = str(self.version)
        response_headers["x-amzn-requestid"] = outcome.request_id
        return outcome.payload

    def _invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        engine = active()
        if engine is None:
            return original_s3_invoke(account_id, event_body, fn_arn, region_name)
        bucket_arn = event_body["Records"][0]["s3"]["bucket"]["arn"]
        source = {"principal": "s3.amazonaws.com", "source_arn": bucket_arn, "source_account": account_id}
        engine[1].submit(account_id, region_name, fn_arn, json.dumps(event_body).encode(), source)

    original_enrich = LambdaResponse._enrich_response

    def _enrich_response(headers: Any, body: Any) -> Any:
        # AWS: Invoke's x-amzn-RequestId is the invocation's request id (the context's aws_request_id, the
        # DLQ's RequestID attribute); moto replaces it by a random one on every response.
        request_id = headers.get("x-amzn-requestid") if isinstance(headers, dict) else None
        headers, body = original_enrich(headers, body)
        if request_id:
            headers["x-amzn-requestid"] = request_id
        return headers, body

    LambdaResponse._enrich_response = staticmethod(_enrich_response)
    LambdaFunction.invoke = invoke
    notifications._get_s3_event = _get_s3_event
    notifications._invoke_awslambda = _invoke_awslambda
    _STATE["hooked"] = True


__all__ = ["active", "install", "invoke_as_service"]
