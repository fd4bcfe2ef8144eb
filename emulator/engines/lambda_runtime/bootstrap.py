"""The code run inside a function's subprocess: the local stand-in for Lambda's Python runtime (awslambdaric).

Run as ``python -I -u bootstrap.py`` by ``invoke.py`` with the function's environment, its unpacked code
as the working directory. It puts the code (``LAMBDA_TASK_ROOT``) and the layers' ``python/`` folders first
on ``sys.path`` (the interpreter's own site-packages stay after them: they stand in for the runtime's boto3
and the managed AWS SDK for pandas layer), installs the runtime's log format on the root logger, imports
the handler (``_HANDLER``, ``module.function``), calls it with the event and a context, and reports on
the control pipe (file descriptor ``_SMARTSTREAM_CONTROL_FD``), one JSON line each:
``{"init": {"deadline_ms": ...}}`` once the module is imported, then ``{"result": "<json>"}`` or
``{"error": {...}}``. Errors have the shape and types of awslambdaric (Runtime.ImportModuleError,
Runtime.HandlerNotFound, Runtime.MalformedHandlerName, Runtime.MarshalError, the exception's own name).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
import traceback
from typing import Any

_PRIVATE = ("_SMARTSTREAM_CONTROL_FD", "_SMARTSTREAM_EVENT_FILE", "_SMARTSTREAM_LAYER_PATHS")
_PRIVATE += ("_SMARTSTREAM_REQUEST_ID", "_SMARTSTREAM_FUNCTION_ARN", "_SMARTSTREAM_TIMEOUT_MS")


class LambdaContext:
    """The context object of the Python runtime."""

    def __init__(self, request_id: str, function_arn: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name}])"


class _LambdaLogHandler(logging.Handler):
    """``[LEVEL]\\t<time>Z\\t<request id>\\t<message>``, one log event per record (newlines sent as \\r)."""

    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        text = f"[{record.levelname}]\t{stamp}\t{self.request_id}\t{self.format(record)}"
        _emit_event(text)


def _emit_event(text: str) -> None:
    sys.__stdout__.write(text.replace("\r\n", "\r").replace("\n", "\r") + "\n")
    sys.__stdout__.flush()


def _error(message: str, error_type: str, request_id: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack or []}


def _log_error(error: dict[str, Any]) -> None:
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(frame.rstrip("\n") for frame in error["stackTrace"])
    _emit_event("\n".join(lines))


def _load_handler(handler: str, request_id: str) -> tuple[Any, dict[str, Any] | None]:
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        return None, _error(f"Bad handler '{handler}': {exc}", "Runtime.MalformedHandlerName", request_id)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return None, _error(f"Unable to import module '{module_name}': {exc}", "Runtime.ImportModuleError", request_id)
    except SyntaxError as exc:
        message = f"Syntax error in module '{module_name}': {exc}"
        return None, _error(message, "Runtime.UserCodeSyntaxError", request_id)
    except Exception as exc:  # an error at import time is an init error of the function
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        return None, _error(str(exc), type(exc).__name__, request_id, stack)
    function = getattr(module, function_name, None)
    if function is None:
        return None, _error(
            f"Handler '{function_name}' missing on module '{module_name}'", "Runtime.HandlerNotFound", request_id
        )
    return function, None


def _peak_rss_mb() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            return next(int(line.split()[1]) // 1024 for line in handle if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return 0


def main() -> None:
    control = os.fdopen(int(os.environ["_SMARTSTREAM_CONTROL_FD"]), "w", buffering=1)
    request_id = os.environ["_SMARTSTREAM_REQUEST_ID"]
    function_arn = os.environ["_SMARTSTREAM_FUNCTION_ARN"]
    timeout_ms = int(os.environ["_SMARTSTREAM_TIMEOUT_MS"])
    with open(os.environ["_SMARTSTREAM_EVENT_FILE"], encoding="utf-8") as handle:
        event = json.load(handle)
    layers = [p for p in os.environ.get("_SMARTSTREAM_LAYER_PATHS", "").split(os.pathsep) if p]
    for name in _PRIVATE:
        os.environ.pop(name, None)
    # The function's code first, then its layers, then the interpreter's own paths (the runtime and the
    # stand-in of the managed pandas layer): as /var/task, /opt/python... then /var/runtime on AWS.
    sys.path[:0] = [os.environ["LAMBDA_TASK_ROOT"], *layers]
    logging.getLogger().addHandler(_LambdaLogHandler(request_id))

    def send(message: dict[str, Any]) -> None:
        message["max_memory_mb"] = _peak_rss_mb()
        message["at"] = time.monotonic()  # CLOCK_MONOTONIC is system-wide: the runtime measures Duration from it
        control.write(json.dumps(message) + "\n")
        control.flush()

    function, error = _load_handler(os.environ["_HANDLER"], request_id)
    deadline_ms = int(time.time() * 1000) + timeout_ms
    send({"init": {"deadline_ms": deadline_ms}})
    if error is None:
        try:
            result = function(event, LambdaContext(request_id, function_arn, deadline_ms))
        except Exception as exc:
            stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
            error = _error(str(exc), type(exc).__name__, request_id, stack)
        else:
            try:
                send({"result": json.dumps(result)})
                return
            except (TypeError, ValueError) as exc:
                error = _error(f"Unable to marshal response: {exc}", "Runtime.MarshalError", request_id)
    _log_error(error)
    send({"error": error})


if __name__ == "__main__":
    main()
