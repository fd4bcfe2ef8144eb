"""Training and incremental inference against moto S3, fed by the real transform."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws
from smartstream_ml import handler, inference, synthetic, train
from smartstream_ml.config import ConfigError, Settings
from smartstream_transform.core import transform_object

BUCKET = "smartstream-local-datalake-123456789012-us-east-1"
START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SETTINGS = Settings.from_env({"DATA_BUCKET": BUCKET})


@pytest.fixture
def s3(monkeypatch):
    for var in ("AWS_ENDPOINT_URL", "AWS_CA_BUNDLE", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def land_trusted(s3, raw_key: str, people, seed: int = 1) -> list[str]:
    """Run the real transform on a raw object and store its trusted output."""
    body = gzip.compress(synthetic.render(synthetic.cdc_stream(people, START, seed=seed)))
    result = transform_object(io.BytesIO(body), raw_key)
    for out in result.outputs:
        s3.put_object(Bucket=BUCKET, Key=out.key, Body=out.body)
    return [o.key for o in result.outputs]


def keys(s3, prefix):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_no_model_yet_does_nothing_and_succeeds(s3):
    land_trusted(s3, "raw/2026/11/24/10/a.gz", synthetic.employees(50))

    result = inference.score_new_data(s3, SETTINGS)

    assert result["status"] == "no-model" and result["scored"] == 0
    assert keys(s3, "trusted-analytics/") == [] and keys(s3, "models/") == []


def test_training_writes_a_versioned_model_with_its_metrics(s3):
    land_trusted(s3, "raw/2026/11/24/10/a.gz", synthetic.employees(800, seed=3), seed=3)

    summary = train.train(s3, SETTINGS, now=datetime(2026, 11, 24, 12, tzinfo=UTC))

    version = summary["version"]
    assert keys(s3, "models/") == [
        f"models/salary-anomaly/{version}/metrics.json",
        f"models/salary-anomaly/{version}/model.json",
        "models/salary-anomaly/latest.json",
    ]
    metrics = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"models/salary-anomaly/{version}/metrics.json")["Body"].read()
    )
    deleted = 800 - metrics["rows"]
    assert 0 < deleted < 80  # the CDC stream's deletes are not in the current state
    assert metrics["source_files"] == 1


def test_inference_is_incremental(s3):
    land_trusted(s3, "raw/2026/11/24/10/a.gz", synthetic.employees(600, seed=8), seed=8)
    train.train(s3, SETTINGS)

    first = inference.score_new_data(s3, SETTINGS)
    assert first["status"] == "scored" and first["files"] == 1 and first["scored"] > 0
    [output] = keys(s3, "trusted-analytics/")
    assert output.startswith("trusted-analytics/salary_anomalies/dt=2026-11-24/")
    predictions = pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=output)["Body"].read()))
    assert set(predictions.column("model_version").to_pylist()) == {first["model_version"]}
    assert "delete" not in predictions.column("_op").to_pylist()

    second = inference.score_new_data(s3, SETTINGS)
    assert second["status"] == "up-to-date" and second["scored"] == 0
    assert keys(s3, "trusted-analytics/") == [output]

    land_trusted(s3, "raw/2026/11/24/11/b.gz", synthetic.employees(40, seed=9, start_id=5000), seed=9)
    third = inference.score_new_data(s3, SETTINGS)
    assert third["files"] == 1 and len(keys(s3, "trusted-analytics/")) == 2


def test_a_reprocessed_source_replaces_its_predictions(s3):
    people = synthetic.employees(100, seed=4)
    land_trusted(s3, "raw/2026/11/24/10/a.gz", people, seed=4)
    train.train(s3, SETTINGS)
    inference.score_new_data(s3, SETTINGS)
    before = keys(s3, "trusted-analytics/")

    # the transform ran again on the same raw object: identical output. Within the
    # checkpoint's second its ETag says "seen"; in a later second it is scored again.
    # Either way its predictions are replaced, never added.
    land_trusted(s3, "raw/2026/11/24/10/a.gz", people, seed=4)
    assert inference.score_new_data(s3, SETTINGS)["files"] in (0, 1)
    assert keys(s3, "trusted-analytics/") == before

    # a corrected transform rewrote the same trusted file (even within the same second)
    raised = [
        synthetic.Employee(**{**p.row(), "salary": f"{float(p.salary) * 3:.2f}", "planted_anomaly": False})
        if p.id == people[0].id
        else p
        for p in people
    ]
    land_trusted(s3, "raw/2026/11/24/10/a.gz", raised, seed=4)
    again = inference.score_new_data(s3, SETTINGS)

    assert again["files"] == 1
    assert keys(s3, "trusted-analytics/") == before
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=before[0])["Body"].read())).to_pylist()
    first = [r for r in table if r["id"] == people[0].id]
    assert first and all(r["salary"] >= float(people[0].salary) * 2.9 for r in first)


def test_planted_anomalies_come_out_flagged(s3):
    people = synthetic.employees(1500, seed=12)
    land_trusted(s3, "raw/2026/11/24/10/a.gz", people, seed=12)
    train.train(s3, SETTINGS)
    inference.score_new_data(s3, SETTINGS)

    [output] = keys(s3, "trusted-analytics/")
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=output)["Body"].read())).to_pylist()
    flagged = {r["id"] for r in table if r["is_anomaly"]}
    planted = {p.id for p in people if p.planted_anomaly} & {r["id"] for r in table}
    assert len(flagged & planted) / len(planted) >= 0.9
    assert len(flagged & planted) / len(flagged) >= 0.9


def test_handler_reads_its_configuration_and_returns_the_summary(s3, monkeypatch):
    monkeypatch.setenv("DATA_BUCKET", BUCKET)

    assert handler.lambda_handler({"source": "aws.events", "detail-type": "Scheduled Event"})["status"] == "no-model"


def test_train_skips_when_the_trusted_files_did_not_change(s3, capsys):
    land_trusted(s3, "raw/2026/11/24/10/a.gz", synthetic.employees(200, seed=5), seed=5)

    assert train.main(["--bucket", BUCKET, "--skip-if-current"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert train.main(["--bucket", BUCKET, "--skip-if-current"]) == 0
    second = json.loads(capsys.readouterr().out)
    land_trusted(s3, "raw/2026/11/24/11/b.gz", synthetic.employees(20, seed=6, start_id=5_000), seed=6)
    assert train.main(["--bucket", BUCKET, "--skip-if-current"]) == 0
    third = json.loads(capsys.readouterr().out)

    assert "skipped" not in first and first["metrics"]["source_last_modified"]
    assert second == {"event": "train", "skipped": True, "version": first["version"], "model_key": first["model_key"]}
    assert "skipped" not in third and third["metrics"]["source_files"] == 2


def test_train_command_line_refuses_an_empty_lake(s3, capsys):
    assert train.main(["--bucket", BUCKET]) == 2
    assert "at least 3 employees" in capsys.readouterr().err


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"DATA_BUCKET": "b", "ANOMALY_THRESHOLD": "high"},
        {"DATA_BUCKET": "b", "ANOMALY_THRESHOLD": "0.5"},
        {"DATA_BUCKET": "b", "MODEL_PREFIX": "models"},
    ],
)
def test_bad_configuration_is_refused(environ):
    with pytest.raises(ConfigError):
        Settings.from_env(environ)


def test_a_file_at_the_watermark_is_told_apart_by_its_etag(s3):
    """S3 times have one-second resolution: at the checkpoint's instant only the ETag tells a rewrite."""
    land_trusted(s3, "raw/2026/11/24/10/a.gz", synthetic.employees(60, seed=6), seed=6)
    train.train(s3, SETTINGS)
    [obj] = s3.list_objects_v2(Bucket=BUCKET, Prefix=SETTINGS.employees_prefix)["Contents"]
    checkpoint = f"{SETTINGS.model_prefix}checkpoint.json"

    def checkpoint_at_watermark(etag):
        s3.put_object(
            Bucket=BUCKET,
            Key=checkpoint,
            Body=json.dumps(
                {"watermark": obj["LastModified"].isoformat(), "at_watermark": {obj["Key"]: etag}}
            ).encode(),
        )

    checkpoint_at_watermark(obj["ETag"])
    assert inference.score_new_data(s3, SETTINGS)["files"] == 0  # seen at that instant, same content

    checkpoint_at_watermark('"an-older-version"')
    assert inference.score_new_data(s3, SETTINGS)["files"] == 1  # same instant, other content: scored
