# Copyright (c) 2026 smartstream contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module's process in the warm module host: one AnsiballZ payload, run as ``python -`` would run it.

The host (``warm_module_host.py``) forks a ``ModuleProcess`` before the
module's request arrives; it gets the request over a socket pair, runs the
payload and says how it ended, and the host's handler sends the result to the
``warm_local`` connection with the framing below (a length, then the bytes).

* the process is a fresh one per module run, as a subprocess is: its exit,
  globals, signals, environment and working directory die with it, and it
  gets the worker's environment and working directory, an empty stdin and its
  own stdout/stderr (files in memory only: a module's output may hold a
  secret), which are sent back with the exit status;
* the payload is the same AnsiballZ wrapper the local connection would pipe
  to ``python``, run as ``__main__``;
* the Python files of a payload are compiled once per run: a module's process
  imports them from the payload's zip, which has no bytecode, so every module
  compiled the same ~50 module_utils files again (~25 ms a module run). The
  processes keep what they compile, by the SHA of its source, in the host's
  code folder (``use_code_folder``) and load it from there when the source is
  the same; the code gets the importing file's name, as a fresh compile would.

Imports nothing from the collection: the host loads this file by its path.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import json
import marshal
import os
import signal
import socket
import struct
import sys
import tempfile
import traceback
import types
import zipimport

_HEADER = struct.Struct("!Q")
# zipimport's compile of a file without bytecode (CPython 3.8+); without it, forks compile as usual.
_zip_compile = getattr(zipimport, "_compile_source", None)
_code_folder: str | None = None  # set by the host (use_code_folder): the run's compiled payload files
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


def use_code_folder(folder: str | None) -> None:
    """Keep compiled payload files in ``folder`` (private to the user), for every later module process."""
    global _code_folder
    _code_folder = folder


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
