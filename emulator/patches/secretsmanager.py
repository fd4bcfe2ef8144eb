"""Patches of moto's Secrets Manager for the local emulator (see emulator/README.md)."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from contextlib import nullcontext
from typing import Any

from emulator.patches.registry import patch

log = logging.getLogger("emulator.secretsmanager")
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


# --------------------------------------------------------------------------
# Secrets Manager: AWSCURRENT moved by UpdateSecretVersionStage is the value
# --------------------------------------------------------------------------
# AWS: GetSecretValue without VersionId / VersionStage returns the version
# labelled AWSCURRENT; a rotation function's finishSecret step moves that
# label with UpdateSecretVersionStage
# (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html).
# moto moves the label but keeps answering with the version it had, so every
# reader kept the old password after a rotation. Here the label's move makes
# the version the secret's current one.
@patch
def secretsmanager_awscurrent_moves_with_its_label() -> None:
    """UpdateSecretVersionStage of AWSCURRENT makes that version the one GetSecretValue returns."""
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.update_secret_version_stage

    def update_secret_version_stage(
        self: Any, secret_id: str, version_stage: str, remove_from_version_id: str, move_to_version_id: str
    ) -> Any:
        answer = original(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id:
            secret = self.secrets[secret_id]
            secret.default_version_id = move_to_version_id
            version = secret.versions[move_to_version_id]
            secret.secret_string = version.get("secret_string")
            secret.secret_binary = version.get("secret_binary")
        return answer

    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage


# --------------------------------------------------------------------------
# Secrets Manager: RotateSecret runs the rotation function's four steps
# --------------------------------------------------------------------------
# AWS (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html,
# https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html): RotateSecret records
# the function and the schedule; with RotateImmediately (the default) Secrets Manager, as the principal
# secretsmanager.amazonaws.com (the function's resource policy must allow it, else AccessDeniedException),
# invokes createSecret, setSecret, testSecret and finishSecret with one ClientRequestToken. The function
# creates the AWSPENDING version (PutSecretValue with the token) and moves AWSCURRENT itself; a failed step
# ends the rotation (the current version stays current, LastRotatedDate unchanged). A version labelled
# AWSPENDING that is not AWSCURRENT means a rotation in progress: RotateSecret refuses another.
# moto: ignores failed steps, then forces AWSCURRENT onto the new version (a failed rotation looked done),
# refuses the next rotation once AWSPENDING and AWSCURRENT share a version (the reverse of AWS's rule), sets
# LastRotatedDate whatever happened and never checks the function's resource policy.
# Here: AWS's sequence, run in the background as on AWS (RotateSecret answers at once with the new version's
# id; the emulator's Lambda runtime runs the function's steps in a thread of its own): a caller sees the
# rotation complete when LastRotatedDate moves and AWSPENDING has left, as it must wait for it on AWS.
# Without RotateImmediately nothing is invoked (AWS runs a testSecret of the configuration; not imitated).
@patch
def secretsmanager_rotation_runs_the_function() -> None:
    """RotateSecret invokes the rotation function's four steps as Secrets Manager does."""
    from moto.secretsmanager.exceptions import (
        InvalidParameterException,
        InvalidRequestException,
        ResourceNotFoundException,
        SecretNotFoundException,
    )
    from moto.secretsmanager.models import ReplicaSecret, SecretsManagerBackend

    def rotate_secret(
        self: Any,
        secret_id: str,
        client_request_token: str | None = None,
        rotation_lambda_arn: str | None = None,
        rotation_rules: dict[str, Any] | None = None,
        rotate_immediately: bool = True,
    ) -> str:
        if not self._is_valid_identifier(secret_id):
            raise SecretNotFoundException()
        secret = self.secrets[secret_id]
        if isinstance(secret, ReplicaSecret):
            raise InvalidRequestException("Operation not permitted on a replica secret.")
        if secret.is_deleted():
            raise InvalidRequestException(
                "You tried to perform the operation on a secret that's currently marked deleted."
            )
        function_arn = rotation_lambda_arn or getattr(secret, "rotation_lambda_arn", "") or ""
        if not function_arn:
            raise InvalidRequestException("No Lambda rotation function ARN is associated with this secret.")
        days = (rotation_rules or {}).get("AutomaticallyAfterDays")
        if days is not None and not 1 <= int(days) <= 1000:
            raise InvalidParameterException("RotationRules.AutomaticallyAfterDays must be within 1-1000.")
        if any("AWSPENDING" in v["version_stages"] and "AWSCURRENT" not in v["version_stages"]
               for v in secret.versions.values()):  # fmt: skip
            raise InvalidRequestException("A previous rotation isn't complete. That rotation will be reattempted.")
        from moto.awslambda.utils import get_backend

        lambdas = get_backend(self.account_id, self.region_name)
        try:
            lambdas.get_function(function_arn)
        except Exception:
            raise ResourceNotFoundException(f"Resource not found for ARN '{function_arn}'.") from None
        if not _service_may_invoke(lambdas, function_arn, secret.arn, self.account_id):
            from moto.core.exceptions import JsonRESTError

            raise JsonRESTError(
                "AccessDeniedException",
                "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy "
                "grants access to the principal secretsmanager.amazonaws.com.",
            )
        secret.rotation_requested = True
        secret.rotation_lambda_arn = function_arn
        if days is not None:
            secret.auto_rotate_after_days = int(days)
        secret.rotation_enabled = True
        if secret.auto_rotate_after_days:
            secret.next_rotation_date = int(time.time()) + secret.auto_rotate_after_days * 86400
        token = client_request_token or str(uuid.uuid4())
        if rotate_immediately and secret.versions:
            # The new version, labelled AWSPENDING and without a value until createSecret puts one.
            secret.remove_version_stages_from_old_versions(["AWSPENDING"])
            secret.versions[token] = {"createdate": int(time.time()), "version_id": token,
                                      "version_stages": ["AWSPENDING"]}  # fmt: skip
            rotation = threading.Thread(
                target=_rotate, args=(lambdas, function_arn, secret, token), name=f"rotation {secret.name}", daemon=True
            )
            _IN_FLIGHT[secret.arn] = rotation
            rotation.start()
        return json.dumps({"ARN": secret.arn, "Name": secret.name, "VersionId": token})

    SecretsManagerBackend.rotate_secret = rotate_secret


_IN_FLIGHT: dict[str, threading.Thread] = {}  # the latest rotation of each secret ARN, while the process runs


def rotation_done(secret_arn: str, timeout: float = 60.0) -> bool:
    """Wait for the rotation RotateSecret started for ``secret_arn`` (in-process callers: tests); False if it
    still runs after ``timeout`` seconds."""
    rotation = _IN_FLIGHT.get(secret_arn)
    if rotation is not None:
        rotation.join(timeout)
    return rotation is None or not rotation.is_alive()


def _rotate(lambdas: Any, function_arn: str, secret: Any, token: str) -> None:
    """The four steps; when all succeed, the rotation date and no version left pending (as AWS completes it)."""
    try:
        if not _run_steps(lambdas, function_arn, secret, token):
            return
    except Exception:  # never a crash of the emulator: the rotation stays incomplete, as a failed one on AWS
        log.exception("rotation of %s failed", secret.name)
        return
    secret.last_rotation_date = int(time.time())
    for version in secret.versions.values():  # the rotation is complete: no version pending
        if "AWSPENDING" in version["version_stages"] and "AWSCURRENT" in version["version_stages"]:
            version["version_stages"].remove("AWSPENDING")


def _service_may_invoke(lambdas: Any, function_arn: str, secret_arn: str, account: str) -> bool:
    """Whether the function's resource policy lets secretsmanager.amazonaws.com invoke it for this secret."""
    from emulator.engines.lambda_runtime import policy

    try:
        document = json.loads(json.loads(lambdas.get_policy(function_arn, None))["Policy"])
    except Exception:
        return False  # no resource policy: no service may invoke the function
    context = {"principal": "secretsmanager.amazonaws.com", "source_arn": secret_arn, "source_account": account}
    return policy.allows(document, context["principal"], "lambda:InvokeFunction", function_arn, context)


def _run_steps(lambdas: Any, function_arn: str, secret: Any, token: str) -> bool:
    """The four steps in order; False at the first that fails (its error logged, as in the function's logs)."""
    from emulator.engines import rds

    for step in STEPS:
        body = json.dumps({"Step": step, "SecretId": secret.arn, "ClientRequestToken": token})
        response_headers: dict[str, Any] = {}
        with rds.password_change(_users(secret)) if step == "setSecret" else nullcontext():
            payload = lambdas.invoke(function_arn, None, body, {}, response_headers)
        if response_headers.get("x-amz-function-error"):
            text = payload.decode(errors="replace") if isinstance(payload, bytes) else str(payload)
            log.warning("rotation of %s stopped at %s: %s", secret.name, step, text[:500])
            return False
    return True


def _users(secret: Any) -> list[str]:
    """The master user whose login changes passwords in a rotation of ``secret``: the one of the secret its
    ``masterarn`` names, else its own user (single user), for the RDS engine."""
    try:
        value = json.loads(secret.versions[secret.default_version_id]["secret_string"])
        master_arn = value.get("masterarn")
        if master_arn:
            from moto.secretsmanager.models import secretsmanager_backends

            _, _, _, region, account, *_ = master_arn.split(":")
            master = secretsmanager_backends[account][region].secrets[master_arn]
            value = json.loads(master.versions[master.default_version_id]["secret_string"])
        return [str(value["username"])]
    except (KeyError, TypeError, ValueError):
        return []


# --------------------------------------------------------------------------
# Secrets Manager: LastAccessedDate set by reading the value
# --------------------------------------------------------------------------
# AWS (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html): LastAccessedDate
# is "the date that the secret was last accessed in the Region. This field is omitted if the secret has never
# been retrieved in the Region"; it is set by retrieving the value (GetSecretValue, BatchGetSecretValue) and
# shows the date only (midnight UTC). DescribeSecret and ListSecrets return it. moto never sets it (always null),
# so every secret looks never used (prowler's secretsmanager_secret_unused).
@patch
def secretsmanager_last_accessed_date() -> None:
    """GetSecretValue / BatchGetSecretValue set LastAccessedDate (the day, UTC); DescribeSecret / ListSecrets show it."""
    from moto.secretsmanager.models import FakeSecret, SecretsManagerBackend

    get_secret_value, to_dict = SecretsManagerBackend.get_secret_value, FakeSecret.to_dict

    def get_secret_value_and_note_it(self: Any, secret_id: str, version_id: str, version_stage: str) -> Any:
        answer = get_secret_value(self, secret_id, version_id, version_stage)
        secret = self.secrets[secret_id]  # BatchGetSecretValue reads through this call too
        secret = getattr(secret, "source", secret)  # a replica's reads count for its primary here
        secret.last_accessed_date = int(time.time()) // 86400 * 86400
        return answer

    def to_dict_with_last_access(self: Any) -> dict[str, Any]:
        answer = to_dict(self)
        answer.pop("LastAccessedDate", None)
        if getattr(self, "last_accessed_date", None) is not None:
            answer["LastAccessedDate"] = self.last_accessed_date
        return answer

    SecretsManagerBackend.get_secret_value = get_secret_value_and_note_it
    FakeSecret.to_dict = to_dict_with_last_access
