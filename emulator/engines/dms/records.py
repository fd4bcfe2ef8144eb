"""The DMS record format on a Kinesis target: envelope, metadata, type mapping, partition keys.

What a record looks like (AWS_FACTS "DMS record envelope", the records
captured from a real task in crate/commons-codec's tests, and the DMS user
guide "Using Amazon Kinesis Data Streams as a target"):

- ``{"data": {...}, "before-image": {...}?, "control": {...}?, "metadata": {...}}``;
  metadata keys in this order: timestamp, record-type, operation,
  partition-key-type, partition-key-value?, schema-name, table-name,
  transaction-id?, transaction-record-id?, prev-transaction-id?,
  prev-transaction-record-id?, commit-timestamp?, stream-position?.
- ``timestamp`` (when the record was made) and ``commit-timestamp`` in ISO 8601
  with microseconds and ``Z``; ``transaction-id`` the PostgreSQL xid (a JSON
  integer) on every CDC data record; with IncludeTransactionDetails also
  transaction-record-id (1, 2, ... within the transaction), prev-transaction-id
  and prev-transaction-record-id (the previous transaction this task wrote and
  its last record id; absent for the first transaction of a run),
  commit-timestamp and stream-position.
- stream-position (this emulator's format, documented): ``<commit LSN>.<transaction-record-id>.<change LSN>``,
  each LSN as DMS prints it, ``%08X/%08X`` (e.g. ``00000002/7C007178.1.00000002/7C006F10``).
- Partition keys: full-load records ``primary-key`` (``schema.table.key`` with
  PartitionIncludeSchemaTable, else ``key``; a composite key's values joined
  by ``.``), ``schema-table`` for a table without a primary key; CDC records
  ``schema-table`` (DMS's single-threaded apply keeps a table's changes in one
  shard), ``primary-key`` when TargetMetadata.ParallelApplyThreads > 0;
  control records ``task-id``. ``partition-key-value`` is in the metadata only
  with IncludePartitionValue and never for schema-table.
- Data types (PostgreSQL source): smallint/integer/bigint/oid JSON numbers;
  real/double JSON numbers (NaN/Infinity as text); NUMERIC as text exactly as
  PostgreSQL prints it; BOOLEAN ``"true"``/``"false"`` (JSON booleans with
  PostgreSQLSettings.MapBooleanAsBoolean); BYTEA hex with ``0x`` (no prefix
  with KinesisSettings.NoHexPrefix); TIMESTAMP/TIMESTAMPTZ
  ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (TIMESTAMPTZ in UTC); everything else
  (DATE, TIME, INTERVAL, UUID, JSON/JSONB, arrays, XML, ...) as PostgreSQL's text.
- Without IncludeNullAndEmpty, columns that are null or the empty string are left out.
- MessageFormat ``json``: indented (4 spaces), no trailing newline;
  ``json-unformatted``: one compact line ending in ``\\n``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator.engines.dms.decoding import UNCHANGED_TOAST

INTEGER_TYPES = frozenset({"smallint", "integer", "bigint", "oid"})
FLOAT_TYPES = frozenset({"real", "double precision"})
# Types DMS treats as LOBs (excluded from a ColumnFilter=non-lob before-image).
LOB_TYPES = frozenset({"text", "bytea", "json", "jsonb", "xml", "tsvector", "tsquery", "hstore"})


def iso_utc(when: datetime) -> str:
    """``2024-07-29T00:58:17.974340Z``: ISO 8601, microseconds, Z."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dms_lsn(lsn: str) -> str:
    """PostgreSQL's ``2/7C007178`` as DMS prints it, ``00000002/7C007178``."""
    high, _, low = lsn.partition("/")
    return f"{int(high, 16):08X}/{int(low, 16):08X}"


def lsn_int(lsn: str) -> int:
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def _integer(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def _float(text: str) -> float | str:
    value = float(text)
    return value if value - value == 0 else text  # NaN and infinities stay text (JSON has none)


def _timestamp(text: str) -> str:
    """``2024-01-01 10:00:00.5`` -> ``2024-01-01T10:00:00.500000Z`` (naive: taken as it is)."""
    if not text[:1].isdigit() or text.endswith(" BC"):
        return text  # infinity, -infinity, BC dates: as PostgreSQL prints them
    day, _, time = text.partition(" ")
    seconds, dot, fraction = time.partition(".")
    return f"{day}T{seconds}.{(fraction + '000000')[:6]}Z" if dot else f"{day}T{seconds}Z"


def _timestamptz(text: str) -> str:
    if not text[:1].isdigit() or text.endswith(" BC"):
        return text
    if text.endswith("+00"):
        return _timestamp(text[:-3])
    try:
        when = datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return text
    return _timestamp(when.strftime("%Y-%m-%d %H:%M:%S.%f"))


def _boolean_text(text: str) -> str:
    return "true" if text in ("true", "t") else "false"


def _boolean(text: str) -> bool:
    return text in ("true", "t")


def _bytea(prefix: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        return prefix + (text[2:] if text.startswith("\\x") else text.encode().hex()).upper()

    return convert


def _text(text: str) -> str:
    return text


def converter(pg_type: str, map_boolean: bool = False, hex_prefix: str = "0x") -> Callable[[str], Any]:
    """The function that turns PostgreSQL's text of a ``pg_type`` value into DMS's JSON value."""
    if pg_type.endswith("]"):
        return _text  # arrays: text
    if pg_type in INTEGER_TYPES:
        return _integer
    if pg_type in FLOAT_TYPES:
        return _float
    if pg_type == "boolean":
        return _boolean if map_boolean else _boolean_text
    if pg_type == "bytea":
        return _bytea(hex_prefix)
    if pg_type == "timestamp without time zone":
        return _timestamp
    if pg_type == "timestamp with time zone":
        return _timestamptz
    return _text


def dms_column_type(pg_type: str, typmod: int, nullable: bool, map_boolean: bool = False) -> dict[str, Any]:
    """A column of ``control.table-def`` (names beyond INT32/STRING/TIMESTAMP of the captured records are ours)."""
    spec: dict[str, Any]
    if pg_type.endswith("]"):
        spec = {"type": "STRING"}
    elif pg_type in ("smallint", "integer", "bigint"):
        spec = {"type": {"smallint": "INT16", "integer": "INT32", "bigint": "INT64"}[pg_type]}
    elif pg_type == "numeric":
        if typmod >= 4 and ((typmod - 4) >> 16) <= 38:
            spec = {"type": "NUMERIC", "precision": (typmod - 4) >> 16, "scale": (typmod - 4) & 0xFFFF}
        else:
            spec = {"type": "NUMERIC", "precision": 28, "scale": 6}
    elif pg_type in FLOAT_TYPES:
        spec = {"type": "REAL4" if pg_type == "real" else "REAL8"}
    elif pg_type == "boolean":
        spec = {"type": "BOOLEAN"} if map_boolean else {"length": 5, "type": "STRING"}
    elif pg_type == "bytea":
        spec = {"type": "BYTES"}
    elif pg_type == "date":
        spec = {"type": "DATE"}
    elif pg_type.startswith("time "):
        spec = {"type": "TIME"}
    elif pg_type.startswith("timestamp"):
        spec = {"type": "TIMESTAMP"}
    elif pg_type in ("character varying", "character") and typmod >= 4:
        spec = {"length": typmod - 4, "type": "STRING"}
    else:
        spec = {"type": "STRING"}
    spec["nullable"] = nullable
    return dict(sorted(spec.items()))


@dataclass
class Column:
    name: str
    pg_type: str
    typmod: int = -1
    nullable: bool = True


@dataclass
class Table:
    """A source table as the catalog describes it."""

    schema: str
    name: str
    columns: list[Column]
    primary_key: list[str] = field(default_factory=list)
    names: list[str] = field(init=False, repr=False)
    types: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.names = [c.name for c in self.columns]
        self.types = {c.name: c.pg_type for c in self.columns}


@dataclass
class RecordFormat:
    """How this task writes records: the target endpoint's KinesisSettings and the task's settings."""

    task_id: str
    message_format: str = "json"
    include_transaction_details: bool = False
    include_partition_value: bool = False
    partition_include_schema_table: bool = False
    include_table_alter_operations: bool = False
    include_control_details: bool = False
    include_null_and_empty: bool = False
    no_hex_prefix: bool = False
    map_boolean: bool = False
    before_image: bool = False
    before_image_field: str = "before-image"
    before_image_filter: str = "pk-only"
    cdc_partition_by_key: bool = False
    _converters: dict[str, Callable[[str], Any]] = field(default_factory=dict, repr=False)

    def convert(self, pg_type: str) -> Callable[[str], Any]:
        fn = self._converters.get(pg_type)
        if fn is None:
            fn = self._converters[pg_type] = converter(pg_type, self.map_boolean, "" if self.no_hex_prefix else "0x")
        return fn

    def serialize(self, record: dict[str, Any]) -> bytes:
        if self.message_format == "json-unformatted":
            return (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        return json.dumps(record, indent=4, ensure_ascii=False).encode()

    # -- values ------------------------------------------------------------------------------------
    def row(self, values: dict[str, Any], types: dict[str, str], table: Table | None) -> dict[str, Any]:
        """A row of text values as DMS's JSON ``data`` (all the table's columns, in table order)."""
        out: dict[str, Any] = {}
        known = table.types if table is not None else {}
        names = table.names if table is not None else values
        keep_empty = self.include_null_and_empty
        convert = self.convert
        for name in names:
            text = values.get(name)
            if text is None or text is UNCHANGED_TOAST:
                if keep_empty:
                    out[name] = None
                continue
            value = convert(types.get(name) or known.get(name) or "text")(text)
            if keep_empty or value != "":
                out[name] = value
        if table is not None and len(values) > len(out):
            for name in values.keys() - known.keys():  # a column added since the catalog was read
                text = values[name]
                if text is not None and text is not UNCHANGED_TOAST:
                    out[name] = convert(types.get(name, "text"))(text)
        return out

    def before(self, old: dict[str, Any] | None, types: dict[str, str], table: Table | None) -> dict[str, Any]:
        """The before-image of an update: the old values the source gave, per ColumnFilter."""
        if not old:
            return {}
        keep = list(old)
        if self.before_image_filter == "pk-only" and table is not None and table.primary_key:
            keep = [n for n in keep if n in table.primary_key]
        elif self.before_image_filter == "non-lob":
            keep = [n for n in keep if types.get(n, "text") not in LOB_TYPES]
        image = {}
        for name in keep:
            text = old[name]
            if text is UNCHANGED_TOAST:
                continue
            image[name] = None if text is None else self.convert(types.get(name, "text"))(text)
        return image

    # -- metadata ----------------------------------------------------------------------------------
    def _key_value(self, schema: str, table: str, data: dict[str, Any], key: list[str]) -> str:
        value = ".".join("" if data.get(k) is None else str(data.get(k)) for k in key)
        return f"{schema}.{table}.{value}" if self.partition_include_schema_table else value

    def partition(
        self, schema: str, table: Table | None, name: str, data: dict[str, Any], cdc: bool
    ) -> tuple[str, str | None, str]:
        """(partition-key-type, partition-key-value or None, the Kinesis PartitionKey) of a data record."""
        key = table.primary_key if table is not None else []
        if key and (not cdc or self.cdc_partition_by_key):
            value = self._key_value(schema, name, data, key)
            return "primary-key", value, value or f"{schema}.{name}"
        return "schema-table", None, f"{schema}.{name}"

    def data_record(
        self,
        operation: str,
        schema: str,
        name: str,
        data: dict[str, Any],
        key_data: dict[str, Any],
        table: Table | None,
        now: str,
        before: dict[str, Any] | None = None,
        transaction: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], str]:
        """A data record and its Kinesis partition key. ``transaction``: the CDC fields, in order."""
        kind, value, partition_key = self.partition(schema, table, name, key_data, cdc=operation != "load")
        meta: dict[str, Any] = {
            "timestamp": now,
            "record-type": "data",
            "operation": operation,
            "partition-key-type": kind,
        }
        if value is not None and self.include_partition_value:
            meta["partition-key-value"] = value
        meta["schema-name"] = schema
        meta["table-name"] = name
        if transaction:
            meta.update(transaction)
        record: dict[str, Any] = {"data": data}
        if before is not None:
            record[self.before_image_field] = before
        record["metadata"] = meta
        return record, partition_key[:256]

    def control_record(
        self, operation: str, schema: str, name: str, now: str, control: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], str]:
        """A control record (create-table, drop-table, ...), keyed by the task id."""
        meta: dict[str, Any] = {
            "timestamp": now,
            "record-type": "control",
            "operation": operation,
            "partition-key-type": "task-id",
        }
        if self.include_partition_value:
            meta["partition-key-value"] = self.task_id
        meta["schema-name"] = schema
        meta["table-name"] = name
        record: dict[str, Any] = {}
        if self.include_control_details:
            record["control"] = control or {}
        record["metadata"] = meta
        return record, self.task_id

    def table_def(self, table: Table) -> dict[str, Any]:
        columns = {c.name: dms_column_type(c.pg_type, c.typmod, c.nullable, self.map_boolean) for c in table.columns}
        definition: dict[str, Any] = {"columns": columns}
        if table.primary_key:
            definition["primary-key"] = list(table.primary_key)
        return {"table-def": definition}


# The control table DMS creates on every target at a task's start (schema "").
APPLY_EXCEPTIONS = Table(
    "",
    "awsdms_apply_exceptions",
    [
        Column("TASK_NAME", "character varying", 128 + 4, False),
        Column("TABLE_OWNER", "character varying", 128 + 4, False),
        Column("TABLE_NAME", "character varying", 128 + 4, False),
        Column("ERROR_TIME", "timestamp without time zone", -1, False),
        Column("STATEMENT", "text", -1, False),
        Column("ERROR", "text", -1, False),
    ],
)
