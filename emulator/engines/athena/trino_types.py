"""Result types of Trino's aggregates where DuckDB's differ, so an answer reads as Athena gives it.

Athena (engine v3, Trino) and DuckDB agree on most result types; two aggregates
the platform's views use do not:

- ``avg(x)`` of a ``decimal(p,s)`` is a ``decimal(p,s)`` in Trino, rounded half
  up from the exact quotient; DuckDB returns a DOUBLE (``88475.0`` where Athena
  shows ``88475.00``, and a ``double`` in the result's ColumnInfo). It becomes
  the exact quotient of the sum and the count of the scaled integers, rounded
  half up and cast back to ``decimal(p,s)``, also with DISTINCT and as a
  window function.
- ``approx_percentile(x, q)`` has no decimal signature in Trino (bigint,
  real, double): Trino's resolver picks the most specific signature the
  decimal coerces to, REAL, so the answer is a ``real``
  (https://github.com/trinodb/trino/issues/23880); DuckDB's
  ``approx_quantile`` keeps the decimal. The argument and the answer are cast to REAL.

The argument types come from DuckDB itself: the enclosing SELECT, with its
aggregates' arguments as its only columns, is bound with ``LIMIT 0`` over the
already registered tables. Where that probe cannot be built or bound (a
correlated argument, say), the aggregate keeps DuckDB's type.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import duckdb
from sqlglot import exp, parse_one

_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")
_CLAUSES_THE_PROBE_DROPS = ("group", "having", "qualify", "order", "limit", "offset", "distinct", "windows")


def _argument(node: exp.AggFunc) -> tuple[exp.Expression, bool]:
    """The aggregate's argument and whether it is DISTINCT."""
    arg = node.this
    if isinstance(arg, exp.Distinct) and len(arg.expressions) == 1:
        return arg.expressions[0], True
    return arg, False


def _argument_types(
    tree: exp.Expression, select: exp.Select, args: list[exp.Expression], bind: Callable[[str], list[str]]
) -> list[str] | None:
    """DuckDB's type of each argument, evaluated in the FROM of its SELECT; None when it cannot be bound."""
    probe = select.copy()
    for clause in _CLAUSES_THE_PROBE_DROPS:
        probe.set(clause, None)
    probe.set("expressions", [exp.alias_(a.copy(), f"__arg{i}") for i, a in enumerate(args)])
    if select is not tree and tree.args.get("with") is not None and probe.args.get("with") is None:
        probe.set("with", tree.args["with"].copy())  # the CTEs the inner SELECT may read
    try:
        return bind(probe.limit(0).sql(dialect="duckdb"))
    except (duckdb.Error, ValueError):
        return None


def _exact_decimal_avg(node: exp.Avg, window: exp.Window | None, precision: int, scale: int) -> exp.Expression:
    """``avg`` of a decimal(p,s) as Trino computes it: sum/count of the scaled values, rounded half up."""
    arg, distinct = _argument(node)
    scaled = exp.cast(exp.Mul(this=arg.copy(), expression=exp.Literal.number(10**scale)), "HUGEINT")

    def aggregate(kind: type[exp.AggFunc], value: exp.Expression) -> exp.Expression:
        call = kind(this=exp.Distinct(expressions=[value]) if distinct else value)
        if window is None:
            return call
        over = window.copy()
        over.set("this", call)
        return over

    total = aggregate(exp.Sum, scaled)
    count = exp.Nullif(this=aggregate(exp.Count, arg.copy()), expression=exp.Literal.number(0))
    unit = f"CAST('{'0.' + '0' * (scale - 1) + '1' if scale else '1'}' AS DECIMAL({scale + 1}, {scale}))"
    template = parse_one(
        f"CAST(CAST((2 * abs(__total) + __count) // (2 * __count) * sign(__total) AS DECIMAL(38, 0)) * {unit}"
        f" AS DECIMAL({precision}, {scale}))",
        read="duckdb",
    )
    for column in list(template.find_all(exp.Column)):
        column.replace((total if column.name == "__total" else count).copy())
    return template


def trino_result_types(tree: exp.Expression, bind: Callable[[str], list[str]]) -> exp.Expression:
    """The tree with ``avg`` and ``approx_percentile`` of decimals typed as Trino types them.

    ``bind`` takes DuckDB SQL and returns its result's column types as text (``DECIMAL(10,2)``).
    """
    targets = list(tree.find_all(exp.Avg, exp.ApproxQuantile))
    by_select: dict[int, tuple[exp.Select, list[exp.Expression]]] = {}
    for node in targets:
        select = node.find_ancestor(exp.Select)
        if select is not None:
            by_select.setdefault(id(select), (select, []))[1].append(node)
    for select, nodes in by_select.values():
        types = _argument_types(tree, select, [_argument(n)[0] for n in nodes], bind)
        if types is None:
            continue
        for node, duck_type in zip(nodes, types, strict=True):
            match = _DECIMAL.fullmatch(duck_type)
            if not match:
                continue
            if isinstance(node, exp.ApproxQuantile):
                node.set("this", exp.cast(node.this.copy(), "FLOAT"))  # DuckDB's FLOAT is the 4-byte REAL
                node.replace(exp.cast(node.copy(), "FLOAT"))  # DuckDB answers a FLOAT argument with a DOUBLE
                continue
            window = node.parent if isinstance(node.parent, exp.Window) else None
            replacement = _exact_decimal_avg(node, window, int(match[1]), int(match[2]))
            (window or node).replace(replacement)
    return tree
