"""The engine host: loops that survive errors, status files, reset listeners."""

from __future__ import annotations

import json
import time

import requests

from tests.harness.emulator_inventory import RESET_TIMEOUT_S


def test_a_loop_runs_reports_and_survives_an_error(engine_host):
    # Given a tick that fails once, then counts
    calls = {"n": 0}
    status = engine_host.status("demo")

    def tick():
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        status.count("records", 2)
        status.action("moved 2 records")

    # When the host runs it
    engine_host.every("demo", 0.05, tick)
    deadline = time.monotonic() + 10
    while calls["n"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    # Then the error is counted and shown, the loop went on, the status file says what it did last
    written = json.loads((engine_host.ctx.run_dir / "engines" / "demo.json").read_text())
    assert written["errors"] == 1 and written["last_error"] == "RuntimeError: boom"
    assert written["counters"]["records"] >= 4 and written["last_action"] == "moved 2 records"
    assert "boom" in (engine_host.ctx.run_dir / "logs" / "engine-demo.log").read_text()


def test_reset_listeners_run_when_the_emulator_is_wiped(engine_host, emulator):
    wiped = []
    engine_host.on_reset(lambda: wiped.append(True))
    requests.post(f"{emulator}/moto-api/reset", timeout=RESET_TIMEOUT_S).raise_for_status()
    assert wiped == [True]
