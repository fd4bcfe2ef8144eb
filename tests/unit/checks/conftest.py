"""moto in-process for the checks of plugins/module_utils/checks: a context over its clients, and a runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks import runner
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import Context
from moto import mock_aws

REGION = "us-east-1"
ACCOUNT = "123456789012"
PREFIX = "ss-test"
TAGS = {"Project": "ss", "Environment": "test", "ManagedBy": "ansible:smartstream.pipeline"}
NAMES: dict[str, Any] = {
    "prefix": PREFIX,
    "region": REGION,
    "account_id": ACCOUNT,
    "data_lake_bucket": f"{PREFIX}-datalake",
    "athena_results_bucket": f"{PREFIX}-athena",
    "access_logs_bucket": f"{PREFIX}-s3logs",
    "secret": "ss/test/rds/master",
    "replication_secret": "ss/test/rds/replication",
    "rotation_function": f"{PREFIX}-secret-rotation",
    "db_instance": f"{PREFIX}-db",
    "stream": f"{PREFIX}-cdc",
    "delivery_stream": f"{PREFIX}-raw",
    "replication_instance": f"{PREFIX}-dms",
    "replication_task": f"{PREFIX}-cdc",
    "source_endpoint": f"{PREFIX}-source",
    "target_endpoint": f"{PREFIX}-kinesis",
    "dms_role": f"{PREFIX}-dms",
    "transform_function": f"{PREFIX}-transform",
    "ml_function": f"{PREFIX}-ml-inference",
    "ml_schedule_rule": f"{PREFIX}-ml-inference-schedule",
    "dlq": f"{PREFIX}-lambda-dlq",
    "glue_database": "ss_test",
    "crawlers": {f"{PREFIX}-trusted": "trusted/", f"{PREFIX}-trusted-analytics": "trusted-analytics/"},
    "workgroup": PREFIX,
    "alert_topic": f"{PREFIX}-alerts",
    "task_failure_rule": f"{PREFIX}-dms-task-failed",
    "dashboard": f"{PREFIX}-pipeline",
}


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def make_context(expected: dict[str, Any] | None = None, now: datetime | None = None, **names: Any) -> Context:
    return Context(client, {**NAMES, **names}, expected or {}, (lambda: now) if now else None)


@pytest.fixture
def check(aws: None) -> Callable[..., dict[str, Any]]:
    """check(func, expected=..., now=..., **names) -> the result of one check, as the module reports it."""

    def run(
        func: Callable[..., Any], expected: dict[str, Any] | None = None, now: datetime | None = None, **names: Any
    ):
        layer = func.__module__.rsplit(".", 1)[-1]
        return runner.run_one(layer, func, make_context(expected, now, **names))

    return run


def utcnow() -> datetime:
    return datetime.now(UTC)
