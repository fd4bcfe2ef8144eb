"""Per-table data contracts: which columns, their types, and how to normalise them.

A contract column converts one raw value (as DMS wrote it) into its typed
value, or raises ``ContractViolation`` with a reason. Tables without a
contract pass with types inferred per batch (see ``core.infer_column``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa


class ContractViolation(ValueError):
    """A value breaks its column's contract."""


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ContractViolation("boolean where an integer is expected")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ContractViolation(f"not an integer: {value!r}")


def _to_str(max_length: int | None) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise ContractViolation(f"not a string: {value!r}")
        if max_length is not None and len(value) > max_length:
            raise ContractViolation(f"longer than {max_length} characters")
        return value

    return convert


def _to_decimal(precision: int, scale: int, minimum: Decimal | None) -> Callable[[Any], str]:
    """A NUMERIC(precision, scale) value, returned as canonical text that Arrow casts to decimal128.

    Well-formed non-negative text (what DMS sends for NUMERIC) is checked by one
    regular expression; anything else goes through Decimal.
    """
    quantum = Decimal(1).scaleb(-scale)
    plain = re.compile(rf"[0-9]{{1,{precision - scale}}}(\.[0-9]{{1,{scale}}})?")
    check_plain = minimum is not None and minimum <= 0

    def convert(value: Any) -> str:
        if check_plain and type(value) is str and plain.fullmatch(value):  # pylint: disable=unidiomatic-typecheck
            return value
        if isinstance(value, bool):
            raise ContractViolation("boolean where a number is expected")
        try:
            number = Decimal(value) if isinstance(value, str | int) else Decimal(str(value))
        except (InvalidOperation, ValueError, TypeError):
            raise ContractViolation(f"not a number: {value!r}") from None
        if not number.is_finite():
            raise ContractViolation(f"not a finite number: {value!r}")
        if minimum is not None and number < minimum:
            raise ContractViolation(f"below {minimum}: {value!r}")
        rounded = number.quantize(quantum)
        if rounded != number:
            raise ContractViolation(f"more than {scale} decimal places: {value!r}")
        if rounded.adjusted() >= precision - scale:
            raise ContractViolation(f"more than {precision - scale} digits before the point: {value!r}")
        return str(rounded)

    return convert


def _to_date(value: Any) -> date:
    if not isinstance(value, str):
        raise ContractViolation(f"not a date: {value!r}")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ContractViolation(f"not a valid date: {value!r}") from None


def to_utc_timestamp(value: Any) -> datetime:
    """ISO-8601 / DMS timestamps to a naive datetime in UTC (naive input is UTC already).

    Naive UTC is what Arrow stores in a ``timestamp(tz="UTC")`` column; keeping
    it naive saves a conversion per value on the hot path.
    """
    if not isinstance(value, str):
        raise ContractViolation(f"not a timestamp: {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ContractViolation(f"not a valid timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        return parsed
    return parsed.astimezone(UTC).replace(tzinfo=None)


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def _to_email(value: Any) -> str:
    text = _to_str(254)(value)
    if not _EMAIL.match(text):
        raise ContractViolation(f"not an email address: {value!r}")
    return text


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    arrow_type: pa.DataType
    convert: Callable[[Any], Any]
    nullable: bool = True
    empty_as_null: bool = False
    # values are held as text and cast by Arrow when the column is built
    cast_from_text: bool = False
    # a plain text column of at most this many characters: checked inline on the hot path
    text_max_length: int | None = None


@dataclass(frozen=True, slots=True)
class Contract:
    schema: str
    table: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    by_name: dict[str, Column] = field(init=False, repr=False, compare=False)
    # (name, convert, nullable, empty_as_null, text_max_length) per column: the validation hot path
    plan: tuple[tuple[str, Callable[[Any], Any], bool, bool, int | None], ...] = field(
        init=False, repr=False, compare=False
    )
    names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {c.name: c for c in self.columns})
        object.__setattr__(
            self,
            "plan",
            tuple((c.name, c.convert, c.nullable, c.empty_as_null, c.text_max_length) for c in self.columns),
        )
        object.__setattr__(self, "names", tuple(c.name for c in self.columns))


EMPLOYEES = Contract(
    schema="public",
    table="employees",
    primary_key=("id",),
    columns=(
        Column("id", pa.int64(), _to_int, nullable=False),
        Column("first_name", pa.string(), _to_str(50), empty_as_null=True, text_max_length=50),
        Column("last_name", pa.string(), _to_str(50), empty_as_null=True, text_max_length=50),
        Column("email", pa.string(), _to_email, empty_as_null=True),
        Column("department", pa.string(), _to_str(50), empty_as_null=True, text_max_length=50),
        Column("salary", pa.decimal128(10, 2), _to_decimal(10, 2, Decimal(0)), cast_from_text=True),
        Column("hire_date", pa.date32(), _to_date),
        Column("created_at", pa.timestamp("us", tz="UTC"), to_utc_timestamp),
        Column("updated_at", pa.timestamp("us", tz="UTC"), to_utc_timestamp),
    ),
)

CONTRACTS: dict[tuple[str, str], Contract] = {(EMPLOYEES.schema, EMPLOYEES.table): EMPLOYEES}
