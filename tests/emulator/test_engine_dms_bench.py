"""Throughput of the DMS engine alone (not run by default: SMARTSTREAM_DMS_BENCH=<changes> to run it).

CDC of N single-row inserts/updates/deletes in transactions of 100, from the
first commit until Kinesis accepted every record and the slot is confirmed
past the last commit; prints changes/s.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.emulator.test_engine_dms import admin, data, deploy, postgres_available

CHANGES = int(os.environ.get("SMARTSTREAM_DMS_BENCH", "0"))
pytestmark = [
    pytest.mark.skipif(not CHANGES, reason="a benchmark: SMARTSTREAM_DMS_BENCH=20000 to run it"),
    pytest.mark.skipif(not postgres_available(), reason="no local PostgreSQL"),
]


def constant_time_kinesis_put(monkeypatch):
    """moto's Shard.put_record lists every key of the shard to find the last one (O(n) a record):
    the stream slows down as it fills. What emulator/patches/kinesis.py should do (not this engine's file)."""
    from moto.kinesis.models import Shard

    monkeypatch.setattr(Shard, "get_max_sequence_number", lambda self: next(reversed(self.records), 0))


@pytest.mark.parametrize("o1_put", [False, True], ids=["moto-as-is", "constant-time-put"])
def test_cdc_throughput(fast_iam, emulator, dms_engine, db, monkeypatch, o1_put):  # noqa: F811
    if o1_put:
        constant_time_kinesis_put(monkeypatch)
    pipe = deploy(db, kinesis_settings=None)
    pipe.start()
    pipe.wait_records(lambda r: len(r) == 2)
    with admin(db.name) as conn:
        started = time.monotonic()
        for first in range(0, CHANGES, 100):
            with conn.transaction():
                conn.execute(
                    "INSERT INTO employees (id, name, salary, active, hired, created_at)"
                    " SELECT g, 'name ' || g, g * 1.5, g %% 2 = 0, now(), now() FROM generate_series(%s::int, %s::int) g",
                    (first + 1, first + 100),
                )
        committed = time.monotonic() - started
        end_lsn = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
    counters = dms_engine.status("dms").counters
    while counters.get("changes", 0) < CHANGES:
        time.sleep(0.05)
        assert time.monotonic() - started < 600
    elapsed = time.monotonic() - started
    rate = CHANGES / elapsed
    print(
        f"\nDMS engine ({'O(1)' if o1_put else 'moto'} put): {CHANGES} changes committed in {committed:.1f} s, in Kinesis after {elapsed:.1f} s:"
        f" {rate:.0f} changes/s (lsn {end_lsn}, {db.confirmed_lsn()})"
    )
    assert len(data(pipe.records(), "insert")) == CHANGES
    # A backlog: the task stopped while the source takes N updates, then resumed: the engine's own rate
    pipe.stop()
    pipe.wait_status("stopped")
    with admin(db.name) as conn:
        for first in range(0, CHANGES, 100):
            with conn.transaction():
                conn.execute(
                    "UPDATE employees SET salary = salary + 1 WHERE id BETWEEN %s AND %s", (first + 1, first + 100)
                )
    before = counters.get("changes", 0)
    started = time.monotonic()
    pipe.start("resume-processing")
    while counters.get("changes", 0) < before + CHANGES:
        time.sleep(0.05)
        assert time.monotonic() - started < 600
    elapsed = time.monotonic() - started
    print(
        f"DMS engine ({'O(1)' if o1_put else 'moto'} put): a backlog of {CHANGES} updates drained in"
        f" {elapsed:.1f} s (task start included): {CHANGES / elapsed:.0f} changes/s"
    )


from tests.emulator.test_engine_dms import db, dms_engine, fast_iam  # noqa: E402,F401  (fixtures)
