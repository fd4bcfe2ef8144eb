"""Per-table data contracts: which columns, their types, which are the key.

A table with a contract is written with exactly the contract's columns and
types in every file (columns the contract does not know go, as a JSON
object, to the ``_extra`` text column), so its schema never drifts. A table
without a contract is written with text columns only (see ``schema.py``).
``from_table_def`` turns the table definition of a DMS ``create-table``
control record into a contract, so adding a typed table is one entry in
``CONTRACTS``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import columns as col
from .columns import ColumnType

EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = True


@dataclass(frozen=True, slots=True)
class Contract:
    schema: str
    table: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    name_set: frozenset[str] = field(init=False, repr=False, compare=False)
    getter: Callable[[dict], tuple] = field(init=False, repr=False, compare=False)  # a row's values, in order

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(c.name for c in self.columns))
        getter = operator.itemgetter(*self.names)
        object.__setattr__(self, "getter", getter if len(self.names) > 1 else lambda d: (getter(d),))
        object.__setattr__(self, "name_set", frozenset(self.names))
        missing = set(self.primary_key) - self.name_set
        if missing:
            raise ValueError(f"{self.schema}.{self.table}: key columns {sorted(missing)} are not columns")


EMPLOYEES = Contract(
    schema="public",
    table="employees",
    primary_key=("id",),
    columns=(
        Column("id", col.integer(), nullable=False),
        Column("first_name", col.text(50)),
        Column("last_name", col.text(50)),
        Column("email", col.text(254, EMAIL_RE, "an email address")),
        Column("department", col.text(50)),
        Column("salary", col.decimal(10, 2, negative=False)),
        Column("hire_date", col.date_type()),
        Column("created_at", col.timestamp()),
        Column("updated_at", col.timestamp()),
    ),
)

CONTRACTS: dict[tuple[str, str], Contract] = {(EMPLOYEES.schema, EMPLOYEES.table): EMPLOYEES}

# DMS data types of a table-def (PostgreSQL source) -> column type
_DMS_TYPES = {
    "INT1": col.integer,
    "INT2": col.integer,
    "INT4": col.integer,
    "INT8": col.integer,
    "INT32": col.integer,
    "INT64": col.integer,
    "DATE": col.date_type,
    "DATETIME": col.timestamp,
}


def from_table_def(schema: str, table: str, table_def: dict[str, Any]) -> Contract:
    """A contract from a DMS ``create-table`` control record's ``control.table-def``.

    Integers, dates and timestamps are typed; NUMERIC (precision and scale given)
    becomes a decimal; every other type (strings, booleans, JSON, arrays, bytes) is text.
    """
    columns = []
    for name, spec in table_def.get("columns", {}).items():
        dms_type = str(spec.get("type", "")).upper()
        if dms_type == "NUMERIC" and isinstance(spec.get("precision"), int) and 0 < spec["precision"] <= 38:
            column_type = col.decimal(spec["precision"], int(spec.get("scale") or 0))
        else:
            column_type = _DMS_TYPES.get(dms_type, col.text)()
        columns.append(Column(name, column_type, nullable=spec.get("nullable", True) is not False))
    key = tuple(table_def.get("primary-key") or ())
    return Contract(schema=schema, table=table, columns=tuple(columns), primary_key=key)
