"""The transform's pure core: one raw Firehose object in, trusted Parquet and quarantine out.

Knows nothing of boto3 or of the S3 event: it reads a binary stream and
returns the files to write (spooled temporary files) with the counts. Every
record found by framing ends in exactly one of: a trusted Parquet file
(``written``), the quarantine file with its reason (``quarantined``), or
``skipped`` (DMS control records and DMS's own tables).
``read == written + quarantined + skipped`` per table (``accounting.py``).

Nothing inside a record can fail the object: values, types and shapes are
checked and a bad record is quarantined with its reason. Only infrastructure
failures (reading the input, writing temporary files) raise.

Output names derive from the source key only, so processing the same raw
object again replaces its outputs instead of adding duplicates.
"""

from __future__ import annotations

import gc
import hashlib
import posixpath
from collections import defaultdict
from dataclasses import dataclass
from typing import IO, Any

import pyarrow as pa

from .accounting import UNPARSED, TableCounts, TransformResult
from .batch import TableShape
from .blocks import BLOCK_BYTES, Reader, first_record, pyarrow_fits, valid_utf8
from .columns import parse_utc
from .contracts import CONTRACTS
from .framing import Block, Fragment, Framer, has_invalid_utf8, text_bytes
from .output import QuarantineWriter, TableWriter, spool
from .source import ByteSource

# Exact type checks (type(x) is dict) on the per-record path are deliberate:
# cheaper than isinstance, and they keep bool out where int is meant.
# pylint: disable=unidiomatic-typecheck

DATA_OPERATIONS = frozenset({"load", "insert", "update", "delete"})
BATCH_ROWS = 8_192  # rows of one table checked and converted together
MAX_PENDING = 16_384  # rows held as Python objects across all tables before everything is flushed
_ARROW_FAILURES = (pa.ArrowException, ValueError, TypeError, OverflowError, UnicodeError, RecursionError)


@dataclass(frozen=True, slots=True)
class TransformConfig:
    raw_prefix: str = "raw/"
    trusted_prefix: str = "trusted/"
    quarantine_prefix: str = "quarantine/"


def source_stem(source_key: str) -> str:
    """A deterministic, unique file stem for the outputs of one raw object."""
    base = posixpath.basename(source_key)
    for suffix in (".gz", ".json", ".jsonl"):
        base = base.removesuffix(suffix)
    digest = hashlib.sha256(source_key.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{base}-{digest}"


class _Table:
    """What the core knows of one schema.table: its counts, shape and whether it is written."""

    __slots__ = ("bad", "counts", "days", "getter", "name", "problem", "schema", "shape", "skip", "table", "width")

    def __init__(self, schema: Any, table: Any, counts: TableCounts):
        self.schema, self.table = schema, table  # type: ignore[attr-defined]
        self.counts = counts
        self.name = f"{schema}.{table}"
        self.skip = schema == "" or (type(table) is str and table.startswith("awsdms_"))
        self.problem = None if self.skip else _name_problem(schema) or _name_problem(table)
        self.bad = self.skip or self.problem is not None  # no data record of it is written
        self.shape = TableShape(CONTRACTS.get((schema, table)))
        self.days: dict[str, list[tuple]] = {}  # commit date -> its pending rows (a batch.Pending each)
        contract = self.shape.contract
        self.getter = contract.getter if contract is not None else None
        self.width = len(contract.names) if contract is not None else -1  # -1: never a length


def _name_problem(name: Any) -> str | None:
    if type(name) is not str or not name:
        return "no schema-name/table-name"
    # "=" would make the folder look like a Hive partition (key=value) to a Glue crawler
    if "/" in name or "=" in name or name in (".", "..") or not name.isprintable():
        return f"schema-name/table-name unusable in a key: {name!r:.60}"
    try:
        name.encode()
    except UnicodeEncodeError:
        return "schema-name/table-name with a lone surrogate"
    return None


class _Run:
    """The state of one transform_object call."""

    def __init__(self, source_key: str, config: TransformConfig):
        self.source_key = source_key
        self.config = config
        self.stem = source_stem(source_key)
        relative = source_key.removeprefix(config.raw_prefix)
        base = f"{config.quarantine_prefix}{posixpath.dirname(relative)}/{self.stem}".replace("//", "/")
        self.quarantine = QuarantineWriter(f"{base}.jsonl", f"{base}.fragments", source_key)
        self.counts: dict[str, TableCounts] = defaultdict(TableCounts)
        self.tables: dict[tuple[Any, Any], _Table] = {}
        self.groups: dict[tuple[_Table, str], list[tuple]] = {}  # (table, day) -> the same lists as _Table.days
        self.writers: dict[tuple[_Table, str], TableWriter] = {}
        self.readers: dict[tuple[Any, Any], Reader | None] = {}  # block readers of tables with a contract

    def table(self, schema: Any, table: Any) -> _Table:
        known = self.tables.get((schema, table))
        if known is None:
            state = _Table(schema, table, TableCounts())
            name = state.name if state.problem is None else UNPARSED
            state.counts = self.counts[name]
            state.name = name
            known = self.tables[(schema, table)] = state
        return known

    def reject(self, counts: TableCounts, name: str, reason: str, seq: int, text: str, start: int) -> None:
        counts.quarantined += 1
        data = text_bytes(text)
        if has_invalid_utf8(text):
            reason = f"invalid UTF-8 ({reason})"
        self.quarantine.add(reason, name, seq, start, data)

    def fragment(self, fragment: Fragment, seq: int) -> None:
        counts = self.counts[UNPARSED]
        counts.read += 1
        counts.quarantined += 1
        self.quarantine.add(fragment.reason, UNPARSED, seq, fragment.start, fragment.data, fragment.spill)

    # ------------------------------------------------------------------ batches

    def flush(self, key: tuple[_Table, str]) -> None:
        rows = self.groups.pop(key)
        state, day = key
        del state.days[day]
        if not rows:  # its only record was rejected while collected (a before-image not an object)
            return
        try:
            table, reasons = state.shape.build(rows, self.source_key)
        except _ARROW_FAILURES:
            if rows[0][6] == rows[-1][6]:  # isolated: this record (and its key change) cannot be converted
                table, reasons = None, {0: "could not be converted to its table's types"}
            else:  # find the culprit record by record: a key change's two rows stand or fall together
                first = 0
                while first < len(rows):
                    last = first + 1
                    while last < len(rows) and rows[last][6] == rows[first][6]:
                        last += 1
                    self.groups[key] = state.days[day] = rows[first:last]
                    self.flush(key)
                    first = last
                return
        for i, why in reasons.items():
            row = rows[i]
            seq, text, start, derived = row[6], row[7], row[8], row[10]
            if not derived:
                self.reject(state.counts, state.name, why, seq, text, start)
        state.counts.written += sum(1 for i, r in enumerate(rows) if not r[-1] and i not in reasons)
        if table is None or not table.num_rows:
            return
        self.write(key, table)

    def write(self, key: tuple[_Table, str], table: pa.Table) -> None:
        writer = self.writers.get(key)
        if writer is None:
            state, day = key
            out = f"{self.config.trusted_prefix}{state.schema}/{state.table}/dt={day}/{self.stem}.parquet"
            fixed = state.shape.schema() if state.shape.contract is not None else None
            writer = self.writers[key] = TableWriter(out, fixed)
        writer.add(table)

    def block(self, block: Block, seq: int) -> int:
        """Take a block of clean lines whole (``blocks.py``): its number of records, or 0 when the
        per-record path must frame it, or -1 when it frames only the start (``block.frame``)."""
        data, end = block.data, block.end
        found = first_record(data, end)
        if found is None:
            return 0
        at, names = found
        if at:  # control records first: the per-record path takes them, the rest is offered again
            block.frame = at
            return -1
        reader = self.readers.get(names, False)
        if reader is False:
            probe = _Table(*names, TableCounts())  # no side effect until a block is taken
            fit = not probe.bad and probe.shape.contract is not None and bool(probe.shape.key)
            reader = self.readers[names] = Reader(probe.shape, self.source_key) if fit else None
        if reader is None or not valid_utf8(data, end):
            return 0
        taken = reader.read(data, end, names, seq)
        if taken is None:
            return 0
        if self.groups:  # rows of the per-record path go first: a file's rows stay in record order
            self.flush_all()
        state = self.table(*names)
        n, days = taken
        state.counts.read += n
        state.counts.written += n
        for day, table in days:
            self.write((state, day), table)
        return n

    def flush_all(self) -> None:
        for key in list(self.groups):
            self.flush(key)

    def result(self, gzip_problem: Any) -> TransformResult:
        self.flush_all()
        if gzip_problem is not None:
            counts = self.counts[UNPARSED]
            counts.read += 1
            counts.quarantined += 1
            self.quarantine.add(gzip_problem.reason, UNPARSED, None, gzip_problem.start, b"", gzip_problem.spill)
        result = TransformResult(source_key=self.source_key)
        for (state, _day), writer in sorted(self.writers.items(), key=lambda kv: kv[1].key):
            result.outputs.append(writer.finish(state.shape.schema()))
        result.quarantine, result.quarantine_blob = self.quarantine.finish()
        result.counts = dict(self.counts)
        return result


def _day(ts: str) -> str:
    """The commit date (UTC) of a DMS timestamp: its first ten characters when it is in UTC."""
    if ts[-1:] == "Z":
        return ts[:10]
    try:
        return parse_utc(ts).date().isoformat()
    except (ValueError, OverflowError):
        return "invalid"


def transform_object(
    raw: IO[bytes], source_key: str, config: TransformConfig | None = None, block_bytes: int = BLOCK_BYTES
) -> TransformResult:
    """Read one raw object and return the trusted and quarantine files to write, with counts.

    ``block_bytes``: clean ``json-unformatted`` lines are offered to ``blocks.py`` this many bytes at
    a time (0: every record takes the per-record path; the outcome is the same either way)."""
    enabled = gc.isenabled()
    gc.disable()  # records are trees of fresh dicts: cyclic GC passes would only cost time
    if block_bytes and not pyarrow_fits():  # a pyarrow that reads otherwise than verified: no blocks
        block_bytes = 0
    try:
        return _transform(raw, source_key, config or TransformConfig(), block_bytes)
    finally:
        if enabled:
            gc.enable()


def _transform(raw: IO[bytes], source_key: str, config: TransformConfig, block_bytes: int) -> TransformResult:
    run = _Run(source_key, config)
    source = ByteSource(raw, spool)
    tables = run.tables
    operations = DATA_OPERATIONS
    seq = pending = 0
    declined = skip = 0  # blocks declined in a row; blocks not to offer (backing off after declines)
    for item in Framer(source.read, spool, block_bytes=block_bytes):
        if type(item) is not tuple:
            if type(item) is Block:
                if skip:
                    skip -= 1
                    continue
                taken = run.block(item, seq)
                if taken > 0:
                    item.taken = True
                    seq += taken
                    pending = declined = 0
                elif taken == 0:  # after 2, 3, 4, 5 declines in a row skip 1, 3, 7, 15 blocks: bounded waste
                    declined += 1
                    skip = (1 << min(declined - 1, 4)) - 1
                continue
            seq += 1
            run.fragment(item, seq)
            continue
        seq += 1
        value, text, start = item
        meta = value.get("metadata") if type(value) is dict else None
        if type(meta) is not dict:
            _unparsed(run, "no DMS metadata" if type(value) is dict else "not a JSON object", seq, text, start)
            continue
        get = meta.get
        try:
            state = tables[get("schema-name"), get("table-name")]
        except KeyError:
            state = run.table(get("schema-name"), get("table-name"))
        except TypeError:  # a name of an unhashable JSON type
            _unparsed(run, "schema-name/table-name not strings", seq, text, start)
            continue
        state.counts.read += 1
        record_type = get("record-type")
        op = get("operation")
        if record_type != "data" or state.bad or type(op) is not str or op not in operations:
            _not_data(run, state, value, meta, seq, text, start)
            continue
        data = value.get("data")
        if type(data) is not dict:
            run.reject(state.counts, state.name, "no data object", seq, text, start)
            continue
        ts = get("timestamp") if op == "load" else get("commit-timestamp") or get("timestamp")
        if type(ts) is not str:
            reason = f"metadata timestamp missing or not a string: {ts!r:.40}"
            run.reject(state.counts, state.name, reason, seq, text, start)
            continue
        day = ts[:10] if ts[-1:] == "Z" else _day(ts)
        rows = state.days.get(day)
        if rows is None:
            rows = state.days[day] = run.groups[(state, day)] = []
        if state.width == len(data):  # exactly the contract's columns, probably: read them while at hand
            try:
                values = state.getter(data)
            except KeyError:
                values = None
        else:
            values = None
        rows.append(  # a batch.Pending
            (
                data,
                op,
                ts,
                get("stream-position"),
                get("transaction-id"),
                get("transaction-record-id"),
                seq,
                text,
                start,
                values,
                False,
            )
        )
        pending += 1
        if op == "update" and "before-image" in value:
            problem = _key_change(rows, state, value.get("before-image"), data, ts, meta, seq)
            if problem:
                rows.pop()
                pending -= 1
                run.reject(state.counts, state.name, problem, seq, text, start)
                continue
            if rows[-1][-1]:
                pending += 1
        if len(rows) >= BATCH_ROWS:
            pending -= len(rows)
            run.flush((state, day))
        elif pending >= MAX_PENDING:
            run.flush_all()
            pending = 0
    return run.result(source.problem)


def _unparsed(run: _Run, reason: str, seq: int, text: str, start: int) -> None:
    counts = run.counts[UNPARSED]
    counts.read += 1
    run.reject(counts, UNPARSED, reason, seq, text, start)


def _not_data(run: _Run, state: _Table, value: dict, meta: dict, seq: int, text: str, start: int) -> None:
    """A record that is not a data change of a table that is written: skipped or quarantined."""
    record_type = meta.get("record-type")
    if record_type == "control" or state.skip:
        state.counts.skipped += 1
        if record_type == "control":
            _control(run, value, meta)
        return
    run.reject(state.counts, state.name, _envelope_problem(state, record_type, meta.get("operation")), seq, text, start)


def _envelope_problem(state: _Table, record_type: Any, op: Any) -> str:
    if state.problem is not None:
        return state.problem
    if record_type != "data":
        return f"unknown record-type {record_type!r:.40}"
    return f"unknown operation {op!r:.40}"


def _control(run: _Run, value: dict, meta: dict) -> None:
    """Remember a create-table's table definition: the key and column order of a table without a contract."""
    control = value.get("control")
    table_def = control.get("table-def") if type(control) is dict else None
    if meta.get("operation") != "create-table" or type(table_def) is not dict:
        return
    columns, key = table_def.get("columns"), table_def.get("primary-key")
    if type(columns) is not dict or not (key is None or (type(key) is list and all(type(k) is str for k in key))):
        return
    state = run.table(meta.get("schema-name"), meta.get("table-name"))
    state.shape.adopt(list(columns), key or ())


def _key_change(rows, state, before, data, ts, meta, seq) -> str | None:
    """Append the delete of the old key when an update's before-image holds a different key."""
    if type(before) is not dict:
        return f"before-image not an object: {type(before).__name__}"
    if not before:
        return None
    key = state.shape.key or tuple(before)
    if not all(k in before for k in key):
        return None
    old = {k: before[k] for k in key}
    if all(old[k] == data.get(k) and type(old[k]) is type(data.get(k)) for k in key):
        return None
    ids = meta.get("stream-position"), meta.get("transaction-id"), meta.get("transaction-record-id")
    rows.append((old, "delete", ts, *ids, seq, "", 0, None, True))
    return None


__all__ = ["TransformConfig", "TransformResult", "source_stem", "transform_object"]
