"""The corpus of test_blocks.py: DMS-shaped json-unformatted objects, clean or with one hazard each.

``clean`` / ``control`` make records, ``RECORD_HAZARDS`` (a record changed)
and ``LINE_HAZARDS`` (its bytes changed) every way pyarrow could read a
record differently from ``json`` and the column checks, ``render`` /
``body_of`` frame them; ``outcome`` transforms an object with or without the
block path and ``assert_same`` compares the two.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from typing import Any

import pyarrow.parquet as pq
from smartstream_transform.blocks import Reader
from smartstream_transform.core import transform_object

KEY = "raw/2026/11/24/10/smartstream-cdc-1-2026-11-24-10-00-00-blocks.gz"
NAMES = ["Alice", "Zoë", "名前", "O'Brien", 'Quote "Q"', "Back\\slash", "Tab\there", "😀 Emoji", "Ñandú"]


class ShortReads:
    """A raw object whose read() gives at most ``size`` bytes: blocks then start and end anywhere."""

    def __init__(self, body: bytes, size: int):
        self._body, self._size, self._at = body, size, 0

    def read(self, n: int = -1) -> bytes:
        size = self._size if n < 0 else min(n, self._size)
        out = self._body[self._at : self._at + size]
        self._at += len(out)
        return out


def outcome(body: bytes, block_bytes: int, read_size: int = 1 << 20) -> tuple[Any, ...]:
    """Everything the transform produced, comparable; and how many blocks the block path took."""
    original = Reader.read
    taken = 0

    def counting(self, *args):
        nonlocal taken
        got = original(self, *args)
        taken += got is not None
        return got

    Reader.read = counting  # type: ignore[method-assign]
    try:
        result = transform_object(ShortReads(body, read_size), KEY, block_bytes=block_bytes)
    finally:
        Reader.read = original  # type: ignore[method-assign]
    assert result.log_record()["balanced"], result.counts
    files = {}
    for out in result.outputs:
        table = pq.read_table(io.BytesIO(out.body))
        files[out.key] = (table.schema, table.to_pylist(), out.rows)
    # the quarantine's entries, each byte for byte; their order in the file follows when batches are
    # checked (a batch's rejects when it is flushed, fragments at once), on either path
    quarantine = sorted(result.quarantine.body.splitlines()) if result.quarantine else None
    blob = result.quarantine_blob.body if result.quarantine_blob else None
    counts = {name: (c.read, c.written, c.quarantined, c.skipped) for name, c in result.counts.items()}
    return (files, quarantine, blob, counts), taken


def assert_same(body: bytes, block_bytes: int, read_size: int) -> int:
    """The block path's outcome equals the per-record path's; returns the blocks taken."""
    want, none_taken = outcome(body, 0, read_size)  # the same reads: GZIP is told by the first one's bytes
    assert none_taken == 0
    got, taken = outcome(body, block_bytes, read_size)
    assert got[3] == want[3]  # counts first: the clearest message
    assert got[1] == want[1]
    assert got[2] == want[2]
    assert got[0].keys() == want[0].keys()
    for key, (schema, rows, n) in want[0].items():
        assert got[0][key][0].equals(schema), key
        assert got[0][key][1] == rows, key
        assert got[0][key][2] == n
    return taken


# ---------------------------------------------------------------------- DMS-shaped records


def ts_of(day: int, second: int) -> str:
    return f"2026-11-{24 + day:02d}T{10 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.000000Z"


def clean(rng: random.Random, n: int, index: int) -> dict[str, Any]:
    """The ``index``-th record of a clean stream: a load, then changes with transaction details."""
    op = "load" if index < n // 3 else rng.choice(["insert", "update", "update", "delete"])
    key = index + 1
    row: dict[str, Any] = {
        "id": key,
        "first_name": rng.choice(NAMES),
        "last_name": rng.choice(NAMES),
        "email": f"p{key}@example.com" if rng.random() < 0.9 else "",
        "department": rng.choice(["Data", "Support", "", None]),
        "salary": f"{rng.randint(0, 99_999_999)}.{rng.randint(0, 99):02d}",
        "hire_date": f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "created_at": "2019-08-03 21:52:58.000000",
        "updated_at": rng.choice(["2019-08-03 21:52:58+00:00", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00+02:00"]),
    }
    if op == "delete":
        row = {k: (v if k == "id" else None) for k, v in row.items()}
    ts = ts_of(0 if op == "load" else rng.choice([0, 0, 0, 1]), index)
    meta: dict[str, Any] = {
        "timestamp": ts,
        "record-type": "data",
        "operation": op,
        "partition-key-type": "primary-key",
        "partition-key-value": f"public.employees.{key}",
        "schema-name": "public",
        "table-name": "employees",
    }
    record: dict[str, Any] = {"data": row, "metadata": meta}
    if op != "load":
        lsn = 0x2_7C00_0000 + 0x58 * index
        at = f"{lsn >> 32:08X}/{lsn & 0xFFFFFFFF:08X}"
        meta |= {
            "transaction-id": 1000 + index,
            "commit-timestamp": ts,
            "stream-position": f"{at}.3.{at}",
            "transaction-record-id": rng.randint(1, 3),
        }
        if rng.random() < 0.3:
            meta |= {"prev-transaction-id": 999 + index, "prev-transaction-record-id": 1}
        if op == "update" and rng.random() < 0.5:
            record["before-image"] = rng.choice([{"id": key}, {}])
    return record


def control(table: str = "employees") -> dict[str, Any]:
    return {
        "control": {"table-def": {"columns": {"id": {"type": "INT32"}}, "primary-key": ["id"]}},
        "metadata": {
            "timestamp": ts_of(0, 0),
            "record-type": "control",
            "operation": "create-table",
            "partition-key-type": "task-id",
            "schema-name": "public",
            "table-name": table,
        },
    }


def _data(**change: Any):
    def mutate(record: dict[str, Any]) -> None:
        data = record.get("data")
        if isinstance(data, dict):
            for name, value in change.items():
                if value is _DROP:
                    data.pop(name, None)
                else:
                    data[name] = value

    return mutate


def _meta(**change: Any):
    def mutate(record: dict[str, Any]) -> None:
        for name, value in change.items():
            name = name.replace("_", "-")
            if value is _DROP:
                record["metadata"].pop(name, None)
            else:
                record["metadata"][name] = value

    return mutate


def _top(name: str, value: Any):
    def mutate(record: dict[str, Any]) -> None:
        if value is _DROP:
            record.pop(name, None)
        else:
            record[name] = value

    return mutate


def _update(mutate):
    """The mutation on an update (the record made one first)."""

    def apply(record: dict[str, Any]) -> None:
        if record["metadata"]["record-type"] == "data":
            record["metadata"]["operation"] = "update"
            record["metadata"].setdefault("commit-timestamp", record["metadata"]["timestamp"])
        mutate(record)

    return apply


def _key_plus_one(record: dict[str, Any]) -> None:
    key = record.get("data", {}).get("id")
    record["before-image"] = {"id": key + 1 if type(key) is int else 0}


def _key_same(record: dict[str, Any]) -> None:
    record["before-image"] = {"id": record.get("data", {}).get("id")}


def _control_inside(record: dict[str, Any]) -> None:
    record.clear()
    record.update(control())


_DROP = object()

# record-level hazards: each must give the per-record path's outcome
RECORD_HAZARDS = {
    "id beyond int64": _data(id=2**63),
    "id int64 max": _data(id=2**63 - 1),
    "id int64 min": _data(id=-(2**63)),
    "id below int64": _data(id=-(2**63) - 1),
    "id huge": _data(id=10**40),
    "id boolean": _data(id=True),
    "id float": _data(id=1.0),
    "id string": _data(id="1"),
    "id null": _data(id=None),
    "id missing": _data(id=_DROP),
    "id zero": _data(id=0),
    "name 51 chars": _data(first_name="é" * 51),
    "name 50 chars": _data(first_name="名" * 50),
    "name lone surrogate": _data(first_name="a\ud800b"),
    "name low surrogate": _data(first_name="\udc00"),
    "name surrogate pair": _data(first_name="\U0001f600"),
    "name escapes": _data(first_name='a"b\\c\n\t\x00/\x7f'),
    "name control chars": _data(first_name="\x01\x1f"),
    "name number": _data(first_name=5),
    "name boolean": _data(first_name=False),
    "name object": _data(first_name={"a": 1}),
    "name array": _data(first_name=["a"]),
    "name null": _data(first_name=None),
    "name empty": _data(first_name=""),
    "name missing": _data(first_name=_DROP),
    "email bad": _data(email="not-an-email"),
    "email spaces": _data(email="a b@example.com"),
    "salary integer": _data(salary=50_000),
    "salary float": _data(salary=50_000.5),
    "salary float long": _data(salary=0.1 + 0.2),
    "salary underscore": _data(salary="1_000.00"),
    "salary negative": _data(salary="-5.00"),
    "salary three decimals": _data(salary="1.234"),
    "salary arabic digits": _data(salary="\u0661\u0660\u0660"),
    "salary too big": _data(salary="123456789.00"),
    "salary leading zeros": _data(salary="000012.50"),
    "salary exponent": _data(salary="1e3"),
    "salary empty": _data(salary=""),
    "hire date compact": _data(hire_date="20240115"),
    "hire date invalid": _data(hire_date="2024-02-30"),
    "hire date week": _data(hire_date="2024-W03-1"),
    "hire date year 0": _data(hire_date="0000-01-01"),
    "hire date year 9999": _data(hire_date="9999-12-31"),
    "created with zone": _data(created_at="2024-01-01T10:00:00+02:00"),
    "created invalid hour": _data(created_at="2024-01-01 25:00:00"),
    "created no seconds": _data(created_at="2024-01-01 10:00"),
    "created empty": _data(created_at=""),
    "created year 0": _data(created_at="0000-01-01T00:00:00Z"),
    "created after 9999 in UTC": _data(created_at="9999-12-31T23:00:00-05:00"),
    "created before 0001 in UTC": _data(created_at="0001-01-01T00:30:00+01:00"),
    "created last microsecond": _data(created_at="9999-12-31T23:59:59.999999Z"),
    "extra column": _data(nickname="x"),
    "extra column null": _data(nickname=None),
    "column named _extra": _data(_extra=1),
    "column named dt": _data(dt="2026-01-01"),
    "column named _op": _data(_op="x"),
    "data null": _top("data", None),
    "data list": _top("data", []),
    "data string": _top("data", "x"),
    "data empty": _top("data", {}),
    "data missing": _top("data", _DROP),
    "metadata null": _top("metadata", None),
    "metadata list": _top("metadata", []),
    "top-level extra key": _top("extra", 1),
    "top-level control key": _top("control", {}),
    "timestamp missing": _meta(timestamp=_DROP, commit_timestamp=_DROP),
    "timestamp number": _meta(timestamp=5, commit_timestamp=5),
    "timestamp invalid month": _meta(timestamp="2026-13-01T00:00:00.000000Z", commit_timestamp=_DROP),
    "timestamp with offset": _meta(timestamp="2026-11-24T23:30:00+01:00", commit_timestamp=_DROP),
    "timestamp without zone": _meta(timestamp="2026-11-24T10:00:00", commit_timestamp=_DROP),
    "timestamp Z garbage": _meta(timestamp="garbage-Z", commit_timestamp=_DROP),
    "timestamp next day": _meta(timestamp="2026-11-25T00:00:01.000000Z", commit_timestamp=_DROP),
    "commit empty": _update(_meta(commit_timestamp="")),
    "commit null": _update(_meta(commit_timestamp=None)),
    "commit number": _update(_meta(commit_timestamp=5)),
    "commit zero": _update(_meta(commit_timestamp=0)),
    "commit other day": _update(_meta(commit_timestamp="2026-11-27T01:00:00.000000Z")),
    "commit invalid": _update(_meta(commit_timestamp="2026-11-27X01:00:00Z")),
    "commit year 0": _update(_meta(commit_timestamp="0000-01-01T00:00:00Z")),
    "commit after 9999 in UTC": _update(_meta(commit_timestamp="9999-12-31T23:00:00-05:00")),
    "position not one": _meta(stream_position="not a position"),
    "position lower hex": _meta(stream_position="2/7c0071a8.3.2/7c0071a8"),
    "position beyond int64": _meta(stream_position="FFFFFFFF/00000000.3.FFFFFFFF/00000000"),
    "position number": _meta(stream_position=7),
    "position empty": _meta(stream_position=""),
    "position trailing newline": _meta(stream_position="2/7C0071A8.3.2/7C0071A8\n"),
    "xid float": _meta(transaction_id=1.5),
    "xid beyond int64": _meta(transaction_id=2**63),
    "xid string": _meta(transaction_id="5"),
    "xid boolean": _meta(transaction_id=True),
    "record id null": _meta(transaction_record_id=None),
    "record id negative": _meta(transaction_record_id=-1),
    "operation unknown": _meta(operation="truncate"),
    "operation list": _meta(operation=["insert"]),
    "operation null": _meta(operation=None),
    "operation case": _meta(operation="INSERT"),
    "record-type unknown": _meta(record_type="ddl"),
    "record-type missing": _meta(record_type=_DROP),
    "control record": _control_inside,
    "table without contract": _meta(table_name="things"),
    "DMS table": _meta(table_name="awsdms_apply_exceptions"),
    "schema empty": _meta(schema_name=""),
    "schema other": _meta(schema_name="private"),
    "table name object": _meta(table_name={"name": "employees"}),
    "table name list": _meta(table_name=["employees"]),
    "table name slash": _meta(table_name="a/b"),
    "table name null": _meta(table_name=None),
    "metadata unknown key": _meta(foo={"deep": [1, [2]]}),
    "metadata prev ids": _meta(prev_transaction_id=5, prev_transaction_record_id=1),
    "metadata prev id string": _meta(prev_transaction_id="5"),
    "partition value number": _meta(partition_key_value=5),
    "before-image same key": _update(_key_same),
    "before-image other key": _update(_key_plus_one),
    "before-image empty": _update(_top("before-image", {})),
    "before-image null": _update(_top("before-image", None)),
    "before-image key null": _update(_top("before-image", {"id": None})),
    "before-image string": _update(_top("before-image", "x")),
    "before-image more columns": _update(_top("before-image", {"id": 1, "first_name": "x"})),
    "before-image on a delete": _meta(operation="delete"),
    "before-image null on an insert": _top("before-image", None),
}


def _line_dup_key(line: bytes) -> bytes:
    return line.replace(b'"data": {', b'"data": {"id": -1, ', 1)


def _line_dup_meta(line: bytes) -> bytes:
    return line.replace(b'"metadata": {', b'"metadata": {"operation": "load", ', 1)


def _line_bad_utf8(line: bytes) -> bytes:
    return line.replace(b'"first_name": "', b'"first_name": "\xff', 1)


def _line_surrogate_bytes(line: bytes) -> bytes:
    return line.replace(b'"first_name": "', b'"first_name": "\xed\xa0\x80', 1)


def _line_overlong(line: bytes) -> bytes:
    return line.replace(b'"first_name": "', b'"first_name": "\xc0\xaf', 1)


def _line_nan(line: bytes) -> bytes:
    return line.replace(b'"metadata": {', b'"metadata": {"nan": NaN, ', 1)


def _line_infinity(line: bytes) -> bytes:
    return line.replace(b'"data": {', b'"data": {"x": -Infinity, ', 1)


def _line_escaped_key(line: bytes) -> bytes:
    return line.replace(b'"data"', b'"d\\u0061ta"', 1)


def _line_escaped_dup(line: bytes) -> bytes:
    return line.replace(b'"data": {', b'"data": {"\\u0069d": 7, ', 1)


def _line_deep(line: bytes) -> bytes:
    return line.replace(b'"metadata": {', b'"metadata": {"deep": ' + b"[" * 3000 + b"]" * 3000 + b", ", 1)


def _line_dup_before(line: bytes) -> bytes:
    at = line.find(b'"before-image": {')
    if at < 0:
        return line.replace(b'"data": {', b'"before-image": {"id": 0, "id": 1}, "data": {', 1)
    return line.replace(b'"before-image": {', b'"before-image": {"id": -5, ', 1)


def _line_trailing_comma(line: bytes) -> bytes:
    return line[: line.rindex(b"}")] + b", }" + line[line.rindex(b"}") + 1 :]


# line-level hazards: bytes a JSON encoder would not write, framing oddities
LINE_HAZARDS = {
    "duplicate data key": _line_dup_key,
    "duplicate metadata key": _line_dup_meta,
    "duplicate before-image key": _line_dup_before,
    "escaped before-image key": lambda line: line.replace(b'"before-image"', b'"before\\u002dimage"', 1),
    "before-image with blanks": lambda line: line.replace(b'"before-image": {}', b'"before-image" : { }', 1),
    "invalid UTF-8": _line_bad_utf8,
    "UTF-8 encoded surrogate": _line_surrogate_bytes,
    "overlong UTF-8": _line_overlong,
    "NaN": _line_nan,
    "-Infinity": _line_infinity,
    "escaped key": _line_escaped_key,
    "duplicate key by escape": _line_escaped_dup,
    "nested 3000 deep": _line_deep,
    "trailing comma": _line_trailing_comma,
    "CRLF": lambda line: line + b"\r",
    "trailing blanks": lambda line: line + b" \t ",
    "leading blanks": lambda line: b"  " + line,
    "blank line before": lambda line: b"\n \r\n" + line,
    "two records on a line": lambda line: line + line,
    "two records, a blank between": lambda line: line + b" " + line,
    "records split by CR": lambda line: line + b"\r" + line,
    "form feed after": lambda line: line + b"\x0c",
    "vertical tab after": lambda line: line + b"\x0b",
    "NUL after": lambda line: line + b"\x00",
    "byte-order mark": lambda line: b"\xef\xbb\xbf" + line,
    "no-break space after": lambda line: line + b"\xc2\xa0",
    "cut short": lambda line: line[: len(line) // 2],
    "garbage line before": lambda line: b"@@ not json @@\n" + line,
    "a bare number": lambda line: b"12345",
    "an array": lambda line: b"[1, 2]",
    "pretty record": lambda line: json.dumps(json.loads(line), indent=2).encode(),
    "comment after": lambda line: line + b" // c",
    "single quotes": lambda line: line.replace(b'"load"', b"'load'", 1).replace(b'"insert"', b"'insert'", 1),
}


def render(record: dict[str, Any], style: int) -> bytes:
    if style == 0:
        return json.dumps(record).encode("utf-8", "surrogatepass")
    if style == 1:
        return json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def body_of(lines: list[bytes], compress: bool) -> bytes:
    body = b"".join(line + b"\n" for line in lines)
    return gzip.compress(body) if compress else body
