"""S3 access of the ML functions: trusted Parquet in, models and predictions out."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .model import SalaryModel


def list_parquet(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every .parquet object under the prefix: [{'Key', 'LastModified', ...}], oldest first."""
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects.extend(o for o in page.get("Contents", []) if o["Key"].endswith(".parquet"))
    return sorted(objects, key=lambda o: (o["LastModified"], o["Key"]))


def read_rows(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body)).to_pylist()


def iter_rows(s3: Any, bucket: str, key: str, batch_size: int = 16_384) -> Iterator[dict[str, Any]]:
    """The rows of one Parquet object, decoded one batch at a time (bounded memory)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    for batch in pq.ParquetFile(io.BytesIO(body)).iter_batches(batch_size=batch_size):
        yield from batch.to_pylist()


def write_parquet(s3: Any, bucket: str, key: str, table: pa.Table) -> None:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    s3.put_object(Bucket=bucket, Key=key, Body=sink.getvalue(), ContentType="application/vnd.apache.parquet")


def put_json(s3: Any, bucket: str, key: str, doc: Any) -> None:
    body = doc if isinstance(doc, str) else json.dumps(doc, indent=2, sort_keys=True, default=str)
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")


def get_json(s3: Any, bucket: str, key: str) -> Any | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def save_model(s3: Any, bucket: str, model_prefix: str, model: SalaryModel) -> str:
    """Write models/<version>/model.json and metrics.json, then point latest.json at it."""
    base = f"{model_prefix}{model.version}/"
    put_json(s3, bucket, f"{base}model.json", model.to_json())
    put_json(s3, bucket, f"{base}metrics.json", model.metrics)
    put_json(s3, bucket, f"{model_prefix}latest.json", {"version": model.version, "key": f"{base}model.json"})
    return f"{base}model.json"


def load_latest_model(s3: Any, bucket: str, model_prefix: str) -> SalaryModel | None:
    pointer = get_json(s3, bucket, f"{model_prefix}latest.json")
    if pointer is None:
        return None
    return SalaryModel.from_json(s3.get_object(Bucket=bucket, Key=pointer["key"])["Body"].read().decode())
