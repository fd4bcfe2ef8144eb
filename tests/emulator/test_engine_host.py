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


def test_engine_clients_read_epoch_timestamps_as_utc_instants(engine_host):
    from datetime import UTC, datetime, timedelta

    kinesis = engine_host.ctx.client("kinesis")
    kinesis.create_stream(StreamName="clock", ShardCount=1)
    before = datetime.now(UTC)
    kinesis.put_record(StreamName="clock", Data=b"x", PartitionKey="k")
    shard = kinesis.list_shards(StreamName="clock")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName="clock", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    record = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"][0]
    arrival = record["ApproximateArrivalTimestamp"]
    assert arrival.utcoffset() == timedelta(0) and arrival.tzinfo is UTC
    assert before - timedelta(seconds=5) <= arrival <= datetime.now(UTC) + timedelta(seconds=5)
    # a timestamp sent as text still parses as botocore does
    from emulator.engines.host import epoch_as_utc

    assert epoch_as_utc("2024-07-29T00:58:17Z") == datetime(2024, 7, 29, 0, 58, 17, tzinfo=UTC)
    assert epoch_as_utc(0) == datetime(1970, 1, 1, tzinfo=UTC)
