"""Rotation checks against moto: the platform as deployed passes; the master secret on the endpoint, a secret
without rotation and a rotation never done or left pending each fail."""

from __future__ import annotations

import json
import time

import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks import secrets
from moto.secretsmanager.models import secretsmanager_backends

from .conftest import ACCOUNT, PREFIX, REGION, client

MASTER, REPLICATION = "ss/test/rds/master", "ss/test/rds/replication"
FUNCTION = f"{PREFIX}-secret-rotation"
NAMES = {"replication_secret": REPLICATION, "rotation_function": FUNCTION}


def _rotation(name: str, enabled: bool = True, rotated: bool = True, pending: bool = False) -> None:
    """What RotateSecret leaves on a secret (moto's model, set directly: no function runs here)."""
    secret = secretsmanager_backends[ACCOUNT][REGION].secrets[name]
    secret.rotation_requested = True
    secret.rotation_enabled = enabled
    secret.rotation_lambda_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}" if enabled else ""
    secret.auto_rotate_after_days = 30 if enabled else 0
    secret.last_rotation_date = int(time.time()) if rotated else None
    if pending:
        secret.versions["pending"] = {"version_id": "pending", "version_stages": ["AWSPENDING"], "createdate": 0}


def _endpoint(secret: str) -> None:
    client("dms").create_endpoint(
        EndpointIdentifier=f"{PREFIX}-source", EndpointType="source", EngineName="postgres",
        PostgreSQLSettings={"SecretsManagerSecretId": secret,
                            "SecretsManagerAccessRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-dms"},
    )  # fmt: skip


@pytest.fixture
def deployed(aws):
    sm = client("secretsmanager")
    for name in (MASTER, REPLICATION):
        sm.create_secret(Name=name, SecretString=json.dumps({"username": "u", "password": "p" * 32}))
        _rotation(name)
    _endpoint(REPLICATION)


def test_the_rotation_as_deployed_passes(check, deployed):
    for func in (secrets.source_endpoint_secret, secrets.rotation_configured, secrets.rotation_succeeded):
        result = check(func, **NAMES)
        assert result["ok"], (func.__name__, result["detail"])


def test_the_master_secret_on_the_source_endpoint_fails(check, aws):
    client("secretsmanager").create_secret(Name=MASTER, SecretString="{}")
    client("secretsmanager").create_secret(Name=REPLICATION, SecretString="{}")
    _endpoint(MASTER)
    result = check(secrets.source_endpoint_secret, **NAMES)
    assert not result["ok"] and "replication secret" in str(result["detail"])


def test_a_secret_without_rotation_or_another_function_fails(check, deployed):
    _rotation(MASTER, enabled=False)
    result = check(secrets.rotation_configured, **NAMES)
    assert not result["ok"] and MASTER in result["detail"]
    result = check(secrets.rotation_configured, **{**NAMES, "rotation_function": "another"})
    assert not result["ok"] and REPLICATION in result["detail"]


def test_a_rotation_never_done_or_left_pending_fails(check, deployed):
    _rotation(REPLICATION, rotated=False)
    result = check(secrets.rotation_succeeded, **NAMES)
    assert not result["ok"] and "never rotated" in result["detail"][REPLICATION]
    _rotation(REPLICATION, pending=True)
    result = check(secrets.rotation_succeeded, **NAMES)
    assert not result["ok"] and "did not finish" in result["detail"][REPLICATION]
