"""The warm_local connection runs modules in its host, with the results a plain local run gives."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

from .conftest import run_playbook


def play(tmp_path, connection):
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
    started = [line for line in result.stdout.splitlines() if line.startswith("warm module host started")]
    assert len(started) == 1, result.stdout[-3000:]
    socket_path = Path(started[0].rsplit(" ", 1)[1])
    assert socket_path.parent == folder
    for _ in range(50):  # it notices within a second that the controller has gone
        if not socket_path.exists():
            break
        time.sleep(0.1)
    assert not socket_path.exists()
    assert not socket_path.with_suffix(".lock").exists()
