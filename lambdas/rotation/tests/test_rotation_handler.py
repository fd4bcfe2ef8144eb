"""The four steps against Secrets Manager (moto in-process) with a recorded stand-in for the database."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from moto import mock_aws
from smartstream_rotation import database, handler
from smartstream_rotation.passwords import new_password, scram_verifier

BASE = {"engine": "postgres", "host": "db.example", "port": 5432, "dbname": "hr"}


class FakeDb:
    """Logins that work, and what was done as whom."""

    LoginFailed = database.LoginFailed

    def __init__(self, logins: dict[str, str]):
        self.logins, self.done = dict(logins), []

    def login_works(self, secret):
        return self.logins.get(secret["username"]) == secret["password"]

    def connect(self, secret, dbname=None):
        if not self.login_works(secret):
            raise database.LoginFailed(secret["username"])

        class Conn:
            def run(self, sql, **kw):
                assert sql == "SELECT current_user" or sql == "SELECT now()"
                return [[secret["username"]]]

            def close(self):
                pass

            user = secret["username"]

        return Conn()

    def set_own_password(self, conn, password):
        self.logins[conn.user] = password
        self.done.append(("alter own", conn.user))

    def ensure_user(self, conn, username, password, schemas):
        assert conn.user == "master"
        created = username not in self.logins
        self.logins[username] = password
        self.done.append(("ensure", username, tuple(schemas)))
        return created

    def check_user(self, conn, schemas):
        self.done.append(("check", conn.user))


@pytest.fixture
def sm(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for var in ("AWS_ENDPOINT_URL", "AWS_CA_BUNDLE", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def _rotate_by_hand(sm, arn, db, monkeypatch):
    """What Secrets Manager does: a token, the rotation enabled, the four steps in order."""
    monkeypatch.setattr(handler, "database", db)
    token = str(uuid.uuid4())
    monkeypatch.setattr(sm, "describe_secret", _with_rotation(sm.describe_secret, token))
    for step in handler.STEPS:
        handler.lambda_handler({"SecretId": arn, "ClientRequestToken": token, "Step": step}, client=sm)
    return token


def _with_rotation(describe, token):
    def call(**kw):
        answer = describe(**kw)
        answer["RotationEnabled"] = True
        stages = answer.setdefault("VersionIdsToStages", {})
        if token not in stages:
            stages[token] = ["AWSPENDING"]
        return answer

    return call


def test_single_user_rotation_changes_its_own_password_and_moves_the_labels(sm, monkeypatch):
    arn = sm.create_secret(Name="m", SecretString=json.dumps({**BASE, "username": "master", "password": "old"}))["ARN"]
    db = FakeDb({"master": "old"})
    token = _rotate_by_hand(sm, arn, db, monkeypatch)
    current = sm.get_secret_value(SecretId=arn)
    new = json.loads(current["SecretString"])
    assert current["VersionId"] == token and new["password"] != "old" and len(new["password"]) == 32
    assert db.logins["master"] == new["password"] and db.done == [("alter own", "master")]
    previous = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"])
    assert previous["password"] == "old"


def test_managed_user_is_created_by_the_master_with_its_grants(sm, monkeypatch):
    master = sm.create_secret(Name="m", SecretString=json.dumps({**BASE, "username": "master", "password": "mpw"}))
    value = {**BASE, "username": "dms_replication", "password": "initial", "masterarn": master["ARN"]}
    arn = sm.create_secret(Name="r", SecretString=json.dumps(value))["ARN"]
    db = FakeDb({"master": "mpw"})
    _rotate_by_hand(sm, arn, db, monkeypatch)
    new = json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])
    assert new["masterarn"] == master["ARN"] and new["password"] != "initial"
    assert db.logins["dms_replication"] == new["password"]
    assert db.done == [("ensure", "dms_replication", ("public",)), ("check", "dms_replication")]
    assert db.logins["master"] == "mpw"  # the master's password is untouched


def test_the_managed_user_rotates_while_the_master_is_between_its_own_set_and_finish(sm, monkeypatch):
    # Given the master secret in its own rotation: the database has its pending password, AWSCURRENT the old
    master = sm.create_secret(Name="m", SecretString=json.dumps({**BASE, "username": "master", "password": "old"}))
    sm.put_secret_value(SecretId=master["ARN"], ClientRequestToken=str(uuid.uuid4()), VersionStages=["AWSPENDING"],
                        SecretString=json.dumps({**BASE, "username": "master", "password": "new"}))  # fmt: skip
    value = {**BASE, "username": "dms_replication", "password": "initial", "masterarn": master["ARN"]}
    arn = sm.create_secret(Name="r", SecretString=json.dumps(value))["ARN"]
    db = FakeDb({"master": "new"})
    # When the replication user's secret rotates (both secrets rotate on schedules, possibly together)
    _rotate_by_hand(sm, arn, db, monkeypatch)
    # Then the master logged in with its pending password and the user has its new one
    assert db.logins["dms_replication"] == json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])["password"]
    assert db.done[0] == ("ensure", "dms_replication", ("public",))


def test_without_a_working_master_login_the_managed_user_rotation_stops_at_set(sm, monkeypatch):
    master = sm.create_secret(Name="m", SecretString=json.dumps({**BASE, "username": "master", "password": "old"}))
    value = {**BASE, "username": "dms_replication", "password": "initial", "masterarn": master["ARN"]}
    arn = sm.create_secret(Name="r", SecretString=json.dumps(value))["ARN"]
    with pytest.raises(database.LoginFailed):
        _rotate_by_hand(sm, arn, FakeDb({"master": "neither"}), monkeypatch)
    assert json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])["password"] == "initial"


def test_a_failed_set_step_leaves_the_current_version(sm, monkeypatch):
    arn = sm.create_secret(Name="m", SecretString=json.dumps({**BASE, "username": "master", "password": "old"}))["ARN"]
    db = FakeDb({"master": "something else"})
    with pytest.raises(database.LoginFailed):
        _rotate_by_hand(sm, arn, db, monkeypatch)
    assert json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])["password"] == "old"


def test_a_step_of_a_secret_without_rotation_is_refused(sm):
    arn = sm.create_secret(Name="m", SecretString=json.dumps({**BASE, "username": "u", "password": "p"}))["ARN"]
    with pytest.raises(ValueError, match="not enabled for rotation"):
        handler.lambda_handler({"SecretId": arn, "ClientRequestToken": "t" * 36, "Step": "createSecret"}, client=sm)


def test_passwords_are_strong_and_the_verifier_is_postgresql_s_format():
    password = new_password(32)
    assert len(password) == 32 and any(c.isdigit() for c in password)
    verifier = scram_verifier("pencil", salt=b"\x00" * 16)
    assert verifier.startswith("SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAAAA==$")
    assert password not in scram_verifier(password)
