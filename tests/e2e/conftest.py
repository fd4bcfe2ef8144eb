"""The end-to-end suite: one converged local default, changes made in PostgreSQL, answers read from trusted/.

The platform is converged once for the module (``site.yml`` on
``inventories/local``, on a wiped emulator) and seeded (``seed.yml``);
``teardown.yml`` removes it at the end, and must leave nothing behind.

The files run in the order of ``FILE_ORDER`` (not pytest's alphabetical one):
the data path first (test_pipeline.py), then what is built on it, the catalog,
Athena and the ML loop (test_analytics.py), then credential rotation while
changes flow (test_rotation.py). Every other test of the session runs after
them: they reset the emulator, which would pull the platform from under an
end-to-end file not listed here.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from tests.harness import dataflow
from tests.harness.emulator_inventory import RESET_TIMEOUT_S, emulator_session_kwargs, list_resources

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = ROOT / ".venv" / "bin" / "ansible-playbook"
FILE_ORDER = ("test_pipeline.py", "test_analytics.py", "test_rotation.py")


def pytest_collection_modifyitems(items):
    """Run the files in FILE_ORDER (a stable sort: the tests of one file keep their order)."""

    def rank(item) -> int:
        name = item.path.name
        return FILE_ORDER.index(name) if name in FILE_ORDER else len(FILE_ORDER)

    items.sort(key=rank)


def run_playbook(name: str, *extra: str) -> str:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    done = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), f"playbooks/{name}", "-i", "inventories/local", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="session")
def platform():
    kwargs = emulator_session_kwargs()
    try:
        requests.post(f"{kwargs['endpoint_url']}/moto-api/reset", verify=kwargs["verify"], timeout=RESET_TIMEOUT_S)
    except requests.RequestException as exc:
        pytest.fail(f"the local emulator is not running ({exc}): run 'make up' first")
    run_playbook("site.yml")
    run_playbook("seed.yml")
    run_playbook("replication.yml", "-e", "replication_action=start")
    deployed = dataflow.Platform.load()
    yield deployed
    run_playbook("teardown.yml")
    left = {kind: ids for kind, ids in list_resources(deployed.region).items() if ids}
    assert not left, f"teardown left resources behind: {left}"


@pytest.fixture(scope="session")
def source(platform):
    with platform.connect() as conn:
        yield conn


def converged(platform, source, timeout: float = 180) -> float:
    """Wait until the state derived from trusted/ equals the source table; returns the seconds it took."""
    last: dict = {}

    def equal():
        nonlocal last
        last = dataflow.state_difference(dataflow.source_state(source), dataflow.trusted_state(platform))
        return not last

    try:
        _, waited = dataflow.wait_until(equal, timeout, interval=2)
    except TimeoutError:
        pytest.fail(f"trusted/ did not converge to the source within {timeout} s: {last}")
    return waited
