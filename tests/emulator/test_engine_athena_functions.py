"""Trino functions whose DuckDB namesake differs answer as Athena does (emulator/engines/athena/trino_functions.py)."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot

from emulator.engines.athena.errors import QueryFailed
from emulator.engines.athena.trino_functions import trino_functions
from tests.emulator.test_engine_athena import lake, rows, run  # noqa: F401 - lake is the module's fixture


def duck(sql: str) -> list[tuple]:
    tree = trino_functions(sqlglot.parse_one(sql, read="athena"))
    return duckdb.sql(tree.sql(dialect="duckdb")).fetchall()


def test_format_is_javas_string_format_with_any_value_for_s():
    # Trino: format('%s-%s', 'a', 1) = 'a-1'; DuckDB's own format() would answer '%s-%s'
    assert duck("SELECT format('%s-%s', 'a', 1)") == [("a-1",)]
    assert duck("SELECT format('%s|%S|%s', 1.50, 'ab', DATE '2026-01-02')") == [("1.50|AB|2026-01-02",)]
    assert duck("SELECT format('%05d %x %.2f %,d %-4s| 100%%', 7, 255, 2.5e0, 1234567, 'ab')") == [
        ("00007 ff 2.50 1,234,567 ab  | 100%",)
    ]
    assert duck("SELECT format('%s', format('<%s>', 'in'))") == [("<in>",)]


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("SELECT format('%1$s', 'a')", "argument index"),
        ("SELECT format('%tY', current_date)", "'%tY'"),
        ("SELECT format('%g', 1e0)", "'%g'"),
        ("SELECT format(x, 'a') FROM (VALUES ('%s')) t(x)", "literal format string"),
    ],
)
def test_format_fails_loudly_where_printf_is_not_javas_format(sql, says):
    with pytest.raises(QueryFailed) as failed:
        trino_functions(sqlglot.parse_one(sql, read="athena"))
    assert failed.value.reason.startswith("NOT_SUPPORTED: ") and says in failed.value.reason


def test_format_through_the_local_athena(lake):  # noqa: F811
    # When a query formats a row of the table
    done = run(lake, "SELECT format('%s works in %s', 'emp', 'dept') AS f, format('%d%%', 42) AS p")
    # Then the answer is Java's String.format's
    assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
    assert rows(lake, done)[1:] == [["emp works in dept", "42%"]]


def test_a_hidden_column_of_a_hive_table_is_not_supported_rather_than_not_found(lake):  # noqa: F811
    # When a query reads Athena's "$path" of the employees table
    done = run(lake, 'SELECT "$path", id FROM employees LIMIT 1')
    # Then it fails saying the local Athena does not read it (Athena has the column: not COLUMN_NOT_FOUND)
    assert done["Status"]["State"] == "FAILED"
    assert done["Status"]["StateChangeReason"] == (
        'NOT_SUPPORTED: the local Athena does not read the hidden column "$path" of Hive tables'
    )
