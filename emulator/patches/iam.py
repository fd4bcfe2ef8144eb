"""Patches of moto's IAM enforcement for the local emulator (see emulator/README.md).

The emulator enforces IAM (``emulator.server`` switches moto's access control
on, ``SMARTSTREAM_IAM_ENFORCED``, default on): every request signed with
assumed-role credentials — what the engines and the functions use — is
evaluated against the role's policies, so a missing permission shows up as
data that does not arrive, as on AWS. The gaps of moto's evaluation are
patched here: the root user, requests whose resource moto cannot name, the
error protocol, and the KMS permissions that data under a customer key implies.
"""

from __future__ import annotations

import os
from typing import Any

from emulator.patches.registry import patch

# --------------------------------------------------------------------------
# IAM: the account's root user
# --------------------------------------------------------------------------
# AWS: requests of the account's root user are not evaluated against IAM
# identity policies (root may do everything in its account). moto knows no
# root user: with access control on, a request signed with a key that no IAM
# user owns fails with InvalidClientTokenId. The emulator's base identity
# (the fake key every deployer, test and tool of the local default signs
# with: SMARTSTREAM_ROOT_ACCESS_KEY, default "testing") is the root user of
# the emulated account; it survives /moto-api/reset, which an IAM user made at
# start-up would not.
ROOT_ACCESS_KEY_ENV = "SMARTSTREAM_ROOT_ACCESS_KEY"


def access_key_of(authorization: str) -> str | None:
    """The access key id of a SigV4 ``Authorization`` header (None when unsigned)."""
    marker = "Credential="
    start = authorization.find(marker)
    if start < 0:
        return None
    return authorization[start + len(marker) :].split("/", 1)[0]


def is_root_request(headers: Any) -> bool:
    key = access_key_of(headers.get("Authorization", "") or "")
    return key is not None and key == os.environ.get(ROOT_ACCESS_KEY_ENV, "testing")


@patch
def iam_account_root_credentials() -> None:
    """Requests signed with the root access key are authorised without IAM policy evaluation."""
    from moto.core.authorization import ActionAuthenticatorMixin

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def _authenticate_and_authorize_action(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        if is_root_request(self.headers):
            return
        original(self, iam_request_cls, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_and_authorize_action


# --------------------------------------------------------------------------
# IAM: requests whose resource moto cannot name
# --------------------------------------------------------------------------
# AWS evaluates each statement's Resource against the ARN of the resource a
# request acts on. moto names that resource for S3 (bucket and key) and SQS
# only; for every other service it evaluates against "*", which no scoped
# ARN matches, so every least-privilege policy would deny everything. Here a
# statement's Resource matches a request whose resource moto could not name:
# for those services the actions decide (a missing action is still denied),
# resource scoping is not evaluated (a known gap, listed in the README).


@patch
def iam_unnamed_resource_matches() -> None:
    """Statements match on actions alone where moto evaluates a request against resource "*"."""
    from moto.iam.access_control import IAMPolicyStatement

    original = IAMPolicyStatement._check_element_matches

    def _check_element_matches(self: Any, statement_element: Any, value: str) -> bool:
        if statement_element == "Resource" and value == "*":
            return True
        return original(self, statement_element, value)

    IAMPolicyStatement._check_element_matches = _check_element_matches


def enforce(enabled: bool = True) -> None:
    """Switch moto's IAM access control on (from the first request) or off."""
    from moto import settings

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if enabled else float("inf")


# --------------------------------------------------------------------------
# IAM: AccessDenied in the protocol of the service
# --------------------------------------------------------------------------
# AWS answers a denied request of a JSON-protocol service (Kinesis, Firehose,
# CloudWatch Logs, Secrets Manager, Glue, DMS, Athena, EventBridge, Lambda,
# SQS, KMS) with a JSON body {"__type": "AccessDeniedException", "message"}.
# moto answers every service with an XML AccessDenied body, which the SDKs of
# JSON services cannot parse: the caller sees an error code "403" instead of
# AccessDeniedException.
JSON_PROTOCOL_SIGNING_NAMES = frozenset(
    {"kinesis", "firehose", "logs", "secretsmanager", "glue", "dms", "athena", "events", "lambda", "sqs", "kms"}
)


@patch
def iam_access_denied_in_service_protocol() -> None:
    """Denied requests of JSON-protocol services get AccessDeniedException as a JSON error."""
    from moto.core.exceptions import JsonRESTError
    from moto.iam.access_control import IAMRequest

    original = IAMRequest._raise_access_denied

    def _raise_access_denied(self: Any) -> None:
        if self._service in JSON_PROTOCOL_SIGNING_NAMES:
            raise JsonRESTError(
                "AccessDeniedException",
                f"User: {self._access_key.arn} is not authorized to perform: {self._action}",
            )
        original(self)

    IAMRequest._raise_access_denied = _raise_access_denied


# --------------------------------------------------------------------------
# IAM: the KMS permissions an encrypted resource implies
# --------------------------------------------------------------------------
# AWS: a request on data encrypted with a customer-managed KMS key succeeds
# only when the caller may also use the key: S3 PutObject / multipart writes
# to an SSE-KMS bucket need kms:GenerateDataKey, GetObject of an SSE-KMS
# object kms:Decrypt (S3 user guide, "Using server-side encryption with AWS
# KMS keys": permissions); Kinesis PutRecord(s) to a stream encrypted with a
# customer key kms:GenerateDataKey, GetRecords kms:Decrypt (Kinesis developer
# guide, "Permissions to use user-generated KMS keys"); Secrets Manager
# GetSecretValue kms:Decrypt; SQS SendMessage kms:GenerateDataKey. The
# service calls KMS on the caller's behalf, so kms:ViaService is
# <service>.<region>.amazonaws.com. moto checks the request's own action only.
# Here, after moto allowed a request of an assumed role, the key of the
# resource (read from moto's backends) is checked against the role's policies
# for that KMS action, with kms:ViaService set. AWS managed keys (aws/...) are
# usable by every principal of the account through their service: not checked.
# Key policies are not evaluated (the platform's key lets IAM policies decide).


def _kms_key_arn(account: str, region: str, key_id: str | None) -> str | None:
    """The ARN of a customer-managed key given by id, ARN or alias; None for none or an AWS managed key."""
    if not key_id or key_id.startswith("alias/aws/"):
        return None
    from moto.kms.models import kms_backends

    try:
        key = kms_backends[account][region].describe_key(key_id)
    except Exception:  # an unknown key: the service's own error decides, not IAM
        return None
    return None if key.key_manager == "AWS" else key.arn


def _body(response: Any) -> dict:
    try:
        import json

        return json.loads(response.body or "{}")
    except (TypeError, ValueError):
        return {}


def implied_kms_use(response: Any, resource: str) -> tuple[str, str, str | None] | None:
    """(kms action, service, key id) a request implies, or None."""
    account, region = response.current_account, response.region
    target = (response.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
    if resource.startswith("arn:aws:s3:::") and "/" in resource:
        from moto.s3.models import s3_backends

        bucket, key = resource[len("arn:aws:s3:::") :].split("/", 1)
        backend = s3_backends[account]["aws"]
        if response.method in ("PUT", "POST"):
            if response.headers.get("x-amz-server-side-encryption") not in (None, "aws:kms"):
                return None
            wanted = response.headers.get("x-amz-server-side-encryption-aws-kms-key-id")
            rule = (backend.get_bucket(bucket).encryption or {}).get("Rule", {})
            default = rule.get("ApplyServerSideEncryptionByDefault", {})
            if not wanted and default.get("SSEAlgorithm") == "aws:kms":
                wanted = default.get("KMSMasterKeyID")
            return "kms:GenerateDataKey", "s3", wanted
        if response.method == "GET" and key:
            found = backend.get_object(bucket, key)
            return "kms:Decrypt", "s3", found.kms_key_id if found and found.encryption == "aws:kms" else None
        return None
    if target in ("PutRecord", "PutRecords", "GetRecords"):
        from moto.kinesis.models import kinesis_backends
        from moto.kinesis.utils import decompose_shard_iterator

        body = _body(response)
        name = body.get("StreamName") or (body.get("StreamARN") or "").rsplit("/", 1)[-1]
        if target == "GetRecords":
            name = decompose_shard_iterator(body.get("ShardIterator", ""))[0]
        stream = kinesis_backends[account][region].describe_stream(stream_arn=None, stream_name=name)
        action = "kms:Decrypt" if target == "GetRecords" else "kms:GenerateDataKey"
        return action, "kinesis", stream.key_id if stream.encryption_type == "KMS" else None
    if target == "GetSecretValue":
        from moto.secretsmanager.models import secretsmanager_backends

        secret = secretsmanager_backends[account][region].secrets[_body(response).get("SecretId", "")]
        return "kms:Decrypt", "secretsmanager", secret.kms_key_id
    if target == "SendMessage":
        from moto.sqs.models import sqs_backends

        queue = _body(response).get("QueueUrl", "").rstrip("/").rsplit("/", 1)[-1]
        return (
            "kms:GenerateDataKey",
            "sqs",
            getattr(sqs_backends[account][region].get_queue(queue), "kms_master_key_id", None),
        )
    return None


def kms_use_permitted(policies: list[Any], action: str, key_arn: str, via: str) -> bool:
    """IAM's verdict on a KMS action on the key through a service: allowed and not denied."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    results = [
        IAMPolicy(p).is_action_permitted(action, key_arn, incoming_condition_values={"kms:ViaService": via})
        for p in policies
    ]
    return PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results


@patch
def iam_kms_permissions_implied_by_encrypted_resources() -> None:
    """Reading or writing data under a customer-managed key also needs kms:Decrypt / kms:GenerateDataKey on it."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import JsonRESTError
    from moto.iam.access_control import create_access_key

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def _authenticate_and_authorize_action(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        original(self, iam_request_cls, resource)
        if is_root_request(self.headers) or ActionAuthenticatorMixin.request_count < _no_auth_count():
            return
        try:
            implied = implied_kms_use(self, resource)
        except Exception:  # a resource moto cannot find: the service's own error decides
            implied = None
        key_arn = _kms_key_arn(self.current_account, self.region, implied[2]) if implied else None
        if not key_arn:
            return
        action, service, _ = implied
        access_key = create_access_key(
            account_id=self.current_account,
            partition="aws",
            access_key_id=access_key_of(self.headers.get("Authorization", "")),
            headers=self.headers,
        )
        if not kms_use_permitted(
            access_key.collect_policies(), action, key_arn, f"{service}.{self.region}.amazonaws.com"
        ):
            message = f"User: {access_key.arn} is not authorized to perform: {action} on resource: {key_arn}"
            if service == "s3":
                from moto.s3.exceptions import S3ClientError

                raise S3ClientError("AccessDenied", message)
            raise JsonRESTError("AccessDeniedException", message)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_and_authorize_action


def _no_auth_count() -> float:
    from moto import settings

    return settings.INITIAL_NO_AUTH_ACTION_COUNT
