"""Secrets Manager's LastAccessedDate: set by reading the value, the day only, shown by DescribeSecret / ListSecrets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from emulator import patches

patches.apply_all()
REGION = "us-east-1"


@pytest.fixture
def sm(in_process_aws):
    return in_process_aws("secretsmanager", REGION)


def _today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def test_a_secret_never_read_has_no_last_accessed_date(sm):
    sm.create_secret(Name="unread", SecretString="x")
    assert "LastAccessedDate" not in sm.describe_secret(SecretId="unread")
    assert "LastAccessedDate" not in sm.list_secrets()["SecretList"][0]


def test_get_secret_value_sets_the_day_it_was_read(sm):
    arn = sm.create_secret(Name="read", SecretString="x")["ARN"]
    sm.create_secret(Name="other", SecretString="y")
    sm.get_secret_value(SecretId=arn)
    assert sm.describe_secret(SecretId="read")["LastAccessedDate"] == _today()
    listed = {s["Name"]: s for s in sm.list_secrets()["SecretList"]}
    assert listed["read"]["LastAccessedDate"] == _today()
    assert "LastAccessedDate" not in listed["other"]


def test_batch_get_secret_value_sets_it_too(sm):
    sm.create_secret(Name="batch", SecretString="x")
    sm.batch_get_secret_value(SecretIdList=["batch"])
    assert sm.describe_secret(SecretId="batch")["LastAccessedDate"] == _today()


def test_a_failed_read_sets_nothing(sm):
    sm.create_secret(Name="empty")
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.get_secret_value(SecretId="empty")
    assert "LastAccessedDate" not in sm.describe_secret(SecretId="empty")
