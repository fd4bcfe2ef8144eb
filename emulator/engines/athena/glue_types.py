"""Glue (Hive) column types as DuckDB and Arrow types, and Parquet columns read as their Glue types."""

from __future__ import annotations

import re

import pyarrow as pa

_SIMPLE = {
    "string": pa.string(),
    "varchar": pa.string(),
    "char": pa.string(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "smallint": pa.int16(),
    "tinyint": pa.int8(),
    "double": pa.float64(),
    "float": pa.float32(),
    "real": pa.float32(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "binary": pa.binary(),
    "varbinary": pa.binary(),
}


_DUCK = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "char": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "real": "FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "binary": "BLOB",
}


def duck_type(glue_type: str) -> str:
    """The DuckDB type of a Glue (Hive) column type."""
    t = glue_type.strip().lower()
    base = re.sub(r"\(.*\)$", "", t) if "<" not in t else t
    if base in _DUCK:
        return _DUCK[base]
    if t.startswith("decimal"):
        return t.upper().replace(" ", "") if "(" in t else "DECIMAL(10,0)"
    if t.startswith("array<"):
        return f"{duck_type(t[6:-1])}[]"
    if t.startswith("map<"):
        key, value = _split_top(t[4:-1])
        return f"MAP({duck_type(key)}, {duck_type(value)})"
    if t.startswith("struct<"):
        fields = [f.split(":", 1) for f in _split_top(t[7:-1])]
        return "STRUCT(" + ", ".join(f'"{n.strip()}" {duck_type(v)}' for n, v in fields) + ")"
    return "VARCHAR"


def glue_cast(column: str, found: str, target: str) -> str:
    """The DuckDB expression reading a Parquet column of DuckDB type ``found`` as the Glue type ``target``.

    A UTC-adjusted Parquet timestamp (DuckDB: TIMESTAMP WITH TIME ZONE) under a Glue ``timestamp`` is its UTC
    wall clock, as Athena reads it: the microseconds since the epoch, taken as they are. A plain CAST gives the
    same values but goes through ICU's calendar for every value (~0.1 us each: a third of the whole query over
    a million rows and three timestamp columns); infinities keep the CAST.
    """
    ident = '"' + column.replace('"', '""') + '"'
    if found == "TIMESTAMP WITH TIME ZONE" and target == "TIMESTAMP":
        return f"CASE WHEN isfinite({ident}) THEN make_timestamp(epoch_us({ident})) ELSE CAST({ident} AS TIMESTAMP) END"
    return f"CAST({ident} AS {target})"


def _split_top(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current] if current else parts


def arrow_type(glue_type: str) -> pa.DataType:
    """The Arrow type of a Glue (Hive) column type."""
    t = glue_type.strip().lower()
    base = re.sub(r"\(.*\)$", "", t) if "<" not in t else t
    if base in _SIMPLE:
        return _SIMPLE[base]
    if t.startswith("decimal"):
        p, _, s = t[t.find("(") + 1 : -1].partition(",") if "(" in t else ("10", "", "0")
        return pa.decimal128(int(p), int(s or 0))
    if t.startswith("array<"):
        return pa.list_(arrow_type(t[6:-1]))
    if t.startswith("map<"):
        key, value = _split_top(t[4:-1])
        return pa.map_(arrow_type(key), arrow_type(value))
    if t.startswith("struct<"):
        fields = [f.split(":", 1) for f in _split_top(t[7:-1])]
        return pa.struct([(n.strip(), arrow_type(v)) for n, v in fields])
    return pa.string()
