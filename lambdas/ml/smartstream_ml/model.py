"""Expected salary per department and tenure, with an anomaly score: the pure core.

Model: for each department, ``log(salary) = intercept + slope * tenure_years``,
fitted robustly (least squares, then refitted without the points further than
``threshold`` robust deviations, three rounds), with the spread of the
residuals measured by the MAD. A record's anomaly score is how many robust
standard deviations its log salary lies from its department's line; it is an
anomaly above ``threshold`` (3.5 by default). Departments with fewer than
``min_department_rows`` rows, or unknown at scoring time, use the line fitted
over all departments.

Why this model: salaries are multiplicative (a raise is a percentage), so a
line in log space; tenure drives pay within a department; the MAD keeps the
anomalies themselves from widening the band they are judged by. It is small
enough to keep as JSON, to explain per record (expected salary, distance) and
to train inside a Lambda.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

MAD_TO_SIGMA = 1.4826
MIN_SCALE = 0.02
GLOBAL = "__all__"


@dataclass(frozen=True, slots=True)
class Line:
    intercept: float
    slope: float
    scale: float
    rows: int


@dataclass(frozen=True, slots=True)
class SalaryModel:
    version: str
    trained_at: str
    threshold: float
    lines: dict[str, Line]
    metrics: dict[str, Any] = field(default_factory=dict)

    def line_for(self, department: str | None) -> Line:
        return self.lines.get(department or "", self.lines[GLOBAL])

    def score(self, department: str | None, tenure_years: float, salary: float) -> tuple[float, float, bool]:
        """(expected salary, anomaly score, is anomaly) of one employee."""
        line = self.line_for(department)
        predicted = line.intercept + line.slope * tenure_years
        score = abs(math.log(max(salary, 0.01)) - predicted) / line.scale
        return math.exp(predicted), score, score > self.threshold

    def to_json(self) -> str:
        return json.dumps(
            {
                "model": "salary-by-department-and-tenure",
                "version": self.version,
                "trained_at": self.trained_at,
                "threshold": self.threshold,
                "lines": {k: asdict(v) for k, v in sorted(self.lines.items())},
                "metrics": self.metrics,
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> SalaryModel:
        doc = json.loads(text)
        return cls(
            version=doc["version"],
            trained_at=doc["trained_at"],
            threshold=float(doc["threshold"]),
            lines={k: Line(**v) for k, v in doc["lines"].items()},
            metrics=doc.get("metrics", {}),
        )


@dataclass(frozen=True, slots=True)
class Observation:
    """One employee as the model sees it."""

    id: int
    department: str | None
    tenure_years: float
    salary: float


def tenure_years(hire_date: date, as_of: date) -> float:
    return max((as_of - hire_date).days, 0) / 365.25


def _robust_line(x: np.ndarray, y: np.ndarray, threshold: float, rounds: int = 3) -> Line:
    keep = np.ones(len(x), dtype=bool)
    slope, intercept = 0.0, float(np.median(y))
    scale = MIN_SCALE
    for _round in range(rounds):
        xs, ys = x[keep], y[keep]
        if len(xs) >= 3 and np.ptp(xs) > 0:
            slope, intercept = (float(v) for v in np.polyfit(xs, ys, 1))
        else:
            slope, intercept = 0.0, float(np.median(ys))
        residuals = y - (intercept + slope * x)
        # Judge every point by its distance from the centre of the kept residuals, in
        # robust deviations: a far outlier pulls the first least-squares line, so the
        # typical points sit off it together; measured from the line itself they would
        # all look far (and the line would never be refitted without the outlier).
        centre = float(np.median(residuals[keep]))
        scale = max(float(MAD_TO_SIGMA * np.median(np.abs(residuals[keep] - centre))), MIN_SCALE)
        new_keep = np.abs(residuals - centre) / scale <= threshold
        if new_keep.sum() < 3 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return Line(intercept=intercept, slope=slope, scale=scale, rows=len(x))


def fit(
    observations: Sequence[Observation],
    threshold: float = 3.5,
    min_department_rows: int = 10,
    trained_at: datetime | None = None,
) -> SalaryModel:
    """Fit one robust line per department (and one over all); raises ValueError on too little data."""
    usable = [o for o in observations if o.salary > 0]
    if len(usable) < 3:
        raise ValueError(f"need at least 3 employees with a positive salary to train, got {len(usable)}")
    x = np.array([o.tenure_years for o in usable])
    y = np.log(np.array([o.salary for o in usable]))
    lines = {GLOBAL: _robust_line(x, y, threshold)}
    departments = np.array([o.department or "" for o in usable])
    for department in sorted(set(departments.tolist())):
        mask = departments == department
        if department and mask.sum() >= min_department_rows:
            lines[department] = _robust_line(x[mask], y[mask], threshold)
    trained_at = trained_at or datetime.now(UTC)
    digest = hashlib.sha256(json.dumps({k: asdict(v) for k, v in sorted(lines.items())}).encode()).hexdigest()[:8]
    model = SalaryModel(
        version=f"{trained_at.strftime('%Y%m%dT%H%M%SZ')}-{digest}",
        trained_at=trained_at.isoformat(),
        threshold=threshold,
        lines=lines,
    )
    flagged = sum(model.score(o.department, o.tenure_years, o.salary)[2] for o in usable)
    metrics = {
        "rows": len(usable),
        "departments": {k: v.rows for k, v in sorted(lines.items()) if k != GLOBAL},
        "flagged": flagged,
        "flagged_share": round(flagged / len(usable), 4),
        "median_relative_spread": round(float(np.median([v.scale for v in lines.values()])), 4),
    }
    return SalaryModel(model.version, model.trained_at, threshold, lines, metrics)


def quality(model: SalaryModel, observations: Iterable[Observation], labels: dict[int, bool]) -> dict[str, float]:
    """Precision and recall of the anomaly flag against known labels (synthetic data)."""
    tp = fp = fn = tn = 0
    for o in observations:
        flagged = model.score(o.department, o.tenure_years, o.salary)[2]
        actual = labels.get(o.id, False)
        tp += flagged and actual
        fp += flagged and not actual
        fn += actual and not flagged
        tn += not flagged and not actual
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def change_order(row: dict[str, Any]) -> tuple[Any, ...]:
    """Where a trusted CDC row stands among the changes of its key (the saved current-employees
    query's order): CDC after every load row; CDC by log position, then place in its transaction;
    load rows by load time; the rest only picks among identical redelivered copies."""
    lsn, trid = row.get("_lsn"), row.get("_transaction_record_id")
    return (
        row.get("_op") != "load",
        lsn is not None,
        lsn or 0,
        trid is not None,
        trid or 0,
        row.get("_commit_ts") or datetime.min.replace(tzinfo=UTC),
        row.get("_change_id") or "",
        row.get("_source_key") or "",
        row.get("_record_seq") or 0,
    )


def current_state(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The current employees from trusted CDC rows: the latest row per id, without the deleted ones."""
    latest: dict[Any, tuple[tuple[Any, ...], dict[str, Any]]] = {}
    for row in rows:
        order = change_order(row)
        seen = latest.get(row["id"])
        if seen is None or order >= seen[0]:
            latest[row["id"]] = (order, row)
    return [row for _order, row in latest.values() if row.get("_op") != "delete"]


def observation(row: dict[str, Any], as_of: date) -> Observation | None:
    """The model's view of a trusted employees row; None when it lacks salary or hire date."""
    salary, hire = row.get("salary"), row.get("hire_date")
    if salary is None or hire is None or row.get("_op") == "delete":
        return None
    return Observation(int(row["id"]), row.get("department"), tenure_years(hire, as_of), float(salary))
