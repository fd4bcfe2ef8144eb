"""The text output of PostgreSQL's ``test_decoding`` plugin, parsed exactly (PostgreSQL 15).

``pg_logical_slot_peek_changes(slot, NULL, n, 'include-xids', '1', 'include-timestamp', '1')``
returns one row per event, its ``data`` being one of::

    BEGIN 737
    table public.t: INSERT: id[integer]:1 name[text]:'it''s' note[text]:null
    table public.t: UPDATE: old-key: id[integer]:2 new-tuple: id[integer]:3 ...
    table public.t: UPDATE: id[integer]:1 big[text]:unchanged-toast-datum
    table public.t: DELETE: id[integer]:3
    table public.t: DELETE: (no-tuple-data)
    table public.a, public.b: TRUNCATE: restart_seqs cascade
    message: transactional: 1 prefix: p, sz: 3 content:abc
    COMMIT 737 (at 2024-07-29 00:58:17.97434+00)

Identifiers are printed with ``quote_identifier`` (``"My Col"`` with ``""``
inside), a column as ``name[type]:value`` (type from ``format_type``, e.g.
``character varying``, ``integer[]``), values as ``null``,
``unchanged-toast-datum``, bare (integer, float and numeric types, ``true`` /
``false``), ``B'0101'`` (bit strings) or a quoted literal with ``''`` for a
quote. ``old-key:`` is the replica identity of the old row: the key columns
when the key changed (REPLICA IDENTITY DEFAULT), the whole old row with
REPLICA IDENTITY FULL, absent otherwise.

Values stay text here (``None`` for null, ``UNCHANGED_TOAST`` for an
unchanged TOASTed value); ``records`` maps them to DMS's JSON types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


class DecodingError(ValueError):
    """A line of test_decoding output that does not parse."""


class _Unchanged:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNCHANGED_TOAST"


UNCHANGED_TOAST = _Unchanged()

Row = dict[str, "str | _Unchanged | None"]


@dataclass(slots=True)
class Change:
    """One decoded row change: ``op`` is INSERT, UPDATE, DELETE or TRUNCATE."""

    schema: str
    table: str
    op: str
    new: Row | None = None
    old: Row | None = None
    types: dict[str, str] = field(default_factory=dict)
    truncated: list[tuple[str, str]] = field(default_factory=list)


def parse_begin(data: str) -> int | None:
    """The xid of ``BEGIN <xid>`` (None without include-xids)."""
    rest = data[6:].strip()
    return int(rest) if rest else None


def parse_commit(data: str) -> tuple[int | None, datetime | None]:
    """The xid and commit time of ``COMMIT <xid> (at <timestamp>)``."""
    rest = data[7:]
    xid: int | None = None
    when: datetime | None = None
    at = rest.find("(at ")
    head = rest if at < 0 else rest[:at]
    if head.strip():
        xid = int(head.strip())
    if at >= 0:
        when = parse_pg_timestamp(rest[at + 4 : rest.rindex(")")])
    return xid, when


def parse_pg_timestamp(text: str) -> datetime:
    """A ``timestamptz`` in PostgreSQL's ISO output (``2024-07-29 00:58:17.97434+00``) as an aware UTC datetime."""
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        raise DecodingError(f"not a timestamp: {text!r}") from None


def _identifier(data: str, pos: int, stops: str) -> tuple[str, int]:
    """A ``quote_identifier`` output at ``pos``: its name and the position after it."""
    if data.startswith('"', pos):
        out = []
        i = pos + 1
        while True:
            j = data.find('"', i)
            if j < 0:
                raise DecodingError(f"unterminated identifier at {pos}: {data[:200]!r}")
            out.append(data[i:j])
            if data.startswith('"', j + 1):
                out.append('"')
                i = j + 2
                continue
            return "".join(out), j + 1
    i = pos
    n = len(data)
    while i < n and data[i] not in stops:
        i += 1
    if i == pos:
        raise DecodingError(f"identifier expected at {pos}: {data[:200]!r}")
    return data[pos:i], i


def _qualified(data: str, pos: int) -> tuple[str, str, int]:
    schema, pos = _identifier(data, pos, ".")
    if not data.startswith(".", pos):
        raise DecodingError(f"schema.table expected: {data[:200]!r}")
    table, pos = _identifier(data, pos + 1, ":,")
    return schema, table, pos


def parse_header(data: str) -> tuple[str, str, str, int]:
    """``table <schema>.<table>: <OP>:``: schema, table, operation and where the tuple data starts.

    For TRUNCATE (which may name several tables) schema and table are the first one's.
    """
    if not data.startswith("table "):
        raise DecodingError(f"not a table change: {data[:200]!r}")
    schema, table, pos = _qualified(data, 6)
    while data.startswith(", ", pos):  # TRUNCATE of several tables
        _s, _t, pos = _qualified(data, pos + 2)
    if not data.startswith(": ", pos):
        raise DecodingError(f"': <operation>:' expected: {data[:200]!r}")
    end = data.find(":", pos + 2)
    if end < 0:
        raise DecodingError(f"operation expected: {data[:200]!r}")
    op = data[pos + 2 : end]
    return schema, table, op, end + 2 if data.startswith(" ", end + 1) else end + 1


def _value(data: str, pos: int) -> tuple[str | _Unchanged | None, int]:
    if data.startswith("'", pos):
        out = []
        i = pos + 1
        while True:
            j = data.find("'", i)
            if j < 0:
                raise DecodingError(f"unterminated literal at {pos}")
            out.append(data[i:j])
            if data.startswith("'", j + 1):
                out.append("'")
                i = j + 2
                continue
            return "".join(out), j + 1
    if data.startswith("B'", pos):
        j = data.find("'", pos + 2)
        if j < 0:
            raise DecodingError(f"unterminated bit string at {pos}")
        return data[pos + 2 : j], j + 1
    j = data.find(" ", pos)
    if j < 0:
        j = len(data)
    token = data[pos:j]
    if token == "null":
        return None, j
    if token == "unchanged-toast-datum":
        return UNCHANGED_TOAST, j
    return token, j


def parse_tuple(data: str, pos: int, types: dict[str, str], stop_at_new: bool = False) -> tuple[Row, int]:
    """Columns ``name[type]:value`` separated by spaces, from ``pos``; stops at ``new-tuple:`` if asked."""
    row: Row = {}
    n = len(data)
    while pos < n:
        if stop_at_new and data.startswith("new-tuple: ", pos):
            break
        name, pos = _identifier(data, pos, "[")
        if not data.startswith("[", pos):
            raise DecodingError(f"'[type]' expected after column {name!r}")
        end = data.find("]:", pos)
        if end < 0:
            raise DecodingError(f"']:' expected after column {name!r}")
        types[name] = data[pos + 1 : end]
        row[name], pos = _value(data, end + 2)
        if pos < n:
            if data[pos] != " ":
                raise DecodingError(f"space expected after column {name!r} at {pos}: {data[pos : pos + 40]!r}")
            pos += 1
    return row, pos


def parse_change(data: str) -> Change:
    """One ``table ...`` line as a Change."""
    schema, table, op, pos = parse_header(data)
    change = Change(schema, table, op)
    body = data[pos:]
    if op == "TRUNCATE":
        tables = []
        p = 6
        while True:
            s, t, p = _qualified(data, p)
            tables.append((s, t))
            if not data.startswith(", ", p):
                break
            p += 2
        change.truncated = tables
        return change
    if body.startswith("(no-tuple-data)"):
        return change
    if op == "INSERT":
        change.new, _ = parse_tuple(data, pos, change.types)
    elif op == "UPDATE":
        if body.startswith("old-key: "):
            change.old, pos = parse_tuple(data, pos + 9, change.types, stop_at_new=True)
            if not data.startswith("new-tuple: ", pos):
                raise DecodingError("new-tuple expected after old-key")
            pos += 11
        change.new, _ = parse_tuple(data, pos, change.types)
    elif op == "DELETE":
        change.old, _ = parse_tuple(data, pos, change.types)
    else:
        raise DecodingError(f"unknown operation {op!r}")
    return change
