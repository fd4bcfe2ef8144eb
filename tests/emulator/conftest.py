"""Fixtures of the emulator's tests: an in-process moto server with the patches, and engine hosts.

``emulator`` starts moto (with every patch) on a free port in this process,
so an engine's hooks into moto and its loops run exactly as in
``emulator.server``; state is wiped before each test. ``engine_host`` gives
an EngineHost whose context reaches that server over plain HTTP (the TLS of
``make up`` is the server's business, not the engines').
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from emulator import patches
from emulator.engines.host import EngineContext, EngineHost
from tests.harness.emulator_inventory import RESET_TIMEOUT_S

RUN_DIR = Path(os.environ.get("SMARTSTREAM_RUN_DIR", "/tmp/smartstream-local"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    patches.apply_all()
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def emulator(emulator_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The in-process emulator's URL, wiped; boto3 in this process reaches it with fake credentials."""
    requests.post(f"{emulator_url}/moto-api/reset", timeout=RESET_TIMEOUT_S).raise_for_status()
    for var in ("AWS_CA_BUNDLE", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return emulator_url


@pytest.fixture
def engine_host(emulator: str, tmp_path: Path) -> Iterator[EngineHost]:
    """An EngineHost on the in-process emulator; its logs and status under tmp_path; loops stopped after."""
    host = EngineHost(EngineContext(endpoint_url=emulator, ca_bundle=None, run_dir=tmp_path))
    yield host
    host.stop()


@pytest.fixture
def in_process_aws(monkeypatch: pytest.MonkeyPatch):
    """moto in this process (mock_aws, the patches applied), fake credentials, no endpoint from the shell:
    yields a client factory, ``in_process_aws("rds", "us-east-1")``."""
    import boto3
    from moto import mock_aws

    patches.apply_all()
    for var in ("AWS_ENDPOINT_URL", "AWS_CA_BUNDLE", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield lambda service, region="us-east-1": boto3.client(service, region_name=region)
