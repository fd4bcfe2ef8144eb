"""Run one invocation of a function: its deployed zip in a subprocess of the emulator's Python, no Docker.

The zip moto keeps (``code_bytes``) is unpacked once per code hash under ``<run dir>/lambda/code/``; layers
of this emulator (their zips, ``python/`` folder) under ``<run dir>/lambda/layers/``. Layers of other
accounts cannot be held by moto: the managed AWS SDK for pandas layer (account 336392948345) stands in as
the emulator's own site-packages (pyarrow, numpy, boto3), which the subprocess sees after the function's
code and its real layers. ``Timeout`` counts from the end of the init phase (the handler's module
imported; init itself may take up to 10 s, as on AWS); ``MemorySize`` is enforced by watching the
resident set of the function's process every 20 ms and killing it above the limit (an address-space
limit, RLIMIT_AS, cannot be used: pyarrow and numpy reserve far more virtual memory than they use).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
PANDAS_LAYER_ACCOUNT = "336392948345"
INIT_LIMIT_S = 10.0
_POLL_S = 0.02


@dataclass
class FunctionSpec:
    """What an invocation needs of a function, read from moto's model at invoke time."""

    name: str
    arn: str
    version: str
    handler: str
    runtime: str
    role: str
    region: str
    account: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    code: bytes
    layers: list[tuple[str, bytes | None]] = field(default_factory=list)

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    @classmethod
    def from_moto(cls, fn: Any, layer_code: dict[str, bytes | None]) -> FunctionSpec:
        version = str(fn.version)
        return cls(
            name=fn.function_name,
            arn=fn.function_arn,
            version=version,
            handler=fn.handler or "",
            runtime=fn.run_time or "python3.12",
            role=fn.role,
            region=fn.region,
            account=fn.account_id,
            memory_mb=int(fn.memory_size or 128),
            timeout_s=int(fn.timeout or 3),
            environment={str(k): str(v) for k, v in (fn.environment_vars or {}).items()},
            code=getattr(fn, "code_bytes", b"") or b"",
            layers=[(layer["Arn"], layer_code.get(layer["Arn"])) for layer in fn.layers or []],
        )


@dataclass
class Outcome:
    """The result of one invocation, as Invoke reports it, and what the REPORT line says."""

    request_id: str
    payload: bytes
    function_error: str | None  # "Unhandled" when the function failed
    error_type: str | None
    error_message: str | None
    logs: list[tuple[int, str]]  # (epoch ms, message): START ... END, REPORT
    duration_ms: float
    max_memory_mb: int
    status: str  # success | error | timeout | oom


def _extract(data: bytes, target: Path) -> Path:
    """Unpack ``data`` (a zip) into ``target`` once; concurrent callers wait for the same result."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another invocation unpacked the same code first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def code_dir(cache: Path, code: bytes) -> Path:
    return _extract(code, cache / "code" / hashlib.sha256(code).hexdigest())


def layer_paths(cache: Path, spec: FunctionSpec, log: Any) -> list[str]:
    """``python/`` (and ``python/lib/python3.x/site-packages``) of each layer, in the function's order."""
    paths: list[str] = []
    for arn, data in spec.layers:
        if data is None:
            if arn.split(":")[4] != PANDAS_LAYER_ACCOUNT:
                log.warning("layer %s of %s: another account's layer, its code is not here", arn, spec.name)
            continue  # the managed pandas layer: the emulator's own site-packages stand in
        root = _extract(data, cache / "layers" / hashlib.sha256(data).hexdigest()) / "python"
        ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
        paths += [str(p) for p in (root / "lib" / ver / "site-packages", root) if p.is_dir()]
    return paths


def environment(
    spec: FunctionSpec, credentials: dict[str, Any], endpoint: str, ca_bundle: str | None, task_root: Path, stream: str
) -> dict[str, str]:
    """The process environment of the function: its variables, then the runtime's reserved ones."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "TMPDIR", "LD_LIBRARY_PATH")}
    env.update(spec.environment)
    env.update(
        {
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials.get("SessionToken", ""),
            "AWS_ENDPOINT_URL": endpoint,
            # the emulator host's ~/.aws files are not the function's
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    if not env["AWS_SESSION_TOKEN"]:
        del env["AWS_SESSION_TOKEN"]
    if ca_bundle:
        env["AWS_CA_BUNDLE"] = ca_bundle
    return env


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _peak_rss_mb(pid: int) -> int:
    """The high-water mark of the process's resident set (VmHWM: catches peaks between two samples)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _reader(stream: Any, sink: list[tuple[int, str]]) -> None:
    for raw in iter(stream.readline, b""):
        text = raw.decode("utf-8", "replace").rstrip("\n").replace("\r", "\n")
        sink.append((int(time.time() * 1000), text))
    stream.close()


def _control_reader(fd: int, sink: queue.Queue) -> None:
    with os.fdopen(fd, "rb") as stream:
        for raw in stream:
            try:
                sink.put(json.loads(raw))
            except ValueError:
                continue


def run(spec: FunctionSpec, event: bytes, env: dict[str, str], task_root: Path, request_id: str) -> Outcome:
    """Run the handler once in a new process (a cold start) and report the outcome with its log lines."""
    start_ms = int(time.time() * 1000)
    logs: list[tuple[int, str]] = [(start_ms, f"START RequestId: {request_id} Version: {spec.version}")]
    printed: list[tuple[int, str]] = []
    control: queue.Queue = queue.Queue()
    with tempfile.NamedTemporaryFile("wb", suffix=".json", prefix="event-") as event_file:
        event_file.write(event or b"{}")
        event_file.flush()
        read_fd, write_fd = os.pipe()
        env = {
            **env,
            "_SMARTSTREAM_CONTROL_FD": str(write_fd),
            "_SMARTSTREAM_EVENT_FILE": event_file.name,
            "_SMARTSTREAM_REQUEST_ID": request_id,
            "_SMARTSTREAM_FUNCTION_ARN": spec.arn,
            "_SMARTSTREAM_TIMEOUT_MS": str(spec.timeout_s * 1000),
        }
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-I", "-u", str(BOOTSTRAP)],
            cwd=task_root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
        os.close(write_fd)
        out_thread = threading.Thread(target=_reader, args=(proc.stdout, printed), daemon=True)
        ctl_thread = threading.Thread(target=_control_reader, args=(read_fd, control), daemon=True)
        out_thread.start()
        ctl_thread.start()
        deadline = started + INIT_LIMIT_S + spec.timeout_s
        invoke_started = answered = None
        outcome: dict[str, Any] | None = None
        status, peak_mb = "error", 0
        while True:
            peak_mb = max(peak_mb, _peak_rss_mb(proc.pid))
            pid, wait_status = os.waitpid(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(wait_status)
                break
            while not control.empty():
                message = control.get()
                peak_mb = max(peak_mb, message.get("max_memory_mb", 0))
                # When the child said it (not when this loop read it: both messages may arrive in one poll)
                at = message.get("at") or time.monotonic()
                if "init" in message:
                    invoke_started = at
                    deadline = invoke_started + spec.timeout_s
                else:
                    outcome, answered = message, at
            if peak_mb > spec.memory_mb:
                status = "oom"
            elif time.monotonic() >= deadline:
                status = "timeout"
            if status in ("oom", "timeout"):
                _kill(proc)
                os.waitpid(proc.pid, 0)
                proc.returncode = -signal.SIGKILL
                break
            time.sleep(_POLL_S)
        ended = time.monotonic()
        _kill(proc)  # whatever the function left running in its session goes with it
        out_thread.join(2)
        ctl_thread.join(2)
        while not control.empty():
            message = control.get()
            peak_mb = max(peak_mb, message.get("max_memory_mb", 0))
            if "init" in message:
                invoke_started = invoke_started or message.get("at")
            else:
                outcome, answered = message, message.get("at") or answered
    logs += sorted(printed, key=lambda item: item[0])
    duration_ms = ((answered or ended) - (invoke_started or started)) * 1000
    max_mb = peak_mb
    error_type = error_message = None
    if status == "timeout":
        error_message = (
            f"{_stamp(int(time.time() * 1000))} {request_id} Task timed out after {spec.timeout_s:.2f} seconds"
        )
        payload = json.dumps({"errorMessage": error_message}).encode()
        logs.append((int(time.time() * 1000), error_message))
        duration_ms = spec.timeout_s * 1000.0
    elif status == "oom" or outcome is None:
        how = "signal: killed" if status == "oom" or proc.returncode < 0 else f"exit status {proc.returncode}"
        if status == "oom":
            max_mb = spec.memory_mb
        error_type, error_message = (
            "Runtime.ExitError",
            f"RequestId: {request_id} Error: Runtime exited with error: {how}",
        )
        payload = json.dumps({"errorType": error_type, "errorMessage": error_message}).encode()
        logs.append((int(time.time() * 1000), f"{error_message}\n{error_type}"))
    elif "error" in outcome:
        status = "error"
        error_type, error_message = outcome["error"]["errorType"], outcome["error"]["errorMessage"]
        payload = json.dumps(outcome["error"]).encode()
    else:
        status = "success"
        payload = outcome["result"].encode()
    now_ms = int(time.time() * 1000)
    billed = int(-(-duration_ms // 1))
    init_ms = ((invoke_started or ended) - started) * 1000
    logs.append((now_ms, f"END RequestId: {request_id}"))
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed} ms\t"
        f"Memory Size: {spec.memory_mb} MB\tMax Memory Used: {max_mb} MB\tInit Duration: {init_ms:.2f} ms\t"
    )
    if status in ("timeout", "oom"):
        report += "Status: " + ("timeout" if status == "timeout" else "error\tError Type: Runtime.OutOfMemory")
    logs.append((now_ms, report.rstrip("\t")))
    return Outcome(
        request_id=request_id,
        payload=payload,
        function_error=None if status == "success" else "Unhandled",
        error_type=error_type,
        error_message=error_message,
        logs=logs,
        duration_ms=duration_ms,
        max_memory_mb=max_mb,
        status=status,
    )


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
