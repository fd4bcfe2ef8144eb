"""The trusted schema of a table: its data columns, then the CDC columns, the same in every file.

- A table with a contract (``contracts.CONTRACTS``): the contract's columns
  and types, then ``_extra`` (text: a JSON object of the columns the contract
  does not know, null when there are none).
- A table without one: every column as text (``columns.as_text``: the exact
  JSON text of the value), in the order of the DMS ``create-table`` table
  definition when the object holds one, then as first seen. Text because a
  table definition reaches only the object that holds it: typing from it would
  give the same column different types in different files.

CDC columns (every table):

| column | type | meaning |
|---|---|---|
| ``_op`` | string | load, insert, update, delete |
| ``_commit_ts`` | timestamp(us, UTC) | commit-timestamp (CDC) or timestamp (load) |
| ``_lsn`` | int64 | log position: the first LSN of stream-position; null for load |
| ``_stream_position`` | string | DMS stream-position as sent; null for load |
| ``_transaction_id`` | int64 | PostgreSQL xid (not in commit order) |
| ``_transaction_record_id`` | int64 | the change's number in its transaction |
| ``_change_id`` | string | identity of the change: equal for a redelivered copy |
| ``_source_key`` | string | the raw object |
| ``_record_seq`` | int64 | the record's number in the raw object (framing order, from 1) |
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from .contracts import Contract

# Exact type checks (type(x) is dict) on the per-record path are deliberate:
# cheaper than isinstance, and they keep bool out where int is meant.
# pylint: disable=unidiomatic-typecheck

META_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("_op", pa.string()),
    ("_commit_ts", pa.timestamp("us", tz="UTC")),
    ("_lsn", pa.int64()),
    ("_stream_position", pa.string()),
    ("_transaction_id", pa.int64()),
    ("_transaction_record_id", pa.int64()),
    ("_change_id", pa.string()),
    ("_source_key", pa.string()),
    ("_record_seq", pa.int64()),
)
EXTRA = "_extra"
META_NAMES = frozenset(name for name, _type in META_FIELDS)
# data columns that cannot be written beside the CDC columns (dt is the partition column)
RESERVED = META_NAMES | {EXTRA, "dt"}

# PostgreSQL source: "00000002/7C007178.3.00000002/7C007178"
_POSITION = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})\.[0-9]+\.[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}")


def lsn_of(stream_position: Any) -> int:
    """The log sequence number that orders a change: the first LSN of its stream-position."""
    match = _POSITION.fullmatch(stream_position) if type(stream_position) is str else None
    if match is None:
        raise ValueError(f"stream-position is not a PostgreSQL log position: {stream_position!r:.60}")
    return int(match.group(1), 16) << 32 | int(match.group(2), 16)


def contracted_schema(contract: Contract) -> pa.Schema:
    fields = [pa.field(c.name, c.type.arrow_type, nullable=c.nullable) for c in contract.columns]
    fields.append(pa.field(EXTRA, pa.string()))
    fields.extend(pa.field(name, arrow_type) for name, arrow_type in META_FIELDS)
    return pa.schema(fields)


def text_schema(names: list[str]) -> pa.Schema:
    return pa.schema([pa.field(n, pa.string()) for n in names] + [pa.field(n, t) for n, t in META_FIELDS])


def column_name_problem(name: str) -> str | None:
    """Why a data column of a table without a contract cannot be written, or None."""
    if name in RESERVED:
        return f"column {name!r} collides with a CDC column"
    if not name:
        return "empty column name"
    try:
        name.encode()
    except UnicodeEncodeError:
        return "column name with a lone surrogate"
    return None
