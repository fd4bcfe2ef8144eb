"""The kinesis_records_held_compressed patch: a shard's records in a compact, compressed store, same answers."""

from __future__ import annotations

import base64
import json
import random
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import boto3

from emulator import patches
from emulator.patches import kinesis_store
from emulator.patches.kinesis_store import ShardRecords

ACCOUNT = "123456789012"


def _dms_record(i: int, rng: random.Random) -> bytes:
    """A CDC record as the DMS engine writes it (json-unformatted), ~600 bytes, each one different."""
    record = {
        "data": {"id": i, "first_name": "Load", "last_name": "Test", "email": f"load-{rng.getrandbits(60)}@example.com",
                 "department": "Bench", "salary": f"{rng.randrange(10**6)}.00", "hire_date": "2026-01-01"},
        "metadata": {"timestamp": f"2026-11-26T07:40:{i % 60:02d}.{rng.randrange(10**6):06d}Z",
                     "record-type": "data", "operation": "update", "partition-key-type": "schema-table",
                     "schema-name": "public", "table-name": "employees", "transaction-id": 1000 + i // 200,
                     "transaction-record-id": i % 200 + 1, "stream-position": f"00000002/{i:08X}.{i % 200 + 1}"},
    }  # fmt: skip
    return (json.dumps(record) + "\n").encode()


def _shard() -> Any:
    patches.apply_all()
    from moto.kinesis.models import Shard

    return Shard(0, 0, 2**128 - 1)


def test_patch_a_shard_holds_its_records_in_a_fraction_of_their_size() -> None:
    # Given 20,000 DMS records (~12 MB) put into a shard
    shard, rng = _shard(), random.Random(7)
    blobs = [base64.b64encode(_dms_record(i, rng)).decode() for i in range(20_000)]
    size = sum(len(base64.b64decode(b)) for b in blobs)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for blob in blobs:
            shard.put_record("public.employees", blob, None)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Then the heap holds a fraction of their size (moto's objects: ~1 KB a record, more than the data)
    assert held < size / 3, (held, size)
    # And every record reads back as it was put, across the compressed segments
    records, position, behind = shard.get_records("0", 20_000)
    assert [r.raw for r in records] == [base64.b64decode(b) for b in blobs]
    assert [r.sequence_number for r in records] == list(range(1, 20_001)) and position == 20_000
    assert all(r.partition_key == "public.employees" and r.explicit_hash_key is None for r in records)
    assert behind >= 0 and [r.created_at for r in records] == sorted(r.created_at for r in records)
    assert shard.get_min_sequence_number() == 1 and shard.get_max_sequence_number() == 20_000


def test_store_pages_trims_and_finds_a_timestamp() -> None:
    # Given a store of 5,000 records 1 ms apart over several segments
    store, rng = ShardRecords(_record_type()), random.Random(3)
    start_us = 1_700_000_000_000_000
    blobs = [_dms_record(i, rng) for i in range(5_000)]
    for i, blob in enumerate(blobs):
        store.append(i + 1, f"key-{i % 3}", blob, str(i) if i % 2 else None, start_us + i * 1000)
    assert len(store._segments) > 3
    # Then a page starting inside one segment and ending in another is the records in order
    page = store.slice(1_000, 2_500)
    assert [r.sequence_number for r in page] == list(range(1_001, 3_501))
    assert [r.raw for r in page] == blobs[1_000:3_500]
    assert [r.explicit_hash_key for r in page[:2]] == [None, "1001"] and page[0].partition_key == "key-1"
    assert page[0].created_at_datetime == datetime(2023, 11, 14, 22, 13, 21)
    # And AT_TIMESTAMP finds the last record before the time (0 when at or before the first)
    assert store.sequence_at(start_us / 1e6) == 0
    assert store.sequence_at((start_us + 2_500 * 1000 + 500) / 1e6) == 2_501
    # When records older than a horizon are trimmed
    held = store.stored_bytes()
    assert store.trim(start_us + 4_000 * 1000) == 4_000
    # Then the oldest are gone, whole segments with them, and the rest reads as before
    assert len(store) == 1_000 and next(iter(store)) == 4_001 and 3_999 not in store and store.get(3_999) is None
    assert store.stored_bytes() < held / 2
    assert [r.raw for r in store.values()] == blobs[4_000:]
    # And the newest record always stays, even past the horizon
    assert store.trim(start_us + 10**12) == 999 and [r.sequence_number for r in store.values()] == [5_000]
    assert store.popitem(last=False)[0] == 5_000 and not store
    store.append(9, "k", b"again", None, start_us)  # an emptied store starts at the next put's number
    assert store.keys() == [9] and store[9].raw == b"again"


def test_patch_stream_answers_as_moto_through_the_api(emulator: str) -> None:
    # Given records put through the API, across segments
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName="compressed", ShardCount=1)
    rng = random.Random(5)
    blobs = [_dms_record(i, rng) for i in range(1_500)]
    for at in range(0, len(blobs), 500):
        kinesis.put_records(
            StreamName="compressed", Records=[{"Data": b, "PartitionKey": "pk"} for b in blobs[at : at + 500]]
        )
    middle = datetime.now()
    time.sleep(0.01)
    kinesis.put_record(StreamName="compressed", Data=b"after", PartitionKey="pk")
    # Then TRIM_HORIZON reads them all in order, in pages
    iterator = kinesis.get_shard_iterator(
        StreamName="compressed", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    read: list[bytes] = []
    while True:
        page = kinesis.get_records(ShardIterator=iterator, Limit=400)
        read += [r["Data"] for r in page["Records"]]
        iterator = page["NextShardIterator"]
        if not page["Records"]:
            break
    assert read == [*blobs, b"after"]
    # And AT_TIMESTAMP starts after the records that came before it
    iterator = kinesis.get_shard_iterator(
        StreamName="compressed", ShardId="shardId-000000000000", ShardIteratorType="AT_TIMESTAMP", Timestamp=middle
    )["ShardIterator"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=iterator)["Records"]] == [b"after"]


def _record_type() -> type:
    patches.apply_all()
    from moto.kinesis import models

    return models.Record


def test_store_refuses_a_sequence_number_out_of_order() -> None:
    store = ShardRecords(_record_type())
    store.append(1, "k", b"a", None, 1)
    try:
        store.append(3, "k", b"b", None, 2)
    except ValueError:
        pass
    else:
        raise AssertionError("a gap in sequence numbers was accepted")
    assert kinesis_store.to_us(datetime(1970, 1, 1, 0, 0, 1, 5)) == 1_000_005


def test_store_numbers_concurrent_puts_without_a_gap_or_a_loss() -> None:
    # Given four threads putting into one shard at once (moto's put was not safe for concurrency)
    store = ShardRecords(_record_type())

    def put(n: int) -> list[int]:
        return [store.put("k", f"{n}-{i}".encode(), None, i) for i in range(2_000)]

    with ThreadPoolExecutor(4) as pool:
        numbers = [s for got in pool.map(put, range(4)) for s in got]
    # Then every record has its own number, 1 to 8,000, and reads back
    assert sorted(numbers) == list(range(1, 8_001)) and len(store) == 8_000
    assert sorted(r.raw for r in store.values()) == sorted(f"{n}-{i}".encode() for n in range(4) for i in range(2_000))
