"""Trino functions whose DuckDB namesake means something else, rewritten so the answer is Athena's.

- ``format(fmt, args...)`` is Java's ``String.format`` in Trino
  (``format('%s-%s', 'a', 1)`` is ``a-1``); DuckDB's ``format`` takes
  ``{}`` placeholders and answers ``%s-%s`` unchanged, silently. It becomes
  DuckDB's ``printf`` with the same format, each ``%s`` / ``%S`` argument cast
  to varchar first (Java formats any value with ``%s``; DuckDB's printf only
  strings), ``%S`` upper-cased and ``%n`` a newline. What printf does not do
  as Java does fails loudly (NOT_SUPPORTED): a format that is not a literal,
  argument indexes (``%1$s``, ``%<s``), the ``(`` flag, and conversions other
  than ``s S d o x X e E f c % n`` (``%g`` and ``%b`` differ, ``%t`` dates).
"""

from __future__ import annotations

import re

from sqlglot import exp

from emulator.engines.athena.errors import QueryFailed

_SPEC = re.compile(r"%(?P<index>\d+\$|<)?(?P<flags>[-#+ 0,(]*)(?P<width>\d+)?(?:\.(?P<precision>\d+))?(?P<conv>.?)")
_PRINTF_CONVERSIONS = set("sSdoxXeEfc")


def _unsupported(fmt: str, why: str) -> QueryFailed:
    return QueryFailed("NOT_SUPPORTED", f"the local Athena cannot run format('{fmt}', ...): {why}")


def _printf(node: exp.Format) -> exp.Expression:
    """Trino's ``format`` as DuckDB's ``printf``."""
    pattern, args = node.this, [a.copy() for a in node.expressions]
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise QueryFailed("NOT_SUPPORTED", "the local Athena runs format() only with a literal format string")
    fmt, out, position, last = pattern.this, [], 0, 0
    for spec in _SPEC.finditer(fmt):
        out.append(fmt[last : spec.start()])
        last = spec.end()
        conv, flags = spec["conv"], spec["flags"]
        if conv in ("%", "n"):
            out.append("%%" if conv == "%" else "\n")
            continue
        if spec["index"]:
            raise _unsupported(fmt, f"argument index in {spec[0]!r}")
        if "(" in flags or conv not in _PRINTF_CONVERSIONS:
            raise _unsupported(fmt, f"the specifier {spec[0]!r}")
        if position >= len(args):
            raise QueryFailed("INVALID_FUNCTION_ARGUMENT", f"Missing format argument '{spec[0]}'")
        if conv in "sS":
            text = exp.cast(args[position], "VARCHAR")
            args[position] = exp.Upper(this=text) if conv == "S" else text
            conv = "s"
        out.append(spec[0][:-1] + conv)
        position += 1
    out.append(fmt[last:])
    return exp.Anonymous(this="printf", expressions=[exp.Literal.string("".join(out)), *args])


def trino_functions(tree: exp.Expression) -> exp.Expression:
    """The tree with Trino's ``format`` calls rewritten for DuckDB (in place; returns the tree)."""
    for node in reversed(list(tree.find_all(exp.Format, bfs=False))):  # inner calls first
        replacement = _printf(node)
        if node is tree:
            return replacement
        node.replace(replacement)
    return tree
