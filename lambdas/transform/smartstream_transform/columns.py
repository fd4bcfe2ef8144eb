"""Column types: strict parsing of the forms DMS emits, a batch at a time.

Each column type turns the raw values of one column of a batch (as the JSON
parser gave them) into an Arrow array, and says which rows broke it and why.
The common case is vectorised (Arrow casts and RE2 patterns over the whole
batch); a batch holding a value of an unexpected JSON type goes through the
per-value path, which gives the same answer.

Accepted forms (anything else is a violation, never coerced):
- integer: a JSON integer (not a boolean, not 1.0, not a string), within int64;
- text: a JSON string; ``''`` stays ``''``; optional maximum length in characters;
- decimal(p, s): a JSON string of ASCII digits with an optional ``.`` and at most
  ``s`` decimals (``-`` allowed only when negatives are); a JSON integer, or a JSON
  number with at most 15 significant digits, is taken as its decimal text;
- date: ``YYYY-MM-DD`` (a valid calendar date);
- timestamp: ``YYYY-MM-DD[T ]HH:MM:SS[.ffffff][Z|±HH:MM]``, stored in UTC (no zone = UTC).
- as text (tables without a contract): any JSON value, as its exact text
  (strings as they are, integers at any size, true/false, objects and arrays as
  compact JSON).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

# pylint: disable=unidiomatic-typecheck

ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError, UnicodeEncodeError)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# a year from 0001 to 9999 (Python's and Parquet readers' range; RE2 has no look-ahead to say "not 0000")
YEAR_RE = r"(?:[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"
DATE_RE = YEAR_RE + r"-[0-9]{2}-[0-9]{2}"
TIMESTAMP_RE = DATE_RE + r"[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:?[0-9]{2})?"
_ZONE_RE = r"(Z|[+-][0-9]{2}:?[0-9]{2})$"
_DATE = re.compile(DATE_RE)
_TIMESTAMP = re.compile(TIMESTAMP_RE)


class Violation(ValueError):
    """A value breaks its column's type."""


def _utf8(value: str) -> str:
    try:
        value.encode()
    except UnicodeEncodeError:
        raise Violation("lone surrogate in a string") from None
    return value


# ---------------------------------------------------------------------- per-value forms


def to_int(value: Any) -> int:
    if type(value) is not int:
        raise Violation(f"not an integer: {value!r:.40}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise Violation(f"integer beyond int64: {value}")
    return value


def to_text(max_length: int | None = None, pattern: re.Pattern[str] | None = None, what: str = "") -> Callable:
    def convert(value: Any) -> str:
        if type(value) is not str:
            raise Violation(f"not a string: {value!r:.40}")
        if max_length is not None and len(value) > max_length:
            raise Violation(f"longer than {max_length} characters")
        if pattern is not None and value and not pattern.fullmatch(value):
            raise Violation(f"not {what}: {value!r:.60}")
        return _utf8(value)

    return convert


def to_decimal_text(precision: int, scale: int, negative: bool) -> Callable:
    whole = precision - scale
    form = re.compile(rf"{'-?' if negative else ''}[0-9]+(\.[0-9]+)?")

    def convert(value: Any) -> str:
        if type(value) is int:
            text = str(value)
        elif type(value) is float:
            text = repr(value)
            if "e" in text or "n" in text or len(text.replace("-", "").replace(".", "")) > 15:
                raise Violation(f"not an exact decimal: {value!r}")
        elif type(value) is str:
            text = value
        else:
            raise Violation(f"not a number: {value!r:.40}")
        if not form.fullmatch(text):
            if text.startswith("-") and not negative and form.fullmatch(text[1:]):
                raise Violation(f"below 0: {text!r:.40}")
            raise Violation(f"not a number: {text!r:.40}")
        digits, _point, decimals = text.lstrip("-").partition(".")
        if len(decimals) > scale:
            raise Violation(f"more than {scale} decimal places: {text!r:.40}")
        if len(digits.lstrip("0")) > whole:
            raise Violation(f"more than {whole} digits before the point: {text!r:.40}")
        sign = "-" if text.startswith("-") else ""
        return f"{sign}{digits.lstrip('0') or '0'}{'.' if decimals else ''}{decimals}"

    return convert


def to_date_text(value: Any) -> str:
    if type(value) is not str or not _DATE.fullmatch(value):
        raise Violation(f"not a date (YYYY-MM-DD): {value!r:.40}")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise Violation(f"not a valid date: {value!r:.40}") from None
    return value


def to_timestamp_text(value: Any) -> str:
    """A DMS timestamp as text Arrow casts to timestamp[us, UTC] (a zone always present)."""
    if type(value) is not str or not _TIMESTAMP.fullmatch(value):
        raise Violation(f"not a timestamp: {value!r:.40}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Violation(f"not a valid timestamp: {value!r:.40}") from None
    try:
        if parsed.tzinfo is not None:
            parsed.astimezone(UTC)
    except OverflowError:  # its zone takes it out of years 0001-9999 in UTC
        raise Violation(f"timestamp out of range in UTC: {value!r:.40}") from None
    return value if re.search(_ZONE_RE, value) else value + "Z"


def as_text(value: Any) -> str:
    """Any JSON value as exact text (the rule of tables without a contract)."""
    kind = type(value)
    if kind is str:
        return _utf8(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return repr(value)
    return _utf8(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def parse_utc(text: Any) -> datetime:
    """A DMS timestamp (checked) as a naive datetime in UTC."""
    return _utc(to_timestamp_text(text))


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)


# ---------------------------------------------------------------------- column types


@dataclass(frozen=True, slots=True)
class ColumnType:
    """How one column type is checked and built: ``build(values)`` -> (array, {row: reason})."""

    name: str
    arrow_type: pa.DataType
    convert: Callable[[Any], Any]  # per value: the typed value (or text Arrow casts), or Violation
    fast: Callable[[list[Any]], tuple[pa.Array, pa.Array | None]] | None = None
    typed: Callable[[Any], Any] | None = None  # converted text -> the Python value Arrow takes

    def build(self, values: Sequence[Any]) -> tuple[pa.Array, dict[int, str]]:
        if self.fast is not None:
            try:
                array, bad = self.fast(values)  # bad: boolean array of rows to check one by one
            except ARROW_ERRORS:
                pass
            else:
                if bad is None or not pc.any(bad).as_py():
                    return array, {}
                rows = pc.indices_nonzero(bad).to_pylist()
                reasons = {}
                for row in rows:
                    try:
                        self.convert(values[row])
                    except Violation as exc:
                        reasons[row] = str(exc)
                if len(reasons) == len(rows):
                    return pc.if_else(bad, pa.nulls(len(values), self.arrow_type), array), reasons
        return self._slow(values)

    def _slow(self, values: Sequence[Any]) -> tuple[pa.Array, dict[int, str]]:
        out: list[Any] = []
        reasons: dict[int, str] = {}
        convert = self.convert
        for row, value in enumerate(values):
            if value is None:
                out.append(None)
                continue
            try:
                out.append(convert(value))
            except Violation as exc:
                reasons[row] = str(exc)
                out.append(None)
        if self.typed is not None:
            out = [None if v is None else self.typed(v) for v in out]
        return pa.array(out, type=self.arrow_type), reasons


def _fast_int(values: list[Any]) -> tuple[pa.Array, None]:
    array = pa.array(values)
    if array.type != pa.int64() and array.type != pa.null():
        raise TypeError("not all integers")
    return array.cast(pa.int64()), None


def _fast_text(max_length: int | None, pattern: str | None) -> Callable:
    def fast(values: list[Any]) -> tuple[pa.Array, pa.Array | None]:
        array = pa.array(values, type=pa.string())
        bad = None
        if max_length is not None:
            bad = pc.greater(pc.utf8_length(array), max_length)
        if pattern is not None:
            wrong = pc.and_(pc.invert(pc.match_substring_regex(array, pattern)), pc.not_equal(array, ""))
            bad = wrong if bad is None else pc.or_(bad, wrong)
        return array, bad

    return fast


def _fast_pattern_cast(pattern: str, arrow_type: pa.DataType) -> Callable:
    def fast(values: list[Any]) -> tuple[pa.Array, pa.Array | None]:
        array = pa.array(values, type=pa.string())
        ok = pc.match_substring_regex(array, pattern)
        if ok.null_count == len(ok) or pc.all(ok).as_py() is not False:
            return array.cast(arrow_type), None
        array = pc.if_else(ok, array, pa.nulls(len(array), pa.string()))
        return array.cast(arrow_type), pc.invert(ok)

    return fast


def _fast_timestamp(values: list[Any]) -> tuple[pa.Array, pa.Array | None]:
    """Checked like the others; strings without a zone are UTC."""
    array = pa.array(values, type=pa.string())
    ok = pc.match_substring_regex(array, f"^{TIMESTAMP_RE}$")
    bad = None
    if ok.null_count != len(ok) and pc.all(ok).as_py() is False:
        bad = pc.invert(ok)
        array = pc.if_else(ok, array, pa.nulls(len(array), pa.string()))
    utc = pa.timestamp("us", tz="UTC")
    zoned = pc.match_substring_regex(array, _ZONE_RE)
    count = pc.sum(zoned).as_py() or 0
    if count == len(array) - array.null_count:  # all with a zone (a failed cast would cost more than this check)
        return _in_range(array.cast(utc), bad)
    if count == 0:  # all without: in range (the year is checked by the pattern)
        return array.cast(pa.timestamp("us")).cast(utc), bad
    array = pc.if_else(zoned, array, pc.binary_join_element_wise(array, "Z", ""))
    return _in_range(array.cast(utc), bad)


_FIRST = pa.scalar(datetime(1, 1, 1, tzinfo=UTC), pa.timestamp("us", tz="UTC"))
_LAST = pa.scalar(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), pa.timestamp("us", tz="UTC"))


def _in_range(array: pa.Array, bad: pa.Array | None) -> tuple[pa.Array, pa.Array | None]:
    """Rows whose zone takes them out of years 0001-9999 in UTC are bad (as ``to_timestamp_text`` says)."""
    outside = pc.or_(pc.less(array, _FIRST), pc.greater(array, _LAST))
    if not pc.any(outside).as_py():
        return array, bad
    outside = pc.fill_null(outside, False)
    array = pc.if_else(outside, pa.nulls(len(array), array.type), array)
    return array, outside if bad is None else pc.or_(bad, outside)


def integer() -> ColumnType:
    return ColumnType("integer", pa.int64(), to_int, _fast_int)


def text(max_length: int | None = None, pattern: str | None = None, what: str = "") -> ColumnType:
    compiled = re.compile(pattern) if pattern else None
    return ColumnType("text", pa.string(), to_text(max_length, compiled, what), _fast_text(max_length, pattern))


def decimal(precision: int, scale: int, negative: bool = True) -> ColumnType:
    form = rf"^{'-?' if negative else ''}0*[0-9]{{1,{precision - scale}}}(\.[0-9]{{1,{scale}}})?$"
    return ColumnType(
        f"decimal({precision},{scale})",
        pa.decimal128(precision, scale),
        to_decimal_text(precision, scale, negative),
        _fast_pattern_cast(form, pa.decimal128(precision, scale)),
        Decimal,
    )


def date_type() -> ColumnType:
    return ColumnType(
        "date", pa.date32(), to_date_text, _fast_pattern_cast(f"^{DATE_RE}$", pa.date32()), date.fromisoformat
    )


def timestamp() -> ColumnType:
    arrow_type = pa.timestamp("us", tz="UTC")
    return ColumnType(
        "timestamp",
        arrow_type,
        to_timestamp_text,
        _fast_timestamp,
        _utc,
    )


def _fast_as_text(values: list[Any]) -> tuple[pa.Array, None]:
    return pa.array(values, type=pa.string()), None


TEXT_ANY = ColumnType("text", pa.string(), as_text, _fast_as_text)
