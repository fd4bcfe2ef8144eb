"""Volume through the DMS engine alone: every one of N inserts (transactions of 100) reaches Kinesis.

N is 2,000 in the suite (SMARTSTREAM_DMS_BENCH=<changes> for a longer run);
prints changes/s, from the first commit until Kinesis accepted every record.
The rate is for the notes, not asserted.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.emulator.dms_pipeline import admin, data, deploy, postgres_available

CHANGES = int(os.environ.get("SMARTSTREAM_DMS_BENCH", "2000"))


@pytest.fixture(autouse=True)
def _local_postgres_answers():
    """These tests need the local PostgreSQL (make up): without it they fail, never skip."""
    if not postgres_available():
        pytest.fail("no local PostgreSQL (run make up)")


def test_every_change_of_a_volume_reaches_kinesis(fast_iam, emulator, dms_engine, db):  # noqa: F811
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
        f"\nDMS engine: {CHANGES} changes committed in {committed:.1f} s, in Kinesis after {elapsed:.1f} s:"
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
        f"DMS engine: a backlog of {CHANGES} updates drained in"
        f" {elapsed:.1f} s (task start included): {CHANGES / elapsed:.0f} changes/s"
    )
    assert len(data(pipe.records(), "update")) >= CHANGES


from tests.emulator.dms_pipeline import db, dms_engine, fast_iam  # noqa: E402,F401  (fixtures)
