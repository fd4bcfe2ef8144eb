"""Secrets Manager's rotation protocol for the database credentials (createSecret, setSecret, testSecret,
finishSecret), as AWS's RDS PostgreSQL rotation templates implement it.

Handler: smartstream_rotation.handler.lambda_handler

Two strategies, chosen by the secret:
- single user (no ``masterarn``, e.g. the master secret): the user logs in with its current password and
  changes its own;
- a user managed with the master secret (``masterarn`` names it, e.g. the DMS replication user): the master
  logs in, creates the user when missing (LOGIN, ``rds_replication``, SELECT on the tables of
  ``GRANT_SCHEMAS``) and sets its new password.

AWS: https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import boto3

from . import database
from .passwords import new_password

logger = logging.getLogger("smartstream.rotation")
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
KEYS = ("engine", "host", "username", "password")


def lambda_handler(event: dict[str, Any], context: Any = None, client: Any = None) -> None:
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}")
    client = client or boto3.client("secretsmanager")
    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"secret {arn} is not enabled for rotation")
    stages = metadata.get("VersionIdsToStages", {})
    if token not in stages:
        raise ValueError(f"secret version {token} has no stage for rotation of secret {arn}")
    if "AWSCURRENT" in stages[token]:
        logger.info("%s: version %s is already AWSCURRENT of %s", step, token, arn)
        return
    if "AWSPENDING" not in stages[token]:
        raise ValueError(f"secret version {token} is not AWSPENDING for rotation of secret {arn}")
    Rotation(client, arn, token).run(step)
    logger.info("%s: done for version %s of %s", step, token, arn)


class Rotation:
    def __init__(self, client: Any, arn: str, token: str):
        self.client, self.arn, self.token = client, arn, token
        self.schemas = [s.strip() for s in os.environ.get("GRANT_SCHEMAS", "public").split(",") if s.strip()]

    def run(self, step: str) -> None:
        {"createSecret": self.create, "setSecret": self.set, "testSecret": self.test, "finishSecret": self.finish}[
            step
        ]()

    def secret(self, stage: str, arn: str | None = None, token: str | None = None) -> dict[str, Any]:
        kwargs = {"SecretId": arn or self.arn, "VersionStage": stage}
        if token:
            kwargs["VersionId"] = token
        value = json.loads(self.client.get_secret_value(**kwargs)["SecretString"])
        missing = [k for k in KEYS if k not in value]
        if missing:
            raise KeyError(f"the {stage} secret of {arn or self.arn} has no {', '.join(missing)}")
        if value["engine"] != "postgres":
            raise KeyError(f"the secret's engine is {value['engine']!r}: this function rotates postgres")
        return value

    def pending(self) -> dict[str, Any]:
        return self.secret("AWSPENDING", token=self.token)

    def create(self) -> None:
        """A new version (AWSPENDING) with a new password, unless this token already has one."""
        current = self.secret("AWSCURRENT")
        try:
            self.pending()
            logger.info("createSecret: AWSPENDING of %s already exists", self.arn)
            return
        except self.client.exceptions.ResourceNotFoundException:
            pass
        length = int(os.environ.get("PASSWORD_LENGTH", "32"))
        value = {**current, "password": new_password(length)}
        self.client.put_secret_value(
            SecretId=self.arn, ClientRequestToken=self.token, SecretString=json.dumps(value),
            VersionStages=["AWSPENDING"],
        )  # fmt: skip

    def set(self) -> None:
        """The database gets the pending password."""
        pending = self.pending()
        if database.login_works(pending):
            logger.info("setSecret: the AWSPENDING password already works")
            return
        master_arn = pending.get("masterarn")
        if master_arn:
            conn = self._login_as_master(master_arn, pending)
            try:
                created = database.ensure_user(conn, pending["username"], pending["password"], self.schemas)
            finally:
                conn.close()
            logger.info("setSecret: user %s %s by the master user", pending["username"],
                        "created" if created else "changed")  # fmt: skip
            return
        conn = self._login_current_or_previous()
        try:
            if conn.run("SELECT current_user")[0][0] != pending["username"]:
                raise ValueError("the pending secret names another user than the current one")
            database.set_own_password(conn, pending["password"])
        finally:
            conn.close()

    def _login_as_master(self, master_arn: str, pending: dict[str, Any]) -> Any:
        """The master's current credentials, else its pending ones: the master secret may be in its own rotation
        (both rotate on schedules), between its setSecret (the database has the new password) and its
        finishSecret (AWSCURRENT still holds the old one)."""
        master = self.secret("AWSCURRENT", arn=master_arn)
        if master["host"] != pending["host"]:
            raise ValueError(f"the master secret's host {master['host']} is not the user's {pending['host']}")
        try:
            return database.connect(master, dbname=pending.get("dbname"))
        except database.LoginFailed as current_failed:
            try:
                rotating = self.secret("AWSPENDING", arn=master_arn)
            except self.client.exceptions.ResourceNotFoundException:
                raise current_failed from None
            if rotating["host"] != master["host"] or rotating["username"] != master["username"]:
                raise current_failed from None
            try:
                return database.connect(rotating, dbname=pending.get("dbname"))
            except database.LoginFailed:
                raise current_failed from None

    def _login_current_or_previous(self) -> Any:
        """Single user: log in with the current password, else the previous one (a rotation that stopped after
        setSecret)."""
        try:
            return database.connect(self.secret("AWSCURRENT"))
        except database.LoginFailed as current_failed:
            try:
                return database.connect(self.secret("AWSPREVIOUS"))
            except (database.LoginFailed, self.client.exceptions.ResourceNotFoundException):
                raise current_failed from None

    def test(self) -> None:
        """The pending credentials log in (and, for a managed user, may replicate and read)."""
        pending = self.pending()
        conn = database.connect(pending)
        try:
            conn.run("SELECT now()")
            if pending.get("masterarn"):
                database.check_user(conn, self.schemas)
        finally:
            conn.close()

    def finish(self) -> None:
        """AWSCURRENT moves to the new version (Secrets Manager moves AWSPREVIOUS to the old one)."""
        stages = self.client.describe_secret(SecretId=self.arn)["VersionIdsToStages"]
        current = next((v for v, s in stages.items() if "AWSCURRENT" in s), None)
        if current == self.token:
            return
        self.client.update_secret_version_stage(
            SecretId=self.arn, VersionStage="AWSCURRENT", MoveToVersionId=self.token, RemoveFromVersionId=current
        )
