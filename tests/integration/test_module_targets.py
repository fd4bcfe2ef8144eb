"""Each module's integration target (tests/integration/targets/<module>) against the emulator.

A target follows the rhythm: check mode reports a change -> apply -> check
mode reports none -> apply again reports none -> absent -> absent again
reports none, with its assertions inside the target.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import run_playbook

TARGETS = sorted(p.name for p in (Path(__file__).parent / "targets").iterdir() if (p / "tasks" / "main.yml").exists())


def test_every_module_has_a_target():
    modules = {p.stem for p in (Path(__file__).parents[2] / "plugins" / "modules").glob("*.py")}
    assert modules and modules <= set(TARGETS), f"modules without an integration target: {modules - set(TARGETS)}"


@pytest.mark.parametrize("target", TARGETS)
def test_module_target(clean_emulator, target):
    result = run_playbook("../tests/integration/run_target.yml", "-e", f"target={target}")

    assert result.returncode == 0, result.stdout[-4000:]
    assert re.search(r"failed=0\s", result.stdout)
