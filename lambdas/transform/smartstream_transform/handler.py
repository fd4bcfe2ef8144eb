"""Lambda entry point: S3 ObjectCreated events for raw/ -> the pure core -> S3 writes.

Handler: smartstream_transform.handler.lambda_handler
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote_plus

import boto3

from .config import Settings
from .core import transform_object

logger = logging.getLogger("smartstream.transform")
_S3 = None


def _s3():
    global _S3
    if _S3 is None:
        _S3 = boto3.client("s3")
    return _S3


def created_objects(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(bucket, key) of every ObjectCreated record of an S3 event; keys URL-decoded."""
    found = []
    for record in event.get("Records", []):
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        found.append((s3["bucket"]["name"], unquote_plus(s3["object"]["key"])))
    return found


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    settings = Settings.from_env()
    logger.setLevel(settings.log_level)
    s3 = _s3()
    summaries = []
    for bucket, key in created_objects(event):
        if not key.startswith(settings.transform.raw_prefix):
            logger.info(json.dumps({"event": "ignored", "bucket": bucket, "key": key, "reason": "not under raw/"}))
            continue
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            result = transform_object(body, key, settings.transform)
        finally:
            body.close()
        target = settings.output_bucket or bucket
        try:
            for output in result.files:  # streamed from their spooled files (multipart when large)
                s3.upload_fileobj(output.open(), target, output.key, ExtraArgs={"ContentType": output.content_type})
        finally:
            result.close()
        line = result.log_record()
        logger.info(json.dumps(line))
        if not line["balanced"]:  # an accounting bug must fail the invocation, never lose records silently
            raise RuntimeError(f"record counts do not balance for {key}: {line['tables']}")
        summaries.append(line)
    return {
        "objects": len(summaries),
        "written": sum(s["totals"]["written"] for s in summaries),
        "quarantined": sum(s["totals"]["quarantined"] for s in summaries),
        "skipped": sum(s["totals"]["skipped"] for s in summaries),
    }
