"""Train the salary model on the current trusted employees data and store it in S3.

Command line (playbooks/train.yml runs the same):
    python -m smartstream_ml.train --bucket <data-lake> [--as-of YYYY-MM-DD] [--skip-if-current]
--skip-if-current trains only when the trusted files differ from those the latest model was trained on.
Environment as for the functions (EMPLOYEES_PREFIX, MODEL_PREFIX, ANOMALY_THRESHOLD);
AWS_ENDPOINT_URL / AWS_CA_BUNDLE aim it at the local emulator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, date, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from . import model as salary_model
from .config import Settings
from .store import get_json, list_parquet, read_rows, save_model


def train(s3: Any, settings: Settings, as_of: date | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Read every trusted employees file, derive the current state, fit, save. Returns a summary."""
    now = now or datetime.now(UTC)
    as_of = as_of or now.date()
    rows = []
    files = list_parquet(s3, settings.bucket, settings.employees_prefix)
    for obj in files:
        rows.extend(read_rows(s3, settings.bucket, obj["Key"]))
    current = salary_model.current_state(rows)
    observations = [o for o in (salary_model.observation(r, as_of) for r in current) if o is not None]
    fitted = salary_model.fit(observations, threshold=settings.threshold, trained_at=now)
    fitted.metrics.update(
        {
            "source_files": len(files),
            "source_rows": len(rows),
            "source_last_modified": newest_source(files),
            "as_of": as_of.isoformat(),
        }
    )
    key = save_model(s3, settings.bucket, settings.model_prefix, fitted)
    return {"event": "train", "version": fitted.version, "model_key": key, "metrics": fitted.metrics}


def newest_source(files: list[dict[str, Any]]) -> str:
    """When the newest trusted file was written (ISO 8601), '' with none."""
    return max(o["LastModified"] for o in files).isoformat() if files else ""


def current_model(s3: Any, settings: Settings) -> dict[str, Any] | None:
    """The latest model's pointer when it was trained on the trusted files as they are now, else None.

    Same number of files and the same newest LastModified: the transform only adds or rewrites files, and
    either moves one of the two. Models trained before this was recorded are never current.
    """
    pointer = get_json(s3, settings.bucket, f"{settings.model_prefix}latest.json")
    if pointer is None:
        return None
    metrics = get_json(s3, settings.bucket, f"{settings.model_prefix}{pointer['version']}/metrics.json") or {}
    files = list_parquet(s3, settings.bucket, settings.employees_prefix)
    if not files or not metrics.get("source_last_modified"):
        return None
    if metrics.get("source_files") == len(files) and metrics["source_last_modified"] == newest_source(files):
        return pointer
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the SmartStream salary anomaly model.")
    parser.add_argument("--bucket", required=True, help="the data-lake bucket")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="tenure reference date")
    parser.add_argument(
        "--skip-if-current",
        action="store_true",
        help="do nothing when the latest model was trained on the trusted files as they are now",
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env({**os.environ, "DATA_BUCKET": args.bucket})
    s3 = boto3.client("s3")
    try:
        if args.skip_if_current and (pointer := current_model(s3, settings)) is not None:
            skipped = {"event": "train", "skipped": True, "version": pointer["version"], "model_key": pointer["key"]}
            print(json.dumps(skipped))
            return 0
        summary = train(s3, settings, as_of=args.as_of)
    except ValueError as exc:
        print(json.dumps({"event": "train", "error": str(exc)}), file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(json.dumps({"event": "train", "error": f"s3://{settings.bucket}: {exc}"}), file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
