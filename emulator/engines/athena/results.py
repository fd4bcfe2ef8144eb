"""Query results as Athena gives them: Trino type names, text values, the CSV file and GetQueryResults pages.

Values are Trino's text forms (double as Java prints it: ``1.0``, ``1.0E7``;
timestamp ``2024-01-01 12:00:00.000``; boolean ``true``; arrays ``[1, 2]``;
rows and maps ``{a=1}``); NULL is an empty unquoted CSV field and a Datum
without VarCharValue. The CSV has a header and every value in double quotes.
"""

from __future__ import annotations

import decimal
import io
import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

MAX_RESULTS = 1000


def athena_type(t: pa.DataType) -> tuple[str, int, int]:
    """(Athena type name, precision, scale) of an Arrow result column."""
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "varchar", 2147483647, 0
    for check, name, precision in (
        (pa.types.is_int64, "bigint", 19),
        (pa.types.is_int32, "integer", 10),
        (pa.types.is_int16, "smallint", 5),
        (pa.types.is_int8, "tinyint", 3),
        (pa.types.is_uint64, "bigint", 19),
        (pa.types.is_uint32, "bigint", 19),
        (pa.types.is_uint16, "integer", 10),
        (pa.types.is_uint8, "smallint", 5),
        (pa.types.is_float64, "double", 17),
        (pa.types.is_float32, "real", 9),
        (pa.types.is_boolean, "boolean", 0),
        (pa.types.is_date, "date", 0),
    ):
        if check(t):
            return name, precision, 0
    if pa.types.is_decimal(t):
        return "decimal", t.precision, t.scale
    if pa.types.is_timestamp(t):
        return ("timestamp with time zone" if t.tz else "timestamp"), 3, 0
    if pa.types.is_time(t):
        return "time", 3, 0
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "array", 0, 0
    if pa.types.is_struct(t):
        return "row", 0, 0
    if pa.types.is_map(t):
        return "map", 0, 0
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "varbinary", 1048576, 0
    if pa.types.is_duration(t) or pa.types.is_interval(t):
        return "interval day to second", 0, 0
    if pa.types.is_null(t):
        return "unknown", 0, 0
    return "varchar", 2147483647, 0


def java_double(x: float) -> str:
    """A double as Java's Double.toString writes it (what Trino returns)."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if str(x).startswith("-") else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        text = repr(x)
        return text if "." in text else text + ".0"
    _sign, digits, exponent = decimal.Decimal(repr(abs(x))).as_tuple()
    digits_text = "".join(map(str, digits)).rstrip("0") or "0"
    power = exponent + len(digits) - 1
    return f"{'-' if x < 0 else ''}{digits_text[0]}.{digits_text[1:] or '0'}E{power}"


def _nested(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        if value and isinstance(value[0], tuple):  # a map as Arrow gives it
            return "{" + ", ".join(f"{_nested(k)}={_nested(v)}" for k, v in value) + "}"
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_nested(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bytes):
        return value.hex(" ")
    return str(value)


def text_column(column: pa.ChunkedArray) -> pa.Array:
    """One result column as Athena's text values (nulls stay null)."""
    t = column.type
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pc.cast(column, pa.string())
    if pa.types.is_floating(t):
        text = pc.cast(column, pa.string())
        plain = pc.and_(pc.greater_equal(pc.abs(column), 1e-3), pc.less(pc.abs(column), 1e7))
        simple = pc.and_(plain, pc.invert(pc.match_substring(text, ".")))
        text = pc.if_else(simple, pc.binary_join_element_wise(text, ".0", ""), text)
        odd = pc.and_(pc.is_valid(column), pc.invert(plain))
        if pc.any(odd).as_py():
            values = column.to_pylist()
            fixed = [
                java_double(v) if v is not None and m else None for v, m in zip(values, odd.to_pylist(), strict=True)
            ]
            text = pc.if_else(odd, pa.array(fixed, pa.string()), text)
        return text
    if pa.types.is_timestamp(t):
        text = pc.cast(pc.cast(column, pa.timestamp("ms", tz=t.tz), safe=False), pa.string())  # "... 00:00:00.000"
        return pc.binary_join_element_wise(pc.utf8_slice_codeunits(text, 0, -1), " UTC", "") if t.tz else text
    if (
        pa.types.is_integer(t)
        or pa.types.is_boolean(t)
        or pa.types.is_date(t)
        or pa.types.is_decimal(t)
        or pa.types.is_time(t)
    ):
        return pc.cast(column, pa.string())
    return pa.array([None if v is None else _nested(v) for v in column.to_pylist()], pa.string())


def column_info(name: str, type_name: str, precision: int, scale: int, table_name: str = "") -> dict[str, Any]:
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": table_name,
        "Name": name,
        "Label": name,
        "Type": type_name,
        "Precision": precision,
        "Scale": scale,
        "Nullable": "UNKNOWN",
        "CaseSensitive": type_name == "varchar",
    }


_DUCK_TYPES = {
    "VARCHAR": ("varchar", 2147483647),
    "BIGINT": ("bigint", 19),
    "HUGEINT": ("bigint", 19),
    "UBIGINT": ("bigint", 19),
    "UHUGEINT": ("bigint", 19),
    "INTEGER": ("integer", 10),
    "UINTEGER": ("bigint", 19),
    "SMALLINT": ("smallint", 5),
    "USMALLINT": ("integer", 10),
    "TINYINT": ("tinyint", 3),
    "UTINYINT": ("smallint", 5),
    "DOUBLE": ("double", 17),
    "FLOAT": ("real", 9),
    "BOOLEAN": ("boolean", 0),
    "DATE": ("date", 0),
    "TIMESTAMP": ("timestamp", 3),
    "TIMESTAMP_S": ("timestamp", 3),
    "TIMESTAMP_MS": ("timestamp", 3),
    "TIMESTAMP_NS": ("timestamp", 3),
    "TIMESTAMP WITH TIME ZONE": ("timestamp with time zone", 3),
    "TIME": ("time", 3),
    "UUID": ("uuid", 0),
    "INTERVAL": ("interval day to second", 0),
    '"NULL"': ("unknown", 0),
}


def duck_column(name: str, duck_type: str) -> tuple[dict[str, Any], str] | None:
    """ColumnInfo and the DuckDB expression giving Trino's text of a result column; None for nested types."""
    ident = '"' + name.replace('"', '""') + '"'
    if duck_type.startswith("DECIMAL("):
        precision, scale = (int(x) for x in duck_type[8:-1].split(","))
        return column_info(name, "decimal", precision, scale), f"CAST({ident} AS VARCHAR)"
    if duck_type not in _DUCK_TYPES:
        return None
    type_name, precision = _DUCK_TYPES[duck_type]
    info = column_info(name, type_name, precision, 0)
    if duck_type == "VARCHAR":
        return info, ident
    if duck_type in ("DOUBLE", "FLOAT"):
        return info, (
            f"CASE WHEN {ident} IS NULL THEN NULL WHEN abs({ident}) >= 1e-3 AND abs({ident}) < 1e7 "
            f"THEN CAST({ident} AS VARCHAR) ELSE __java_double(CAST({ident} AS DOUBLE)) END"
        )
    if duck_type.startswith("TIMESTAMP"):
        suffix = " || ' UTC'" if "ZONE" in duck_type else ""
        return info, f"strftime({ident}, '%Y-%m-%d %H:%M:%S.%g'){suffix}"
    return info, f"CAST({ident} AS VARCHAR)"


@dataclass
class ResultSet:
    """A query's result: column info and the text columns, paged as GetQueryResults pages them.

    A SELECT's result may hold only its CSV (``raw``, written by DuckDB): the columns are then parsed
    from it on the first GetQueryResults, as Athena reads results back from the CSV.
    """

    column_info: list[dict[str, Any]]
    columns: list[pa.Array] | None
    header: bool = True
    raw: bytes | None = None

    def text_columns(self) -> list[pa.Array]:
        if self.columns is None:
            names = [i["Name"] for i in self.column_info]
            table = (
                pacsv.read_csv(
                    io.BytesIO(self.raw or b""),
                    read_options=pacsv.ReadOptions(column_names=[f"c{i}" for i in range(len(names))], skip_rows=1),
                    convert_options=pacsv.ConvertOptions(
                        column_types={f"c{i}": pa.string() for i in range(len(names))},
                        strings_can_be_null=True,
                        quoted_strings_can_be_null=False,
                        null_values=[""],
                    ),
                    parse_options=pacsv.ParseOptions(newlines_in_values=True),
                )
                if self.raw and self.raw.count(b"\n") > 1
                else None
            )
            self.columns = (
                [c.combine_chunks() for c in table.columns]
                if table is not None
                else [pa.array([], pa.string()) for _ in names]
            )
        return self.columns

    @property
    def rows(self) -> int:
        columns = self.text_columns()
        return len(columns[0]) if columns else 0

    @classmethod
    def from_arrow(cls, table: pa.Table, table_name: str = "", header: bool = True) -> ResultSet:
        info = [column_info(f.name, *athena_type(f.type), table_name=table_name) for f in table.schema]
        return cls(info, [text_column(c) for c in table.columns], header)

    @classmethod
    def of_strings(cls, names: list[str], rows: list[list[str | None]], header: bool = False) -> ResultSet:
        table = pa.table({n: pa.array([r[i] for r in rows], pa.string()) for i, n in enumerate(names)})
        result = cls.from_arrow(table, header=header)
        for info in result.column_info:
            info["Type"] = "string"
        return result

    def csv(self) -> bytes:
        """The ``.csv`` Athena writes: a header, every value quoted, NULL as an empty field."""
        if self.raw is not None:
            return self.raw

        def quoted(column: pa.Array) -> pa.Array:
            escaped = pc.replace_substring(column, '"', '""')
            return pc.binary_join_element_wise('"', escaped, '"', "")

        names = [quoted(pa.array([i["Name"]])) for i in self.column_info]
        lines = [",".join(n[0].as_py() for n in names)] if self.column_info else []
        if self.rows:
            joined = pc.binary_join_element_wise(
                *[quoted(c) for c in self.text_columns()], ",", null_handling="replace", null_replacement=""
            )
            lines.extend(joined.to_pylist())
        return ("\n".join(lines) + "\n").encode() if lines else b""

    def text(self) -> bytes:
        """The ``.txt`` Athena writes for DDL results: tab-separated, unquoted."""
        if not self.rows:
            return b""
        joined = pc.binary_join_element_wise(*self.text_columns(), "\t", null_handling="replace", null_replacement="")
        return ("\n".join(joined.to_pylist()) + "\n").encode()

    def metadata(self) -> bytes:
        """The ``.csv.metadata`` object (Athena's is binary; here the ColumnInfo as JSON)."""
        return json.dumps({"ColumnInfo": self.column_info}).encode()

    def page(self, token: str | None, max_results: int | None) -> dict[str, Any]:
        """One GetQueryResults page: the header row first (SELECT), MaxResults rows at most, NextToken."""
        size = min(max_results or MAX_RESULTS, MAX_RESULTS)
        start = int(token) if token else 0
        total = self.rows + (1 if self.header else 0)
        end = min(start + size, total)
        rows = []
        for position in range(start, end):
            if self.header and position == 0:
                rows.append({"Data": [{"VarCharValue": i["Name"]} for i in self.column_info]})
                continue
        data_start = max(0, start - (1 if self.header else 0))
        data_end = end - (1 if self.header else 0)
        if data_end > data_start:
            values = [c.slice(data_start, data_end - data_start).to_pylist() for c in self.text_columns()]
            for row in zip(*values, strict=True):
                rows.append({"Data": [{} if v is None else {"VarCharValue": v} for v in row]})
        answer: dict[str, Any] = {
            "ResultSet": {"Rows": rows, "ResultSetMetadata": {"ColumnInfo": self.column_info}},
            "UpdateCount": 0,
        }
        if end < total:
            answer["NextToken"] = str(end)
        return answer
