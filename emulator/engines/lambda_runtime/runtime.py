"""One invocation end to end: concurrency, the role's credentials, the subprocess, logs, metrics, status."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from threading import Lock
from typing import Any

from moto.awslambda.exceptions import LambdaClientError

from emulator.engines.lambda_runtime import invoke
from emulator.engines.lambda_runtime.invoke import FunctionSpec, Outcome
from emulator.engines.lambda_runtime.telemetry import Telemetry

ENGINE = "lambda_runtime"


class Throttled(LambdaClientError):
    """Invoke of a function whose reserved concurrency is used up (0: always)."""

    code = 429

    def __init__(self, name: str) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        self.description = (
            '{"__type": "TooManyRequestsException", "message": "Rate Exceeded.", '
            '"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User"}'
        )
        self.function = name


class PayloadTooLarge(LambdaClientError):
    """Invoke with an event over the limit: 6 MB synchronous, 256 KB asynchronous."""

    code = 413

    def __init__(self, size: int, limit: int) -> None:
        message = f"{size} byte payload is too large for the Invoke operation (limit {limit} bytes)"
        super().__init__("RequestEntityTooLargeException", message)


class ServiceError(LambdaClientError):
    """Lambda could not run the function (its role cannot be assumed, its code cannot be unpacked)."""

    code = 500

    def __init__(self, message: str) -> None:
        super().__init__("ServiceException", message)


class Runtime:
    """Runs invocations for the engine host; shared by Invoke (synchronous) and the asynchronous queue."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.ctx = host.ctx
        self.log = host.logger(ENGINE)
        self.status = host.status(ENGINE)
        self.cache = host.ctx.run_dir / "lambda"
        self.telemetry = Telemetry(self.client, self.log, self.status)
        self._running: Counter[str] = Counter()
        self._lock = Lock()
        self._clients: dict[tuple, tuple[Any, Any]] = {}

    def client(self, service: str, region: str, role: str | None = None, session: str = "lambda") -> Any:
        """A client of the emulator as the Lambda service (``role`` None) or as ``role``; reused while valid."""
        credentials = self.ctx.assume(role, session, region) if role else None
        key = (service, region, role)
        with self._lock:
            cached = self._clients.get(key)
            if cached and cached[0] is credentials:
                return cached[1]
        made = self.ctx.client(service, region, credentials)
        with self._lock:
            self._clients[key] = (credentials, made)
        return made

    @property
    def stopped(self) -> bool:
        return self.host._stop.is_set()

    def _acquire(self, fn: Any) -> bool:
        reserved = getattr(fn, "reserved_concurrency", None)
        key = f"{fn.account_id}:{fn.region}:{fn.function_name}"
        with self._lock:
            if reserved is not None and self._running[key] >= int(reserved):
                return False
            self._running[key] += 1
            return True

    def _release(self, fn: Any) -> None:
        with self._lock:
            self._running[f"{fn.account_id}:{fn.region}:{fn.function_name}"] -= 1

    def throttle(self, spec: FunctionSpec) -> None:
        self.status.count("throttles")
        self.telemetry.put_metrics(spec, {"Throttles": (1, "Count")})

    def execute(self, fn: Any, event: bytes, request_id: str | None = None) -> Outcome:
        """Run ``fn`` (moto's model) on ``event``; raises Throttled or ServiceError as Invoke would fail."""
        spec = FunctionSpec.from_moto(fn, self._layer_code(fn))
        if not self._acquire(fn):
            self.throttle(spec)
            raise Throttled(spec.name)
        request_id = request_id or str(uuid.uuid4())
        stream = self.telemetry.acquire_stream(spec)
        try:
            try:
                task_root = invoke.code_dir(self.cache, spec.code)
                layers = invoke.layer_paths(self.cache, spec, self.log)
                credentials = self.ctx.assume(spec.role, spec.name, spec.region)
            except Exception as exc:
                self.status.error(f"{spec.name}: {type(exc).__name__}: {exc}")
                self.log.error("cannot run %s: %s: %s", spec.name, type(exc).__name__, exc)
                raise ServiceError(f"Lambda could not run {spec.name}: {exc}") from exc
            env = invoke.environment(spec, credentials, self.ctx.endpoint_url, self.ctx.ca_bundle, task_root, stream)
            env["_SMARTSTREAM_LAYER_PATHS"] = ":".join(layers)
            outcome = invoke.run(spec, event, env, task_root, request_id)
        finally:
            self._release(fn)
        self.telemetry.write_logs(spec, stream, outcome.logs)
        self.telemetry.release_stream(spec, stream)
        failed = outcome.function_error is not None
        self.telemetry.put_metrics(
            spec,
            {
                "Invocations": (1, "Count"),
                "Errors": (1 if failed else 0, "Count"),
                "Duration": (round(outcome.duration_ms, 2), "Milliseconds"),
            },
        )
        self.status.count("invocations")
        self.status.count("errors" if failed else "successes")
        what = f"{spec.name} {request_id}: {outcome.status} in {outcome.duration_ms:.0f} ms, {outcome.max_memory_mb} MB"
        self.status.action(what)
        if failed:
            self.status.error(f"{spec.name} {request_id}: {outcome.error_type or 'timeout'}: {outcome.error_message}")
            self.log.warning("%s; %s", what, outcome.error_message)
        else:
            self.log.info(what)
        self.host.write_status(ENGINE)
        return outcome

    @staticmethod
    def _layer_code(fn: Any) -> dict[str, bytes | None]:
        from moto.awslambda.models import lambda_backends

        backend = lambda_backends[fn.account_id][fn.region]
        found: dict[str, bytes | None] = {}
        for layer in fn.layers or []:
            arn = layer["Arn"]
            version = backend.layers_versions_by_arn(arn) if arn.split(":")[4] == fn.account_id else None
            found[arn] = getattr(version, "code_bytes", None) or None
        return found


def now_ms() -> int:
    return int(time.time() * 1000)
