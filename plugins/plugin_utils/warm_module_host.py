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

* each module runs in a process of its own, forked from the host, with the
  payload, environment and outputs of a plain local run
  (``warm_module_process.py``);
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
* the Python files of a payload are compiled once per run, in a folder beside
  the host's socket (``<controller pid>.code``, private to the user, removed
  with the host; see ``warm_module_process.py``);
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
loader; ``warm_botocore.py`` and ``warm_module_process.py`` beside it are
loaded by their paths.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib.util
import json
import os
import selectors
import shutil
import signal
import socket
import sys
import time

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
# The module's process (its own file: this one is run as a script, without a collection loader).
_spec = importlib.util.spec_from_file_location(
    "_smartstream_warm_module_process",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "warm_module_process.py"),
)
process = sys.modules.get(_spec.name) or importlib.util.module_from_spec(_spec)
if _spec.name not in sys.modules:
    sys.modules[_spec.name] = process
    _spec.loader.exec_module(process)
send_frame, recv_frame = process.send_frame, process.recv_frame


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
    # The C library's name service loads its modules at a process's first lookup (~2 ms in every fork that
    # connects); a lookup here loads them once. Local names only: no query leaves the machine.
    for name in ("127.0.0.1", "localhost"):
        with contextlib.suppress(OSError):
            socket.getaddrinfo(name, 443, 0, socket.SOCK_STREAM)
    return boto3.session.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def warm_service(session, service: str) -> None:
    """Build a client of the service: its data files, paginators and waiters are parsed for every later fork."""
    client = session.client(service)
    client.can_paginate(next(iter(client.meta.method_to_api_mapping)))  # parses the service's paginators
    client.waiter_names  # noqa: B018 - parses the service's waiters
    gc.freeze()  # what the host holds now stays out of the forks' collections


def serve(path: str, controller_pid: int, warm_later=()) -> None:
    """Serve the controller's connections, each in a spare handler forked ahead, until the controller goes.

    ``warm_later`` (callables) are called one at a time while no connection waits; once all are done, the
    idle spare (forked before) is retired for one forked from the host as it is now.
    """
    code_folder = companion(path, ".code")
    shutil.rmtree(code_folder, ignore_errors=True)  # an earlier host's, of a controller with this pid
    os.mkdir(code_folder, 0o700)
    process.use_code_folder(code_folder)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = f"{path}.{os.getpid()}"
    listener.bind(tmp)
    os.chmod(tmp, 0o600)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, _reap)
    # The spares' lifeline: they see its end when this process has gone, and go too.
    lifeline, lifeline_end = os.pipe()
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
                    with contextlib.suppress(Exception):  # a warm-up only: a module parses what is not warm
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
        shutil.rmtree(code_folder, ignore_errors=True)


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
    module = process.ModuleProcess(close_in_child=(listener.fileno(), lifeline, took_end, retire_end))
    try:
        waiting = selectors.DefaultSelector()
        for source in (listener, lifeline, retire_end):
            waiting.register(source, selectors.EVENT_READ)
        while True:
            ready = {key.fileobj for key, _events in waiting.select()}
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
        return _handle(conn, module)
    finally:
        module.close()


def companion(path: str, suffix: str) -> str:
    """The host's lock (``.lock``), log, pid, or code folder (``.code``) beside its socket ``<pid>.sock``."""
    return path.removesuffix(".sock") + suffix


def _handle(conn: socket.socket, module) -> int:
    """Serve one connection with the module's process (a ``process.ModuleProcess``)."""
    try:
        request = recv_frame(conn)
        code = recv_frame(conn)
        rc, out, err = module.run(request, code)
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
