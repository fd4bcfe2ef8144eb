"""The warm module host: its spares serve modules while it warms up, and it goes with its controller."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

from ansible_collections.smartstream.pipeline.plugins.plugin_utils import warm_module_host as host


def test_a_zombie_controller_counts_as_gone():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        deadline = time.monotonic() + 30
        while host.process_state(pid) != b"Z" and time.monotonic() < deadline:  # exited, not reaped
            time.sleep(0.01)
        assert not host._alive(pid)
    finally:
        os.waitpid(pid, 0)
    assert host._alive(os.getpid())
    assert not host._alive(pid)


def test_every_warm_import_exists():
    import importlib

    for name in host.WARM_IMPORTS:
        importlib.import_module(name)


def _serving(tmp_path, warm_later):
    """A host serving in a fork of this process (its controller), with ``warm_later`` to do while it waits."""
    path = str(tmp_path / "host.sock")
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            host.serve(path, os.getppid(), warm_later)
            status = 0
        finally:
            os._exit(status)
    deadline = time.monotonic() + 30
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return pid, path


def _ask(path, code):
    request = {"env": {}, "cwd": "/", "umask": 0o022, "interpreter": sys.executable}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(path)
        host.send_frame(conn, json.dumps(request).encode())
        host.send_frame(conn, code.encode())
        status = json.loads(host.recv_frame(conn))
        out = host.recv_frame(conn)
        host.recv_frame(conn)
    return status["rc"], out


def _stop(pid):
    os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)


SEES_WARM = f"import sys\nprint(getattr(sys.modules[{host.__name__!r}], 'WARMED_FOR_TEST', False))"


def test_a_module_is_served_while_the_host_still_warms_up(tmp_path):
    pid, path = _serving(tmp_path, [lambda: time.sleep(0.5), lambda: setattr(host, "WARMED_FOR_TEST", True)])
    try:
        assert _ask(path, SEES_WARM) == (0, b"False\n")  # its spare was forked before the warm-up ended
    finally:
        _stop(pid)


def test_once_warm_the_idle_spare_makes_way_for_one_forked_from_the_warm_host(tmp_path):
    pid, path = _serving(tmp_path, [lambda: time.sleep(0.2), lambda: setattr(host, "WARMED_FOR_TEST", True)])
    try:
        time.sleep(1.0)  # warmed, and the first spare retired
        assert _ask(path, SEES_WARM) == (0, b"True\n")
        assert _ask(path, "print('next')") == (0, b"next\n")
    finally:
        _stop(pid)
