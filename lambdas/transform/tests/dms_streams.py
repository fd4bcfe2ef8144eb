"""DMS-shaped streams with their truth, for the property tests.

``history(seed)`` gives the records DMS would write for a full load of some
employees then CDC transactions (updates, deletes, inserts, primary-key
changes) in log order, with PostgreSQL stream positions, transaction record
ids, xids not in commit order and commit timestamps that tie; and the truth:
the table's rows after the last change. ``objects(...)`` cuts such a stream
into Firehose objects (a transaction may span two), each in either framing,
GZIP or not, optionally with garbage between records, poison records and
duplicates.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from smartstream_ml import synthetic

START = datetime(2026, 11, 24, 10, tzinfo=UTC)
POISON_ID_BASE = 1_000_000  # poison records use ids from here: they must never reach the state
GARBAGE = [b"xyz", b"]]", b"@@ not json @@", b"\xff\xfe\xfd", b"nul", b"{broken", b'{"data": {"id": 1,']


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _position(lsn: int) -> str:
    hi, lo = lsn >> 32, lsn & 0xFFFFFFFF
    return f"{hi:08X}/{lo:08X}.2.{hi:08X}/{lo:08X}"


@dataclass
class History:
    records: list[dict[str, Any]]
    truth: dict[int, dict[str, Any]]
    good: int = 0  # data records that must be written


def history(seed: int, employees: int = 12, transactions: int = 25) -> History:
    rng = random.Random(seed)
    people = synthetic.employees(employees, seed=seed)
    records: list[dict[str, Any]] = [synthetic.control_record(START)]
    state: dict[int, dict[str, Any]] = {}
    load_time = START
    for person in people:
        load_time += timedelta(microseconds=rng.randint(0, 3))  # load timestamps can tie too
        records.append(synthetic.dms_record(person.row(), "load", load_time))
        state[person.id] = person.row()
    lsn = 0x2_7C00_0000
    next_id = employees + 1
    commit = START + timedelta(seconds=5)
    for _ in range(transactions):
        lsn += rng.randint(0x20, 0x4000)
        if rng.random() < 0.6:  # commit timestamps tie often
            commit += timedelta(microseconds=rng.choice([0, 0, 1]))
        else:
            commit += timedelta(seconds=rng.randint(1, 90))
        xid = rng.randint(500, 5000)  # not in commit order
        for trid in range(1, rng.randint(1, 3) + 1):
            record = _change(rng, state, next_id, commit)
            if record is None:
                continue
            if record["data"]["id"] == next_id:
                next_id += 1
            meta = record["metadata"]
            meta.update(
                {
                    "stream-position": _position(lsn),
                    "transaction-id": xid,
                    "transaction-record-id": trid,
                    "partition-key-type": "schema-table",
                }
            )
            records.append(record)
    good = sum(1 for r in records if r["metadata"]["record-type"] == "data")
    return History(records, state, good)


def _change(rng: random.Random, state: dict[int, dict[str, Any]], next_id: int, commit: datetime) -> dict | None:
    live = sorted(state)
    roll = rng.random()
    if not live or roll < 0.2:
        row = synthetic.employees(1, seed=next_id, start_id=next_id)[0].row()
        state[next_id] = row
        return synthetic.dms_record(row, "insert", commit, 0)
    victim = rng.choice(live)
    if roll < 0.35:
        deleted = {k: (victim if k == "id" else None) for k in state.pop(victim)}
        return synthetic.dms_record(deleted, "delete", commit, 0)
    if roll < 0.45:  # a primary-key change
        row = state.pop(victim) | {"id": next_id}
        state[next_id] = row
        record = synthetic.dms_record(row, "update", commit, 0)
        record["before-image"] = {"id": victim}
        return record
    row = state[victim] | {"salary": f"{rng.randint(30_000, 200_000)}.{rng.randint(0, 99):02d}"}
    state[victim] = row
    record = synthetic.dms_record(row, "update", commit, 0)
    record["before-image"] = {}
    return record


def poison(rng: random.Random, n: int) -> dict[str, Any]:
    """A record that must be quarantined (never written): a value, type or shape DMS does not send."""
    row = synthetic.employees(1, seed=n, start_id=POISON_ID_BASE + n)[0].row()
    kind = rng.randrange(8)
    if kind == 0:
        row["salary"] = "1_000.00"
    elif kind == 1:
        row["hire_date"] = "20240115"
    elif kind == 2:
        row["id"] = 2**64 + n
    elif kind == 3:
        row["first_name"] = "\ud800"
    elif kind == 4:
        row["_record_seq"] = 7
    record = synthetic.dms_record(row, "insert", START, 1)
    if kind == 5:
        record["metadata"]["operation"] = ["insert"]
    elif kind == 6:
        record["metadata"]["table-name"] = {"name": "employees"}
    elif kind == 7:
        record["metadata"]["stream-position"] = "not a position"
    return record


def render(record: dict[str, Any], framing: str) -> bytes:
    if framing == "json":
        return json.dumps(record, indent=4).encode()
    return json.dumps(record).encode() + rng_newline(record)


def rng_newline(record: dict[str, Any]) -> bytes:
    return b"\r\n" if len(json.dumps(record)) % 3 == 0 else b"\n"


@dataclass
class RawObject:
    key: str
    body: bytes
    good: int  # data records in it that must be written
    poison: int  # records in it that must be quarantined
    garbage: int  # garbage fragments in it
    identities: list[tuple] = field(default_factory=list)


def identity(record: dict[str, Any]) -> tuple:
    meta = record["metadata"]
    if "stream-position" in meta:
        return (meta["stream-position"], meta["transaction-record-id"])
    return ("load", record["data"]["id"], meta["timestamp"])


def objects(
    hist: History, rng: random.Random, parts: int, garbage: bool, poisons: bool, duplicates: bool
) -> list[RawObject]:
    """Cut the history into objects; extras never change the truth."""
    records = list(hist.records)
    cuts = sorted(rng.sample(range(1, len(records)), min(parts - 1, len(records) - 1)))
    chunks = [records[a:b] for a, b in zip([0, *cuts], [*cuts, len(records)], strict=True)]
    if duplicates:  # some changes delivered again, in another object
        for _ in range(rng.randint(1, 4)):
            source = rng.choice(chunks)
            if source:
                rng.choice(chunks).append(rng.choice(source))
    out = []
    for index, chunk in enumerate(chunks):
        framing = rng.choice(["json", "json-unformatted"])
        pieces, n_poison, n_garbage, idents = [], 0, 0, []
        items: list[Any] = list(chunk)
        if poisons:
            for _ in range(rng.randint(0, 2)):
                items.insert(rng.randint(0, len(items)), poison(rng, rng.randint(0, 10**6)))
        for item in items:
            if garbage and rng.random() < 0.15:
                pieces.append(b"\n" + rng.choice(GARBAGE) + b"\n")
                n_garbage += 1
            pieces.append(render(item, framing))
            if item["metadata"]["record-type"] == "data":
                if _is_poison(item):
                    n_poison += 1
                else:
                    idents.append(identity(item))
        body = b"".join(pieces)
        if rng.random() < 0.5:
            body = gzip.compress(body)
        key = f"raw/2026/11/24/10/smartstream-cdc-1-2026-11-24-10-{index:02d}-00-{rng.getrandbits(32):08x}.gz"
        out.append(RawObject(key, body, len(idents), n_poison, n_garbage, idents))
    return out


def _is_poison(record: dict[str, Any]) -> bool:
    data_id = record["data"].get("id")
    return type(data_id) is int and data_id >= POISON_ID_BASE
