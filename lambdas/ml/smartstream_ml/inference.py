"""Incremental scoring: only the trusted files that arrived since the last successful run.

The checkpoint (``<MODEL_PREFIX>checkpoint.json``) holds the newest
LastModified scored and the keys (with their ETags) scored at exactly that
instant. A run with
nothing new, or with no model yet, does nothing and succeeds; the checkpoint
only moves after every new file was scored and written. Predictions of one
trusted file go to one Parquet file named after it, so scoring it again (a
re-processed source, a retry) replaces its predictions instead of adding more.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from . import model as salary_model
from .config import Settings
from .store import get_json, iter_rows, list_parquet, load_latest_model, put_json, write_parquet

PREDICTION_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("department", pa.string()),
        ("salary", pa.float64()),
        ("tenure_years", pa.float64()),
        ("expected_salary", pa.float64()),
        ("anomaly_score", pa.float64()),
        ("is_anomaly", pa.bool_()),
        ("model_version", pa.string()),
        ("source_key", pa.string()),
        ("_op", pa.string()),
        ("_commit_ts", pa.timestamp("us", tz="UTC")),
    ]
)


def score_rows(model: salary_model.SalaryModel, rows: Iterable[dict[str, Any]], source_key: str) -> pa.Table:
    """Predictions for the scorable rows (not deletes; salary and hire date present)."""
    out: dict[str, list[Any]] = {name: [] for name in PREDICTION_SCHEMA.names}
    for row in rows:
        commit_ts = row.get("_commit_ts")
        as_of = commit_ts.date() if isinstance(commit_ts, datetime) else date.today()
        obs = salary_model.observation(row, as_of)
        if obs is None:
            continue
        expected, score, flagged = model.score(obs.department, obs.tenure_years, obs.salary)
        for name, value in (
            ("id", obs.id),
            ("department", obs.department),
            ("salary", obs.salary),
            ("tenure_years", round(obs.tenure_years, 4)),
            ("expected_salary", round(expected, 2)),
            ("anomaly_score", round(score, 4)),
            ("is_anomaly", flagged),
            ("model_version", model.version),
            ("source_key", source_key),
            ("_op", row.get("_op")),
            ("_commit_ts", commit_ts),
        ):
            out[name].append(value)
    return pa.table(out, schema=PREDICTION_SCHEMA)


def prediction_key(settings: Settings, source_key: str) -> str:
    partition = next((p for p in source_key.split("/") if p.startswith("dt=")), "dt=unknown")
    return f"{settings.analytics_prefix}{partition}/{posixpath.basename(source_key)}"


def score_new_data(s3: Any, settings: Settings) -> dict[str, Any]:
    model = load_latest_model(s3, settings.bucket, settings.model_prefix)
    if model is None:
        return {"event": "inference", "status": "no-model", "files": 0, "scored": 0, "anomalies": 0}
    checkpoint_key = f"{settings.model_prefix}checkpoint.json"
    checkpoint = get_json(s3, settings.bucket, checkpoint_key) or {}
    watermark = datetime.fromisoformat(checkpoint["watermark"]) if checkpoint.get("watermark") else None
    # LastModified has a resolution of one second: a file rewritten within the
    # checkpoint's second is told apart by its ETag.
    seen: dict[str, str] = checkpoint.get("at_watermark", {})
    new = [
        o
        for o in list_parquet(s3, settings.bucket, settings.employees_prefix)
        if watermark is None
        or o["LastModified"] > watermark
        or (o["LastModified"] == watermark and seen.get(o["Key"]) != o.get("ETag"))
    ]
    if not new:
        return {
            "event": "inference",
            "status": "up-to-date",
            "files": 0,
            "scored": 0,
            "anomalies": 0,
            "model_version": model.version,
        }
    scored = anomalies = 0
    outputs = []
    for obj in new:
        table = score_rows(model, iter_rows(s3, settings.bucket, obj["Key"]), obj["Key"])
        if table.num_rows:
            key = prediction_key(settings, obj["Key"])
            write_parquet(s3, settings.bucket, key, table)
            outputs.append(key)
            scored += table.num_rows
            anomalies += sum(table.column("is_anomaly").to_pylist())
    newest = max(o["LastModified"] for o in new)
    at_newest = dict(seen) if watermark == newest else {}
    at_newest.update({o["Key"]: o.get("ETag") for o in new if o["LastModified"] == newest})
    put_json(
        s3,
        settings.bucket,
        checkpoint_key,
        {"watermark": newest.isoformat(), "at_watermark": at_newest, "model_version": model.version},
    )
    return {
        "event": "inference",
        "status": "scored",
        "files": len(new),
        "scored": scored,
        "anomalies": anomalies,
        "model_version": model.version,
        "outputs": outputs,
    }
