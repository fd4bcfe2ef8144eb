# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
name: text_table
short_description: Rows as a fixed-width text table
version_added: 0.1.0
description:
  - Renders rows (lists of values, in column order) under a header of column names as a fixed-width table,
    numbers right-aligned, other values left-aligned; long values are cut with an ellipsis.
  - Meant for C(ansible.builtin.debug) with the YAML result format, which prints the text as a block.
author:
  - SmartStream platform team (@smartstream)
options:
  _input:
    description: The rows, each a list of values (None shows as I(null_text)).
    type: list
    elements: list
    required: true
  columns:
    description:
      - The columns, in order - names, or dicts with C(name) and C(type) (as M(smartstream.pipeline.athena_query)
        returns them; numeric types are right-aligned).
    type: list
    elements: raw
    required: true
  max_width:
    description: Widest a column may be (characters).
    type: int
    default: 40
  null_text:
    description: Text shown for a missing value.
    type: str
    default: "NULL"
"""

EXAMPLES = r"""
- name: Show the result
  ansible.builtin.debug:
    msg: "{{ result.rows | smartstream.pipeline.text_table(result.columns) }}"
"""

RETURN = r"""
_value:
  description: The table, lines joined with newlines.
  type: str
"""

from ansible.errors import AnsibleFilterError  # noqa: E402 (documentation first, as in modules)

NUMERIC = ("tinyint", "smallint", "integer", "int", "bigint", "real", "float", "double", "decimal")


def _cut(text, width):
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def text_table(rows, columns, max_width=40, null_text="NULL"):
    """The rows under their column names, fixed width, separated by ' | ', with a rule under the header."""
    if not isinstance(rows, list) or not isinstance(columns, list):
        raise AnsibleFilterError("text_table: rows and columns must be lists")
    if max_width < 1:
        raise AnsibleFilterError("text_table: max_width must be at least 1")
    names = [c["name"] if isinstance(c, dict) else str(c) for c in columns]
    numeric = [isinstance(c, dict) and str(c.get("type", "")).lower().startswith(NUMERIC) for c in columns]
    cells = []
    for row in rows:
        if len(row) != len(names):
            raise AnsibleFilterError(f"text_table: a row has {len(row)} values for {len(names)} columns")
        cells.append([_cut(null_text if v is None else str(v), max_width) for v in row])
    header = [_cut(n, max_width) for n in names]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]

    def line(values):
        return " | ".join(
            v.rjust(w) if right else v.ljust(w) for v, w, right in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(header), "-+-".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    return "\n".join(out)


class FilterModule:
    def filters(self):
        return {"text_table": text_table}
