"""Clean blocks of ``json-unformatted`` lines, parsed into columns by ``pyarrow.json`` at once.

The framer offers complete lines a block at a time (``framing.Block``). A
block is *taken* here only when the per-record path (``core``: framing,
envelope checks, ``batch.TableShape.build``) would give exactly the same
outcome for every record in it: each one a written row of one table with a
contract, none quarantined, none skipped, no key change. Anything else, or
anything this module cannot prove, declines the block and the per-record
path frames it as if nothing had happened — so the fast path can only ever
be faster, never different. ``tests/test_blocks.py`` checks that claim on
random and hostile blocks (differentially: same trusted rows, quarantine,
counts).

Why pyarrow's answer can be trusted when it parses: it is given an explicit
schema for the whole record (``unexpected_field_behavior="error"``: an
unknown key anywhere fails the block, so nothing is parsed by inference and
no value is nested deeper than a column), and with that it refuses, in the
cases the per-record path would treat differently:
a JSON type other than the column's (``1`` for a string, ``"1"``, ``1.0``,
``1e2`` or ``true`` for an integer, an object or array for a string), an
integer beyond int64, a duplicate key, a lone surrogate escape, NaN and
Infinity, control characters in strings, trailing commas and comments.
That pyarrow (the Lambda's comes from the managed pandas layer, its version
differs by region) behaves so is checked once per process on canary lines
(``pyarrow_fits``); if not, no block is offered. Checked here because
pyarrow does not: invalid UTF-8 (it would keep the
bytes; the block is decoded strictly first), a byte-order mark at the start
(it would skip it), a key given as ``null`` versus missing where the two
differ (``before-image``: counted in the bytes).

Then, vectorised over the block, the rules of the per-record path: one
``schema-name``/``table-name`` (a table with a contract, written), every
record a ``data`` record of a known operation with a ``data`` object, the
commit timestamp chosen as in ``core`` and ending in ``Z`` (its date is the
partition), every column passing its type's batch check with no row to look
at (``columns.ColumnType.fast``), required columns present, log positions
parsed per array (``schema.lsns_of``), and a ``before-image`` on an update
holding the same key. The Arrow table built is the one
``TableShape.build`` builds for the same rows: same column functions, same
change ids (``TableShape.change_ids``).
"""

from __future__ import annotations

import codecs
import functools
import json
import re

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from .batch import COMMIT_TS, TableShape
from .columns import ARROW_ERRORS
from .contracts import Contract
from .schema import lsns_of

BLOCK_BYTES = 2 << 20  # lines offered together: large enough that pyarrow's fixed costs vanish
PEEL_LINES = 16  # control records at a block's start left to the per-record path, at most
_BEFORE = b'"before-image"'
_ESCAPED_ASCII = re.compile(rb"\\u00[2-7][0-9A-Fa-f]")  # a printable ASCII character as a \u escape
_EMPTY = (b'"before-image": {}', b'"before-image":{}')  # an empty before-image, as JSON encoders write it
_OPERATIONS = pa.array(["load", "insert", "update", "delete"])
_INT = pa.int64()
_STR = pa.string()
# The DMS metadata of a data record (PostgreSQL source, transaction details on). A key not listed
# here declines the block: the per-record path handles it (and ignores the ones it does not use).
_METADATA = pa.struct(
    [
        ("timestamp", _STR),
        ("record-type", _STR),
        ("operation", _STR),
        ("partition-key-type", _STR),
        ("partition-key-value", _STR),
        ("schema-name", _STR),
        ("table-name", _STR),
        ("transaction-id", _INT),
        ("commit-timestamp", _STR),
        ("stream-position", _STR),
        ("transaction-record-id", _INT),
        ("prev-transaction-id", _INT),
        ("prev-transaction-record-id", _INT),
    ]
)


class Reader:
    """Parses and checks the blocks of one table with a contract."""

    def __init__(self, shape: TableShape, source_key: str):
        contract: Contract = shape.contract  # type: ignore[assignment]
        self.shape = shape
        self._source_key = pa.scalar(source_key, _STR)
        self.contract = contract
        self.schema = shape.schema()
        parse_types = {c.name: _INT if c.type.name == "integer" else _STR for c in contract.columns}
        fields = [
            ("data", pa.struct([(c.name, parse_types[c.name]) for c in contract.columns])),
            ("metadata", _METADATA),
        ]
        if contract.primary_key:
            fields.append(("before-image", pa.struct([(k, parse_types[k]) for k in contract.primary_key])))
        self._parse = pj.ParseOptions(
            explicit_schema=pa.schema(fields), unexpected_field_behavior="error", newlines_in_values=False
        )

    def read(self, data: bytes, end: int, names: tuple[str, str], seq: int) -> tuple[int, list] | None:
        """The block ``data[:end]`` as (its number of records, [(commit date, Arrow table of its rows in
        order)]), or None when the per-record path must take it. ``seq``: records before the block."""
        try:
            table = pj.read_json(
                pa.BufferReader(pa.py_buffer(data)[:end]),
                read_options=pj.ReadOptions(use_threads=False, block_size=end + 1),
                parse_options=self._parse,
            )
        except (pa.ArrowException, ValueError):
            return None
        try:
            return self._check(table, data, end, names, seq)
        except ARROW_ERRORS:  # nothing of the kind expected; declining is always safe
            return None

    def _check(self, table: pa.Table, data: bytes, end: int, names: tuple[str, str], seq: int) -> tuple | None:
        n = table.num_rows
        if n == 0:
            return None
        record = table.combine_chunks().to_batches()[0]
        values, meta = record.column(0), record.column(1)
        if values.null_count or meta.null_count:
            return None
        field = meta.field
        if not (_all_equal(field("schema-name"), names[0]) and _all_equal(field("table-name"), names[1])):
            return None
        if not _all_equal(field("record-type"), "data"):
            return None
        op = field("operation")
        if op.null_count or not pc.all(pc.is_in(op, value_set=_OPERATIONS)).as_py():
            return None
        # core: ts = timestamp for a load, else commit-timestamp or (when null or '') timestamp
        commit = field("commit-timestamp")
        use_commit = pc.and_(pc.not_equal(op, "load"), pc.fill_null(pc.not_equal(commit, ""), False))
        ts = pc.if_else(use_commit, commit, field("timestamp"))
        if ts.null_count or not pc.all(pc.ends_with(ts, "Z")).as_py():
            return None
        contract, shape = self.contract, self.shape
        deletes = None
        arrays: list[pa.Array] = []
        for column in contract.columns:
            sent = values.field(column.name)
            try:
                array, bad = column.type.fast(sent)  # type: ignore[misc]
            except ARROW_ERRORS:
                return None
            if bad is not None and pc.any(bad).as_py():
                return None  # a row to look at: the per-record path gives its reason
            if array.null_count:
                if column.name in shape.key:
                    return None
                if not column.nullable:  # allowed on deletes only
                    deletes = pc.equal(op, "delete") if deletes is None else deletes
                    if not pc.all(pc.or_(deletes, pc.is_valid(array))).as_py():
                        return None
            arrays.append(array)
        if self.contract.primary_key and not self._same_keys(data, end, record, op, arrays):
            return None
        try:
            commit_ts, bad = COMMIT_TS.fast(ts)  # type: ignore[misc]
        except ARROW_ERRORS:
            return None
        if bad is not None and pc.any(bad).as_py():
            return None
        position = field("stream-position")
        lsn = lsns_of(position)
        if lsn is None:
            return None
        ids = [field("transaction-id"), field("transaction-record-id")]
        arrays.append(pa.nulls(n, _STR))  # _extra: no key beyond the contract's (else pyarrow refused)
        change = shape.change_ids(None, arrays, op, position, ids, ts, ())
        seqs = pa.array(range(seq + 1, seq + n + 1), type=_INT)
        arrays += [op, commit_ts, lsn, position, *ids, change, pa.repeat(self._source_key, n), seqs]
        rows = pa.Table.from_arrays(arrays, schema=self.schema)
        days = pc.utf8_slice_codeunits(ts, 0, 10)
        found = pc.unique(days).to_pylist()
        if len(found) == 1:
            return n, [(found[0], rows)]
        return n, [(day, rows.filter(pc.equal(days, day))) for day in found]

    def _same_keys(self, data: bytes, end: int, record: pa.RecordBatch, op: pa.Array, arrays: list) -> bool:
        """What the per-record path does with an update's before-image, when it writes no key change:
        there is none, or it is ``{}``, or it holds the record's key. pyarrow gives null for a missing
        before-image and for ``null`` (which the per-record path quarantines), and nulls for ``{}``
        and for ``{"id": null}`` (a key change to a null key): told apart by counting in the bytes."""
        before = record.column(2)
        update = pc.equal(op, "update")
        if not pc.any(update).as_py():
            return True  # only an update's before-image is looked at
        if before.null_count and pc.any(pc.and_(update, pc.is_null(before))).as_py():
            # missing, or null? The key counted in the bytes must be the before-images pyarrow saw
            # (so none is null); a key spelled with escapes would not be counted: none may be.
            if data.find(b"\\u00", 0, end) >= 0 and _ESCAPED_ASCII.search(data, 0, end):
                return False
            if data.find(_BEFORE, 0, end) >= 0 and data.count(_BEFORE, 0, end) != len(before) - before.null_count:
                return False  # some before-image is null (or the key's text is in a value)
        names, keys = self.contract.names, self.contract.primary_key
        olds = [before.field(key) for key in keys]
        present = pc.is_valid(before)
        holes = pc.and_(present, functools.reduce(pc.or_, [pc.is_null(old) for old in olds]))
        count = pc.sum(holes).as_py()
        if count:  # objects with a key missing or null
            if sum(data.count(empty, 0, end) for empty in _EMPTY) != count:
                return False  # not all of them are {}: the per-record path decides
            present = pc.and_(present, pc.invert(holes))
        update = pc.and_(update, present)
        for key, old in zip(keys, olds, strict=True):
            same = pc.fill_null(pc.equal(old, arrays[names.index(key)]), False)
            if not pc.all(pc.or_(pc.invert(update), same)).as_py():
                return False  # a key change: the per-record path writes the delete of the old key
        return True


def _all_equal(array: pa.Array, value: str) -> bool:
    return not array.null_count and pc.all(pc.equal(array, value)).as_py() is True


def first_record(data: bytes, end: int) -> tuple[int, tuple[str, str]] | None:
    """Where the block's clean part can start, and the (schema-name, table-name) of the data record
    there: after the DMS control records at its start (at most ``PEEL_LINES``), which the per-record
    path takes. None when a line before it is anything else (a pretty record, not a record...)."""
    at = 0
    for _peeled in range(PEEL_LINES):
        if data[at : at + 1] != b"{":  # also: no byte-order mark, which pyarrow would skip
            return None
        stop = data.find(b"\n", at, end)
        line = data[at:stop].rstrip(b" \t\r")
        if line[-1:] != b"}":
            return None  # a pretty (json framing) record, or not a record
        try:
            meta = json.loads(line).get("metadata")
            kind, names = meta.get("record-type"), (meta.get("schema-name"), meta.get("table-name"))
        except (ValueError, AttributeError, RecursionError):
            return None
        if kind == "data":
            return (at, names) if isinstance(names[0], str) and isinstance(names[1], str) else None
        if kind != "control" or stop + 1 >= end:
            return None
        at = stop + 1
    return None


def valid_utf8(data: bytes, end: int) -> bool:
    try:
        codecs.utf_8_decode(memoryview(data)[:end], "strict", True)
    except UnicodeDecodeError:
        return False
    return True


# What the block path relies on pyarrow.json to do, checked once per process against the pyarrow at
# hand (the Lambda's comes from the managed pandas layer, whose version differs by region): a line
# and the rows it must give, or None where it must refuse. Any other answer turns the block path off.
_ROW = b'{"data": {"id": 1, "s": "x"}, "metadata": {"m": "a"}}'
_CANARIES: tuple[tuple[bytes, list | None], ...] = (
    (
        b'{"data": {"id": -0, "s": "x\\u00e9\\ud83d\\ude00\\n\\u0000\\/\\"\xc3\xa9"}, "metadata": null}',
        [{"data": {"id": 0, "s": 'x\u00e9\U0001f600\n\x00/"\u00e9'}, "metadata": None}],
    ),
    (b'{"data": {"id": null}}', [{"data": {"id": None, "s": None}, "metadata": None}]),
    (b'{"data": {"id": 9223372036854775807, "s": ""}}', [{"data": {"id": 2**63 - 1, "s": ""}, "metadata": None}]),
    (b'{"data": {"id": -9223372036854775808}}', [{"data": {"id": -(2**63), "s": None}, "metadata": None}]),
    (_ROW + _ROW, [{"data": {"id": 1, "s": "x"}, "metadata": {"m": "a"}}] * 2),
    (_ROW + b"\r" + _ROW, [{"data": {"id": 1, "s": "x"}, "metadata": {"m": "a"}}] * 2),
    (b'{"data": {"id": 9223372036854775808}}', None),
    (b'{"data": {"id": -9223372036854775809}}', None),
    (b'{"data": {"id": 1.0}}', None),
    (b'{"data": {"id": 1e2}}', None),
    (b'{"data": {"id": true}}', None),
    (b'{"data": {"id": "1"}}', None),
    (b'{"data": {"id": NaN}}', None),
    (b'{"data": {"s": 1}}', None),
    (b'{"data": {"s": 1.5}}', None),
    (b'{"data": {"s": false}}', None),
    (b'{"data": {"s": {}}}', None),
    (b'{"data": {"s": []}}', None),
    (b'{"data": {"s": Infinity}}', None),
    (b'{"data": 3}', None),
    (b'{"data": "x"}', None),
    (b'{"data": []}', None),
    (b'{"data": {"id": 1, "id": 2}}', None),
    (b'{"data": {"id": 1}, "data": {"id": 2}}', None),
    (b'{"data": {"id": 1, "\\u0069d": 2}}', None),
    (b'{"data": {"id": 1, "x": 1}}', None),
    (b'{"data": {"id": 1}, "x": 1}', None),
    (b'{"metadata": {"m": "a", "x": [[[]]]}}', None),
    (b'{"data": {"s": "\\ud800"}}', None),
    (b'{"data": {"s": "\\udc00x"}}', None),
    (b'{"data": {"s": "\\ud800\\u0041"}}', None),
    (b'{"data": {"s": "a\x01b"}}', None),
    (b'{"data": {"s": "a\tb"}}', None),
    (b'{"data": {"s": "a\\qb"}}', None),
    (b'{"data": {"id": 1,}}', None),
    (b'{"data": {"id": 01}}', None),
    (b"{'data': {}}", None),
    (_ROW + b" x", None),
    (_ROW + b" // c", None),
    (_ROW + b"\x0c", None),
    (_ROW + b"\x0b", None),
    (b"[1]", None),
    (b"3", None),
)


@functools.cache
def pyarrow_fits() -> bool:
    """Whether this pyarrow reads and refuses exactly as the block path relies on (see _CANARIES)."""
    schema = pa.schema([("data", pa.struct([("id", _INT), ("s", _STR)])), ("metadata", pa.struct([("m", _STR)]))])
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error", newlines_in_values=False)
    for line, rows in _CANARIES:
        try:
            got = pj.read_json(
                pa.BufferReader(line + b"\n"), read_options=pj.ReadOptions(use_threads=False), parse_options=options
            ).to_pylist()
        except (pa.ArrowException, ValueError):
            got = None
        if got != rows:
            return False
    return True
