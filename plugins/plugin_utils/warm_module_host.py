# Copyright (c) 2026 smartstream contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module host: runs pipelined AnsiballZ payloads in forks of one warm interpreter.

Used by the ``smartstream.pipeline.warm_local`` connection. Every AWS module
task on the controller otherwise starts a new Python, imports boto3 (~0.2 s)
and parses botocore's JSON data files for its client (~0.15 s) before its
first API call; a no-op converge pays that ~130 times. This host is started
once per ``ansible-playbook`` run, imports boto3 and loads the data files of
the platform's services once, then runs each payload in a fork of itself. It
listens as soon as the first module's service is loaded (``FIRST_SERVICES``)
and loads the others while it waits for modules; the spare forked before that
is then retired for one forked from the warm host:

* the fork is a fresh process per module run, as a subprocess is: its exit,
  globals, signals, environment and working directory die with it, and it
  gets the worker's environment and working directory, an empty stdin and its
  own stdout/stderr, which are sent back with the exit status;
* the payload is the same AnsiballZ wrapper the local connection would pipe
  to ``python``, run as ``__main__``;
* named changes to botocore, in this host and its forks only
  (``warm_botocore.py``): sessions share one data loader per data path, the
  operation methods of a service's client class, and the checks of the
  built-in event handlers, so that a module's session and client (~22 ms
  each in a cold fork) find that work done. Each is a memo of a result that
  depends only on botocore's code and data;
* the host's objects are frozen out of the garbage collector before it
  serves (``gc.freeze``), as Python's documentation advises for a process
  that forks without exec: a fork's collections then do not walk, and copy,
  the host's pages;
* the Python files of a payload are compiled once per run: a module's fork
  imports them from the payload's zip, which has no bytecode, so every module
  compiled the same ~50 module_utils files again (~25 ms a module run). The
  forks keep what they compile, by the SHA of its source, in a folder beside
  the host's socket (``<controller pid>.code``, private to the user, removed
  with the host) and load it from there when the source is the same; the code
  gets the importing file's name, as a fresh compile would.

* the forks are made ahead: a spare handler (a fork of the host) waits for
  the next connection with its module's process (a fork of it) already
  waiting for the request, and the host forks the next spare as soon as one
  takes a connection; a module's process says how it ended before its memory
  is torn down. Neither fork nor teardown is on a module run's path (~7 ms of
  each of the ~80 module runs of a no-op converge).

The host serves one controller: it listens on a Unix socket in a directory
only its user can enter and exits when the controller process is gone or it
has been idle for ``IDLE_EXIT_S``; its spares see it go (the end of a pipe
they share) and go too.

This file is run as a script (``python warm_module_host.py SOCKET PID``) and
imports nothing from the collection, so that it starts without a collection
loader; ``warm_botocore.py`` beside it is loaded by its path.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import hashlib
import importlib.util
import io
import json
import marshal
import os
import selectors
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
import traceback
import types
import zipimport

IDLE_EXIT_S = 900
# The services of the platform; their data files are parsed by the host, so that no module run parses
# them again. Any other service still works and is parsed in its module's fork. The first ones are warmed
# before the host listens (the first module of a converge reads the caller identity); the others while it
# waits for modules, so that the first module does not wait for all of them (~0.5 s).
FIRST_SERVICES = ("sts",)
WARM_SERVICES = (
    "sts",
    "kms",
    "ec2",
    "logs",
    "iam",
    "secretsmanager",
    "lambda",
    "s3",
    "rds",
    "dms",
    "kinesis",
    "firehose",
    "sqs",
    "events",
    "glue",
    "athena",
    "sns",
    "cloudwatch",
)
# What every module run imported from outside its payload (ansible-core and its
# dependencies, which the wrapper's first import already takes from the host's
# ansible-core): imported once here instead of in each fork (~5 ms a run).
WARM_IMPORTS = (
    "ansible.module_utils.basic",  # the wrapper's first import
    "ansible.module_utils._internal._ansiballz._loader",
    "ansible.module_utils._internal._json._profiles._module_legacy_c2m",
    "ansible.module_utils._internal._json._profiles._module_legacy_m2c",
    "ansible.module_utils._text",
    "ansible.module_utils.ansible_release",
    "ansible.module_utils.common.dict_transformations",
    "ansible.module_utils.common.network",
    "encodings.cp437",  # zipfile's name decoding
    "packaging.version",  # amazon.aws compares boto versions with it
)
_HEADER = struct.Struct("!Q")
# zipimport's compile of a file without bytecode (CPython 3.8+); without it, forks compile as usual.
_zip_compile = getattr(zipimport, "_compile_source", None)
_code_folder: str | None = None  # set by serve(): the run's compiled payload files
_fork_codes: dict[tuple[str, str], types.CodeType] = {}  # (file, source SHA) -> code, in one fork


def send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def recv_frame(sock: socket.socket) -> bytes:
    size = _HEADER.unpack(_recv_exact(sock, _HEADER.size))[0]
    return _recv_exact(sock, size)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("module host closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def warm_up():
    """Import boto3 and what every module run imports, once, before forking; the session to warm services with."""
    spec = importlib.util.spec_from_file_location(
        "_smartstream_warm_botocore", os.path.join(os.path.dirname(os.path.abspath(__file__)), "warm_botocore.py")
    )
    warm_botocore = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(warm_botocore)
    warm_botocore.share_all()

    import boto3

    for name in WARM_IMPORTS:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    return boto3.session.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def warm_service(session, service: str) -> None:
    """Build a client of the service: its data files, paginators and waiters are parsed for every later fork."""
    client = session.client(service)
    client.can_paginate(next(iter(client.meta.method_to_api_mapping)))  # parses the service's paginators
    client.waiter_names  # noqa: B018 - parses the service's waiters
    gc.freeze()  # what the host holds now stays out of the forks' collections


class ModuleProcess:
    """A module's process, forked before its request arrives: ``run()`` hands it the request, returns its result.

    The fork (a copy of the host's page tables, ~3 ms) is made while the host
    waits for the next connection, and the result is sent as soon as the
    payload has ended, before the process's memory is torn down (~4 ms more):
    neither is on a module run's path. The process gets its request over a
    socket pair and says how it ended over it (``{"exit": status}``); one that
    ends otherwise (``os._exit`` in the payload, a signal) closes the pair
    instead, and its status is the one ``waitpid`` gives, as before.
    """

    def __init__(self, close_in_child: tuple[int, ...] = ()) -> None:
        self._out = _memory_file("stdout")
        self._err = _memory_file("stderr")
        module_end, self._handler_end = socket.socketpair()
        self.pid = os.fork()
        if self.pid == 0:  # the module's process: never returns
            status = 1
            try:
                self._handler_end.close()
                for descriptor in close_in_child:  # the handler's, not the module's
                    os.close(descriptor)
                status = _await_and_run(module_end, self._out, self._err)
            finally:
                os._exit(status)
        module_end.close()

    def run(self, request: bytes, code: bytes) -> tuple[int, bytes, bytes]:
        """Run the payload (``request`` is the JSON of env, cwd, umask, interpreter); (rc, stdout, stderr)."""
        try:
            send_frame(self._handler_end, request)
            send_frame(self._handler_end, code)
            rc = _exit_code(json.loads(recv_frame(self._handler_end))["exit"])
        except (OSError, ValueError, KeyError, TypeError):  # it ended without saying so: as waitpid tells
            rc = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        self._out.seek(0)
        self._err.seek(0)
        return rc, self._out.read(), self._err.read()

    def close(self) -> None:
        """Let the process go (without a request it exits) and reap it."""
        self._handler_end.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self._out.close()
        self._err.close()


def run_payload(request: dict, code: bytes) -> tuple[int, bytes, bytes]:
    """Fork, run the wrapper in the child as a fresh ``__main__``, return (rc, stdout, stderr)."""
    process = ModuleProcess()
    try:
        return process.run(json.dumps(request).encode(), code)
    finally:
        process.close()


def _await_and_run(module_end: socket.socket, out, err) -> int:
    """In a module's process: wait for the request, run it, say how it ended; the exit status."""
    try:
        request = json.loads(recv_frame(module_end))
        code = recv_frame(module_end)
    except (OSError, ValueError):  # no request: the host or its handler has gone
        return 0
    status = 1
    try:
        status = _child(request, code, out, err)
    finally:
        # The output is complete: whatever still runs in this process writes nowhere from here, as after an exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with contextlib.suppress(OSError):
            send_frame(module_end, json.dumps({"exit": status}).encode())
    return status


def _exit_code(status: int) -> int:
    """The exit code a process gets for ``os._exit(status)``."""
    return status & 0xFF


def _memory_file(name: str):
    """A file in memory only (a module's output may hold a secret: it never reaches a disk)."""
    if hasattr(os, "memfd_create"):
        return os.fdopen(os.memfd_create(f"warm-module-{name}", os.MFD_CLOEXEC), "w+b")
    return tempfile.TemporaryFile()  # no memfd (not Linux): an unlinked file, private to this user


def _compile_once(pathname: str, source: bytes) -> types.CodeType:
    """zipimport's compile of a payload file, kept by its source's SHA for the other module runs.

    zipimport compiles a file twice per import (for its spec's file name, then
    for its code); within one fork the second time gets the first one's code.
    """
    digest = hashlib.sha256(source).hexdigest()
    code = _fork_codes.get((pathname, digest))
    if code is None:
        code = _fork_codes[pathname, digest] = _kept_or_compiled(pathname, source, digest)
    return code


def _kept_or_compiled(pathname: str, source: bytes, digest: str) -> types.CodeType:
    path = os.path.join(_code_folder, digest)
    with contextlib.suppress(OSError, ValueError, EOFError, TypeError), open(path, "rb") as handle:
        return _renamed(marshal.loads(handle.read()), pathname)
    code = _zip_compile(pathname, source)
    part = f"{path}.{os.getpid()}"
    with contextlib.suppress(OSError):
        with open(part, "wb") as handle:
            handle.write(marshal.dumps(code))
        os.replace(part, path)
    return code


def _renamed(code: types.CodeType, filename: str) -> types.CodeType:
    consts = tuple(_renamed(c, filename) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def _child(request: dict, code: bytes, out, err) -> int:
    if _code_folder is not None and _zip_compile is not None:
        zipimport._compile_source = _compile_once
    for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGALRM):
        signal.signal(signum, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    # Fresh streams on the redirected descriptors, as a new interpreter has.
    encoding = getattr(sys.__stdout__, "encoding", None) or "utf-8"
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding=encoding)
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=encoding)
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding=encoding, errors="backslashreplace", line_buffering=True
    )
    sys.argv = [request["interpreter"]]
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = main
    status = 0
    try:
        exec(compile(code, "<AnsiballZ>", "exec"), main.__dict__)  # the payload, as `python -` runs it
    except SystemExit as ex:
        status = ex.code if isinstance(ex.code, int) else (0 if ex.code is None else 1)
        if ex.code is not None and not isinstance(ex.code, int):
            print(ex.code, file=sys.stderr)
    except BaseException:  # what an uncaught exception does to `python -`
        traceback.print_exc()
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a stream the payload closed: nothing left to flush
            stream.flush()
    return status


def serve(path: str, controller_pid: int, warm_later=()) -> None:
    """Serve the controller's connections, each in a spare handler forked ahead, until the controller goes.

    ``warm_later`` (callables) are called one at a time while no connection waits; once all are done, the
    idle spare (forked before) is retired for one forked from the host as it is now.
    """
    global _code_folder
    _code_folder = companion(path, ".code")
    shutil.rmtree(_code_folder, ignore_errors=True)  # an earlier host's, of a controller with this pid
    os.mkdir(_code_folder, 0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = f"{path}.{os.getpid()}"
    listener.bind(tmp)
    os.chmod(tmp, 0o600)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, _reap)
    # The spares' lifeline: they see its end when this process has gone, and go too.
    lifeline, lifeline_end = os.pipe()
    os.set_inheritable(lifeline, True)
    listener.setblocking(False)  # the spares accept; one retired meanwhile must not block in accept()
    spare, retire = _start_spare(listener, lifeline, lifeline_end)
    os.replace(tmp, path)  # the socket appears once the host is warm enough and listening
    selector = selectors.DefaultSelector()
    selector.register(spare, selectors.EVENT_READ)
    pending = list(warm_later)
    last = time.monotonic()
    try:
        while _alive(controller_pid) and time.monotonic() - last < IDLE_EXIT_S:
            if not selector.select(timeout=0 if pending else 1.0):
                if pending:
                    pending.pop(0)()
                    if not pending:  # all warm: the idle spare, forked before, makes way for a warmer one
                        os.write(retire, b"R")
                continue
            # The spare took a connection, retired or died: the next one waits for the next connection.
            selector.unregister(spare)
            os.close(spare)
            os.close(retire)
            last = time.monotonic()
            spare, retire = _start_spare(listener, lifeline, lifeline_end)
            selector.register(spare, selectors.EVENT_READ)
    finally:
        os.close(lifeline_end)
        for leftover in (path, companion(path, ".lock"), companion(path, ".log"), companion(path, ".pid")):
            with contextlib.suppress(OSError):
                os.unlink(leftover)
        shutil.rmtree(_code_folder, ignore_errors=True)


def _start_spare(listener: socket.socket, lifeline: int, lifeline_end: int) -> tuple[int, int]:
    """Fork the handler of the next connection (with its module's process).

    Returns the pipe it writes to once it has a connection (``!``) or has retired (``R``), and the pipe
    to retire it with.
    """
    took, took_end = os.pipe()
    retire_end, retire = os.pipe()
    if os.fork() == 0:
        os.close(took)
        os.close(retire)
        os.close(lifeline_end)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        status = 1
        try:
            status = _spare(listener, lifeline, took_end, retire_end)
        finally:
            os._exit(status)
    os.close(took_end)
    os.close(retire_end)
    return took, retire


def _spare(listener: socket.socket, lifeline: int, took_end: int, retire_end: int) -> int:
    """A spare handler: its module's process ready, it accepts one connection and serves it; the exit status."""
    process = ModuleProcess(close_in_child=(listener.fileno(), lifeline, took_end, retire_end))
    try:
        waiting = selectors.DefaultSelector()
        for source in (listener, lifeline, retire_end):
            waiting.register(source, selectors.EVENT_READ)
        while True:
            ready = {key.fileobj for key, _ in waiting.select()}
            if lifeline in ready:  # the host has gone
                return 0
            with contextlib.suppress(BlockingIOError, InterruptedError):
                conn = listener.accept()[0]
                break
            if retire_end in ready:  # no connection waits: the host has a warmer spare to fork
                os.write(took_end, b"R")
                return 0
        conn.setblocking(True)
        os.write(took_end, b"!")
        os.close(took_end)
        listener.close()
        return _handle(conn, process)
    finally:
        process.close()


def companion(path: str, suffix: str) -> str:
    """The host's lock (``.lock``), log, pid, or code folder (``.code``) beside its socket ``<pid>.sock``."""
    return path.removesuffix(".sock") + suffix


def _handle(conn: socket.socket, process: ModuleProcess) -> int:
    try:
        request = recv_frame(conn)
        code = recv_frame(conn)
        rc, out, err = process.run(request, code)
        send_frame(conn, json.dumps({"rc": rc}).encode())
        send_frame(conn, out)
        send_frame(conn, err)
        return 0
    except Exception:  # the client sees the connection closed and says so
        return 1
    finally:
        conn.close()


def _reap(signum, frame) -> None:
    while True:
        try:
            pid = os.waitpid(-1, os.WNOHANG)[0]
        except ChildProcessError:
            return
        if pid == 0:
            return


def process_state(pid: int) -> bytes | None:
    """A process's state letter from /proc (b"Z": exited, not yet reaped), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def _alive(pid: int) -> bool:
    """Whether the controller still runs: a zombie (exited, not yet reaped) counts as gone."""
    try:
        state = process_state(pid)
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return state is not None and state != b"Z"


def main(argv: list[str]) -> int:
    path, controller_pid = argv[1], int(argv[2])
    # Run as a script, this file's folder heads sys.path; a module must not see it.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    session = warm_up()
    for service in FIRST_SERVICES:
        warm_service(session, service)
    later = [service for service in WARM_SERVICES if service not in FIRST_SERVICES]
    serve(path, controller_pid, [functools.partial(warm_service, session, service) for service in later])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
