"""Athena's SQL (engine v3: Trino) to DuckDB with sqlglot, failing loudly on what does not translate."""

from __future__ import annotations

import re

import sqlglot
from sqlglot import ErrorLevel, exp
from sqlglot.errors import ParseError, UnsupportedError

from emulator.engines.athena.errors import QueryFailed

READ = "athena"

_LEADING_COMMENTS = re.compile(r"^\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*", re.DOTALL)


def strip_comments(sql: str) -> str:
    """The statement without its leading comments (what decides the statement type)."""
    return _LEADING_COMMENTS.sub("", sql).strip().rstrip(";").strip()


def parse(sql: str) -> exp.Expression:
    """One Trino statement, or SYNTAX_ERROR as Athena reports it (line:column: message)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=READ) if s is not None]
    except ParseError as exc:
        error = (exc.errors or [{}])[0]
        line, col = error.get("line", 1), error.get("col", 1)
        desc = error.get("description") or str(exc)
        raise QueryFailed("SYNTAX_ERROR", f"line {line}:{col}: {desc}") from exc
    if len(statements) != 1:
        raise QueryFailed("SYNTAX_ERROR", f"line 1:1: Only one sql statement is allowed. Got: {len(statements)}")
    return statements[0]


def to_duckdb(tree: exp.Expression) -> str:
    """DuckDB SQL for a (resolved) Trino tree; NOT_SUPPORTED when sqlglot cannot express it."""
    try:
        return tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise QueryFailed(
            "NOT_SUPPORTED", f"the local Athena cannot run this query (Trino -> DuckDB translation): {exc}"
        ) from exc


HIDDEN_COLUMNS = frozenset({"$path", "$file_size", "$file_modified_time", "$partition", "$bucket"})


def reject_hidden_columns(tree: exp.Expression) -> exp.Expression:
    """Athena's hidden columns of Hive tables (``"$path"``...) are not read locally: NOT_SUPPORTED, rather than
    the COLUMN_NOT_FOUND DuckDB would answer for a column Athena has."""
    for column in tree.find_all(exp.Column):
        if column.name.lower() in HIDDEN_COLUMNS:
            raise QueryFailed(
                "NOT_SUPPORTED", f'the local Athena does not read the hidden column "{column.name}" of Hive tables'
            )
    return tree


def cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


_DUCKDB_ERRORS = (
    (re.compile(r"Table with name (\S+) does not exist"), "TABLE_NOT_FOUND", "Table '{0}' does not exist"),
    (
        re.compile(r'Referenced column "?([^"\s]+)"? not found'),
        "COLUMN_NOT_FOUND",
        "Column '{0}' cannot be resolved or requester is not authorized to access requested resources",
    ),
    (
        re.compile(r"Scalar Function with name (\w+) does not exist"),
        "FUNCTION_NOT_FOUND",
        "Function '{0}' not registered",
    ),
    (re.compile(r"Conversion Error: (.*)", re.DOTALL), "INVALID_CAST_ARGUMENT", "{0}"),
    (re.compile(r"Parser Error: (.*)", re.DOTALL), "SYNTAX_ERROR", "{0}"),
    (re.compile(r"Binder Error: (.*)", re.DOTALL), "SEMANTIC_ERROR", "{0}"),
)


def duckdb_failure(exc: Exception) -> QueryFailed:
    """An error of DuckDB as the Athena error it stands for."""
    text = str(exc).strip()
    for pattern, error_type, message in _DUCKDB_ERRORS:
        match = pattern.search(text)
        if match:
            return QueryFailed(error_type, message.format(*match.groups()).splitlines()[0])
    return QueryFailed("GENERIC_INTERNAL_ERROR", text.splitlines()[0] if text else type(exc).__name__, category=1)


def athena_column_names(tree: exp.Expression) -> exp.Expression:
    """Trino names an unaliased expression of the outer SELECT ``_col<position>``; DuckDB would name it after
    its text."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if isinstance(select, exp.Subquery):
        select = select.unnest()
    if isinstance(select, exp.Select):
        for i, item in enumerate(list(select.expressions)):
            if not isinstance(item, (exp.Alias, exp.Column, exp.Star)):
                item.replace(exp.alias_(item.copy(), f"_col{i}", quoted=False))
    return tree
