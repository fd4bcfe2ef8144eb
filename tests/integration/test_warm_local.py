"""The warm_local connection runs modules in its host, with the results a plain local run gives."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

from .conftest import run_playbook


def play(tmp_path, connection, env=None):
    return run_playbook(
        "../tests/integration/warm/modules.yml",
        "-vvv",
        "-e",
        f"ansible_connection={connection}",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "-e",
        f"warm_dir={tmp_path}",
        inventory="tests/integration/warm/hosts.yml",
        env=env,
    )


@pytest.mark.parametrize("connection", ["smartstream.pipeline.warm_local", "local"])
def test_modules_give_the_results_of_a_local_run(tmp_path, connection):
    result = play(tmp_path, connection)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    warm_runs = result.stdout.count("EXEC (warm module host)")
    plain_runs = result.stdout.count("EXEC /bin/sh -c '" + sys.executable)
    if connection == "local":
        assert warm_runs == 0
        assert plain_runs > 0
    else:  # all 10 module runs (the copy action's own stat runs included) went to the host
        assert (warm_runs, plain_runs) == (10, 0)


def test_the_host_goes_with_the_playbook(tmp_path):
    folder = Path(tempfile.gettempdir()) / f"smartstream-warm-{os.getuid()}"
    result = play(tmp_path, "smartstream.pipeline.warm_local")
    assert result.returncode == 0, result.stdout[-3000:]
    lines = result.stdout.splitlines()
    started = [line for line in lines if line.startswith("warm module host starting")]
    assert len(started) == 1, result.stdout[-3000:]
    # started by the first task, a controller one, before any module ran
    first_module = next(n for n, line in enumerate(lines) if "EXEC (warm module host)" in line)
    assert lines.index(started[0]) < first_module
    assert lines.index(started[0]) < next(
        n for n, line in enumerate(lines) if "A module with a task environment" in line
    )
    socket_path = Path(started[0].rsplit(" ", 1)[1])
    assert socket_path.parent == folder
    for _ in range(50):  # it notices within a second that the controller has gone
        if not socket_path.exists():
            break
        time.sleep(0.1)
    assert not socket_path.exists()
    assert not socket_path.with_suffix(".lock").exists()
    assert not socket_path.with_suffix(".pid").exists()
    for _ in range(50):  # its spare handler and module process, forked ahead, go with it
        if not _processes_of(socket_path):
            break
        time.sleep(0.1)
    assert _processes_of(socket_path) == []


def _processes_of(socket_path):
    """Processes whose command line names the host's socket (the host and its forks)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # not a process, or gone meanwhile
            continue
        if str(socket_path).encode() in arguments:
            found.append(entry.name)
    return found


def test_payloads_built_in_one_run_are_reused_by_the_next(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    runs = [tmp_path / "first", tmp_path / "second", tmp_path / "off"]  # each run writes its own files
    for folder in runs:
        folder.mkdir()
    first = play(runs[0], "smartstream.pipeline.warm_local", env={"XDG_CACHE_HOME": str(cache)})
    assert first.returncode == 0, first.stdout[-3000:]
    saved = {line.split(": ", 1)[1] for line in first.stdout.splitlines() if line.startswith("AnsiballZ store, save")}
    modules = {"ansible.modules.command", "ansible.modules.copy", "ansible.modules.stat"}
    assert {name.split("-")[0] for names in saved for name in names.split(", ")} >= modules

    second = play(runs[1], "smartstream.pipeline.warm_local", env={"XDG_CACHE_HOME": str(cache)})
    assert second.returncode == 0, second.stdout[-3000:]
    primed = [
        line.split(": ", 1)[1] for line in second.stdout.splitlines() if line.startswith("AnsiballZ store, _prime")
    ]
    assert primed == ["priming in the background"], second.stdout[-3000:]  # by the first task, once
    assert "AnsiballZ store, save" not in second.stdout  # nothing was built again: every module was primed

    off = play(
        runs[2],
        "smartstream.pipeline.warm_local",
        env={"XDG_CACHE_HOME": str(cache), "SMARTSTREAM_ANSIBALLZ_STORE": "false"},
    )
    assert off.returncode == 0, off.stdout[-3000:]
    assert "AnsiballZ store" not in off.stdout
