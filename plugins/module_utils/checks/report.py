# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A readable fixed-width table of check results."""

from __future__ import annotations

import json

DETAIL_WIDTH = 160


def detail_text(detail):
    text = detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True, default=str)
    return text if len(text) <= DETAIL_WIDTH else text[: DETAIL_WIDTH - 3] + "..."


def table(results):
    """One line per result: status, layer, check, seconds/threshold (freshness), detail; a header first."""
    rows = [("state", "layer", "check", "seconds", "detail")]
    for r in results:
        seconds = ""
        if "threshold_seconds" in r:
            value = "-" if r.get("seconds") is None else f"{r['seconds']:g}"
            seconds = f"{value} / {r['threshold_seconds']:g}"
        rows.append(("ok" if r["ok"] else "FAIL", r["layer"], r["name"], seconds, detail_text(r["detail"])))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [" | ".join([row[i].ljust(widths[i]) for i in range(4)] + [row[4]]).rstrip() for row in rows]
    return [lines[0], "-+-".join("-" * w for w in widths) + "-+-" + "-" * 6, *lines[1:]]


def summary(results):
    failed = [r for r in results if not r["ok"]]
    text = f"{len(results) - len(failed)} of {len(results)} checks passed"
    if failed:
        text += "; failed: " + ", ".join(f"{r['layer']}: {r['name']}" for r in failed)
    return text
