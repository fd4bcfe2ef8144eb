"""Patches of moto's IAM enforcement for the local emulator (see emulator/README.md).

The emulator enforces IAM (``emulator.server`` switches moto's access control
on, ``SMARTSTREAM_IAM_ENFORCED``, default on): every request signed with
assumed-role credentials — what the engines and the functions use — is
evaluated against the role's policies, so a missing permission shows up as
data that does not arrive, as on AWS. Two gaps of moto's evaluation are
patched here.
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
