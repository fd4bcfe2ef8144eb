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
import sys
from array import array as machine_array
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

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


def lsns_of(positions: list[Any]) -> pa.Array | None:
    """``lsn_of`` for a whole batch, computed per array: None when some position is not a string of the
    form (or its LSN would not fit in int64), so the caller takes ``lsn_of`` row by row. Nulls stay null."""
    try:
        sent = pa.array(positions, type=pa.string())
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None
    n = len(sent)
    if sent.null_count == n:
        return pa.nulls(n, pa.int64())
    if not pc.all(pc.match_substring_regex(sent, f"^{_POSITION.pattern}$")).as_py():
        return None
    parts = pc.extract_regex(sent.fill_null("0/0.0.0/0"), r"^(?P<hi>[0-9A-Fa-f]+)/(?P<lo>[0-9A-Fa-f]+)\.")
    hi, lo = (pc.utf8_lpad(parts.field(name), 8, "0") for name in ("hi", "lo"))
    if pc.any(pc.greater(pc.utf8_slice_codeunits(hi, 0, 1), "7")).as_py():  # beyond int64
        return None
    words = machine_array("q", bytes.fromhex("".join(pc.binary_join_element_wise(hi, lo, "").to_pylist())))
    if sys.byteorder == "little":
        words.byteswap()  # fromhex gave big-endian words
    lsn = pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(words.tobytes())])
    return lsn if sent.null_count == 0 else pc.if_else(pc.is_valid(sent), lsn, pa.nulls(n, pa.int64()))


def contracted_schema(contract: Contract) -> pa.Schema:
    fields = [pa.field(c.name, c.type.arrow_type, nullable=c.nullable) for c in contract.columns]
    fields.append(pa.field(EXTRA, pa.string()))
    fields.extend(pa.field(name, arrow_type) for name, arrow_type in META_FIELDS)
    return pa.schema(fields)


def text_schema(names: list[str]) -> pa.Schema:
    return pa.schema([pa.field(n, pa.string()) for n in names] + [pa.field(n, t) for n, t in META_FIELDS])


def column_name_problem(name: str) -> str | None:
    """Why a data column of a table without a contract cannot be written, or None."""
    if name in RESERVED or name.lower() in RESERVED:  # Glue and Athena fold names to lower case
        return f"column {name!r} collides with a CDC column"
    if not name:
        return "empty column name"
    try:
        name.encode()
    except UnicodeEncodeError:
        return "column name with a lone surrogate"
    return None
