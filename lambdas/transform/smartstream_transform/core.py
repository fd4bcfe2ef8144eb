"""The transform's pure core: one raw Firehose object in, trusted Parquet and quarantine out.

Knows nothing of boto3 or of the S3 event: it reads a binary stream and
returns the files to write with the counts. Every record read ends in exactly
one of: a trusted Parquet file (``written``), the quarantine file with its
reason (``quarantined``), or ``skipped`` (DMS control records, which must not
reach trusted data). ``read == written + quarantined + skipped`` per table.

Output names derive from the source key only, so processing the same raw
object again replaces its outputs instead of adding duplicates.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from .contracts import CONTRACTS, Contract, ContractViolation, to_utc_timestamp
from .records import Malformed, iter_documents

# Exact type checks (type(x) is dict) on the per-record path are deliberate:
# cheaper than isinstance, and they keep bool out where int is meant.
# pylint: disable=unidiomatic-typecheck

DATA_OPERATIONS = frozenset({"load", "insert", "update", "delete"})
UNPARSED = "_unparsed"

METADATA_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("_op", pa.string()),
    ("_commit_ts", pa.timestamp("us", tz="UTC")),
    ("_transaction_id", pa.string()),
    ("_source_key", pa.string()),
    ("_record_seq", pa.int64()),
)


@dataclass(frozen=True, slots=True)
class TransformConfig:
    raw_prefix: str = "raw/"
    trusted_prefix: str = "trusted/"
    quarantine_prefix: str = "quarantine/"


@dataclass(slots=True)
class TableCounts:
    read: int = 0
    written: int = 0
    quarantined: int = 0
    skipped: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.written + self.quarantined + self.skipped


@dataclass(frozen=True, slots=True)
class OutputFile:
    key: str
    body: bytes
    rows: int
    content_type: str


@dataclass(slots=True)
class TransformResult:
    source_key: str
    outputs: list[OutputFile] = field(default_factory=list)
    quarantine: OutputFile | None = None
    counts: dict[str, TableCounts] = field(default_factory=dict)

    @property
    def totals(self) -> TableCounts:
        total = TableCounts()
        for c in self.counts.values():
            total.read += c.read
            total.written += c.written
            total.quarantined += c.quarantined
            total.skipped += c.skipped
        return total

    def log_record(self) -> dict[str, Any]:
        """The structured log line: counts per table and in total."""
        return {
            "event": "transform",
            "source_key": self.source_key,
            "tables": {name: asdict(c) for name, c in sorted(self.counts.items())},
            "totals": asdict(self.totals),
            "balanced": all(c.balanced for c in self.counts.values()),
            "outputs": [o.key for o in self.outputs],
            "quarantine": self.quarantine.key if self.quarantine else None,
        }


def source_stem(source_key: str) -> str:
    """A deterministic, unique file stem for the outputs of one raw object."""
    base = posixpath.basename(source_key)
    for suffix in (".gz", ".json", ".jsonl"):
        base = base.removesuffix(suffix)
    digest = hashlib.sha256(source_key.encode()).hexdigest()[:12]
    return f"{base}-{digest}"


BATCH_ROWS = 16_384
_META_NAMES = tuple(name for name, _type in METADATA_FIELDS)
_META_TYPES = dict(METADATA_FIELDS)


class _Group:
    """Rows of one table and one commit date, on their way to one Parquet file.

    Rows of a table with a contract are value tuples (contract columns, then
    any columns the contract does not know, then the CDC metadata), turned
    into an Arrow record batch every BATCH_ROWS rows, or when the set of
    columns changes: Python objects are held for one batch at most. Rows of a
    table without a contract are kept as they came and typed once, at the end.
    """

    __slots__ = ("batches", "contract", "names", "pending", "rows", "untyped")

    def __init__(self, contract: Contract | None):
        self.contract = contract
        self.rows = 0
        self.batches: list[pa.Table] = []
        self.pending: list[tuple[Any, ...]] = []
        self.names: tuple[str, ...] = contract.names if contract else ()
        self.untyped: list[tuple[dict[str, Any], tuple[Any, ...]]] = []

    def append(self, values: tuple[Any, ...], extras: dict[str, Any] | None, meta: tuple[Any, ...]) -> None:
        self.rows += 1
        if self.contract is None:
            self.untyped.append((extras or {}, meta))
            return
        if extras is None:
            names = self.contract.names
        else:
            names = self.contract.names + tuple(extras)
            values = values + tuple(extras.values())
        if names is not self.names and names != self.names:
            self._flush()
            self.names = names
        self.pending.append(values + meta)
        if len(self.pending) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        assert self.contract is not None
        typed = self.contract.by_name
        fields, arrays = [], []
        for name, values in zip(self.names + _META_NAMES, zip(*self.pending, strict=True), strict=True):
            column = typed.get(name)
            if column is not None and column.cast_from_text:
                array = pa.array(values, type=pa.string()).cast(column.arrow_type)
            else:
                arrow_type = column.arrow_type if column is not None else _META_TYPES.get(name, pa.string())
                array = pa.array(values, type=arrow_type)
            fields.append(pa.field(name, array.type))
            arrays.append(array)
        self.batches.append(pa.Table.from_arrays(arrays, schema=pa.schema(fields)))
        self.pending = []

    def _untyped_table(self) -> pa.Table:
        names: dict[str, None] = {}
        for data, _meta in self.untyped:
            names.update(dict.fromkeys(data))
        fields, arrays = [], []
        for name in names:
            arrow_type, values = infer_column([data.get(name) for data, _meta in self.untyped])
            fields.append(pa.field(name, arrow_type))
            arrays.append(pa.array(values, type=arrow_type))
        for i, (name, arrow_type) in enumerate(METADATA_FIELDS):
            fields.append(pa.field(name, arrow_type))
            arrays.append(pa.array([meta[i] for _data, meta in self.untyped], type=arrow_type))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def to_parquet(self) -> bytes:
        if self.contract is None:
            table = self._untyped_table()
        else:
            self._flush()
            table = pa.concat_tables(self.batches, promote_options="default")
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="snappy")
        return sink.getvalue()


def infer_column(values: list[Any]) -> tuple[pa.DataType, list[Any]]:
    """Type of a column of a table without a contract: the narrowest that holds every value."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.string(), values
    if kinds == {bool}:
        return pa.bool_(), values
    if kinds == {int}:
        if all(-(2**63) <= v < 2**63 for v in values if v is not None):
            return pa.int64(), values
    elif kinds <= {int, float}:
        return pa.float64(), [None if v is None else float(v) for v in values]
    if kinds == {str}:
        return pa.string(), values
    return pa.string(), [None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values]


def validate_row(contract: Contract, data: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any] | None]:
    """The row's typed, normalised values in contract order, and the columns the contract
    does not know (kept as text; None when there are none). Raises ContractViolation
    naming the column and the reason."""
    values = []
    get = data.get
    for name, convert, nullable, empty_as_null, text_max_length in contract.plan:
        value = get(name)
        if value is None or (empty_as_null and value == ""):
            if not nullable:
                raise ContractViolation(f"{name}: required, missing")
            values.append(None)
        elif text_max_length is not None and type(value) is str and len(value) <= text_max_length:
            values.append(value)
        else:
            try:
                values.append(convert(value))
            except ContractViolation as exc:
                raise ContractViolation(f"{name}: {exc}") from None
    extras = None
    if not data.keys() <= contract.by_name.keys():
        extras = {
            name: None if value is None else value if isinstance(value, str) else json.dumps(value)
            for name, value in data.items()
            if name not in contract.by_name
        }
    return tuple(values), extras or None


def transform_object(raw: IO[bytes], source_key: str, config: TransformConfig | None = None) -> TransformResult:
    """Read one raw object and return the trusted and quarantine files to write, with counts."""
    config = config or TransformConfig()
    result = TransformResult(source_key=source_key)
    counts: dict[str, TableCounts] = defaultdict(TableCounts)
    groups: dict[tuple[str, str, date], _Group] = {}
    rejects: list[str] = []
    commit_times: dict[str, tuple[Any, date]] = {}
    counts_by_table: dict[tuple[Any, Any], tuple[str, TableCounts]] = {}

    def reject(table: str, seq: int, reason: str, text: str) -> None:
        counts[table].quarantined += 1
        rejects.append(
            json.dumps(
                {"reason": reason, "table": table, "source_key": source_key, "position": seq, "record": text},
                ensure_ascii=False,
            )
        )

    seq = 0
    for value, buf, start, end in iter_documents(raw):
        seq += 1
        meta = value.get("metadata") if type(value) is dict else None
        if type(meta) is not dict:
            counts[UNPARSED].read += 1
            if isinstance(value, Malformed):
                reject(UNPARSED, seq, value.reason, value.text)
            else:
                reason = "no DMS metadata" if isinstance(value, dict) else "not a JSON object"
                reject(UNPARSED, seq, reason, buf[start:end])
            continue
        schema = meta.get("schema-name")
        table = meta.get("table-name")
        table_key = (schema, table)
        known = counts_by_table.get(table_key)
        if known is None:
            known_name = f"{schema}.{table}" if table else UNPARSED
            known = counts_by_table[table_key] = (known_name, counts[known_name])
        name, table_counts = known
        table_counts.read += 1
        record_type = meta.get("record-type")
        if record_type == "control" or schema == "" or (isinstance(table, str) and table.startswith("awsdms_")):
            table_counts.skipped += 1
            continue
        if record_type != "data":
            reject(name, seq, f"unknown record-type {record_type!r}", buf[start:end])
            continue
        operation = meta.get("operation")
        if operation not in DATA_OPERATIONS:
            reject(name, seq, f"unknown operation {operation!r}", buf[start:end])
            continue
        if type(schema) is not str or type(table) is not str or not table:
            reject(name, seq, "no schema-name/table-name", buf[start:end])
            continue
        data = value.get("data")
        if type(data) is not dict:
            reject(name, seq, "no data object", buf[start:end])
            continue
        try:
            ts_text = meta.get("commit-timestamp") or meta.get("timestamp")
            when = commit_times.get(ts_text) if type(ts_text) is str else None
            if when is None:
                commit_ts = to_utc_timestamp(ts_text)
                when = (commit_ts, commit_ts.date())
                if len(commit_times) < 100_000:  # records of one transaction or load share a timestamp
                    commit_times[ts_text] = when
            contract = CONTRACTS.get(table_key)
            values, extras = validate_row(contract, data) if contract else ((), data)
        except ContractViolation as exc:
            reject(name, seq, str(exc), buf[start:end])
            continue
        group_key = (schema, table, when[1])
        group = groups.get(group_key)
        if group is None:
            group = groups[group_key] = _Group(contract)
        txid = meta.get("transaction-id")
        group.append(values, extras, (operation, when[0], None if txid is None else str(txid), source_key, seq))
        table_counts.written += 1

    stem = source_stem(source_key)
    for (schema, table, day), group in sorted(groups.items()):
        key = f"{config.trusted_prefix}{schema}/{table}/dt={day.isoformat()}/{stem}.parquet"
        result.outputs.append(OutputFile(key, group.to_parquet(), group.rows, "application/vnd.apache.parquet"))
    if rejects:
        relative = source_key.removeprefix(config.raw_prefix)
        key = f"{config.quarantine_prefix}{posixpath.dirname(relative)}/{stem}.jsonl".replace("//", "/")
        body = ("\n".join(rejects) + "\n").encode()
        result.quarantine = OutputFile(key, body, len(rejects), "application/x-ndjson")
    result.counts = dict(counts)
    return result
