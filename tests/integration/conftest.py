"""Fixtures for tests that run the playbooks against the local emulator (make up)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import boto3
import pytest
import requests

from tests.harness.emulator_inventory import RESET_TIMEOUT_S, emulator_session_kwargs, list_resources

ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = Path(os.environ.get("SMARTSTREAM_RUN_DIR", "/tmp/smartstream-local"))
ANSIBLE_PLAYBOOK = ROOT / ".venv" / "bin" / "ansible-playbook"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def emulator():
    """The running emulator, wiped. Fails (never skips) when it is not running."""
    kwargs = emulator_session_kwargs()
    try:
        requests.post(f"{kwargs['endpoint_url']}/moto-api/reset", verify=kwargs["verify"], timeout=RESET_TIMEOUT_S)
    except requests.RequestException as exc:
        pytest.fail(f"the local emulator is not running ({exc}): run 'make up' first")
    return kwargs


@pytest.fixture
def clean_emulator(emulator):
    kwargs = emulator
    requests.post(
        f"{kwargs['endpoint_url']}/moto-api/reset", verify=kwargs["verify"], timeout=RESET_TIMEOUT_S
    ).raise_for_status()
    yield kwargs
    requests.post(
        f"{kwargs['endpoint_url']}/moto-api/reset", verify=kwargs["verify"], timeout=RESET_TIMEOUT_S
    ).raise_for_status()


def aws_client(service: str):
    return boto3.client(service, region_name=REGION, **emulator_session_kwargs())


def run_playbook(
    playbook: str, *args: str, inventory: str = "inventories/local", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", **(env or {})}
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), f"playbooks/{playbook}", "-i", inventory, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def nothing_of_ours() -> bool:
    return not any(list_resources(REGION).values())
