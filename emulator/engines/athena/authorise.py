"""Whether S3 serves a GetObject of an object to a query's caller, decided in this process as S3 decides it.

Athena reads every object of a query as its caller: S3 authorises each read as
a GetObject (``s3:GetObject`` by the caller's identity policies and the
bucket policy; ``kms:Decrypt`` on the key of an SSE-KMS object). The engine
runs in the emulator's process, beside moto; asking moto's HTTP front door
once per object (a request through werkzeug, moto's dispatch and S3 response)
cost ~2 ms of CPU an object, 0.2 s of a 100-file query. ``readable_object``
runs the SAME decision on moto's objects in this process, in the order the
front door runs it for a signed ``GET /<bucket>/<key>`` (moto 5.2
``S3Response._key_response`` then ``_key_response_get``):

1. the bucket policy: ``FakeBucket.get_permission("s3:GetObject", <object ARN>)``
   (with the patch ``s3_bucket_policy_transport_conditions``); an explicit
   Deny refuses, whoever asks (the root too);
2. the caller: ``ActionAuthenticatorMixin._authenticate_and_authorize_action``,
   the very function the front door calls, looked up when called, so every
   patch layered on it applies (``iam_account_root_credentials``: the root
   key is not evaluated; ``iam_kms_permissions_implied_by_encrypted_resources``:
   kms:Decrypt on the object's customer key, with kms:ViaService), with
   moto's ``S3IAMRequest`` (identity policies of the assumed role or IAM user,
   ``iam_unnamed_resource_matches``), when moto enforces IAM. The signature
   check is the one step not replayed: the engine holds the caller's secret as
   moto issued it (``caller_credentials``), so a SigV4 signature made with it
   matches by construction; the secret and session token are compared with
   moto's record of the access key instead;
3. the object: the latest version, not a delete marker, not archived
   (GLACIER / DEEP_ARCHIVE unrestored: InvalidObjectState).

Only an object every step serves is read in-process. Anything else (a denial,
a missing bucket or object, a bucket with server access logging (a request
writes a log record), moto's internals not as expected) answers None, and the
engine then makes the GetObject over HTTP as the caller: S3 itself fails it
with its own error (AccessDenied, NoSuchKey...), so a refused read fails the
query exactly as S3 refuses it. No decision is kept: each query asks again for
each of its objects (policies may change between queries). ``authorised`` is
step 2 alone, for a request of any service (``catalog_reads``: Glue, listings).
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

_ARCHIVED = ("GLACIER", "DEEP_ARCHIVE")


@dataclass(frozen=True)
class Caller:
    """Who reads: the account and region of the query, and the credentials of its StartQueryExecution."""

    account: str | None
    region: str
    access_key: str
    secret_key: str
    session_token: str | None = None

    @classmethod
    def of(cls, ctx: Any, credentials: dict[str, Any] | None, region: str, account: str | None) -> Caller:
        """The caller of a query: its credentials, else the engine's base identity."""
        if credentials is None:
            return cls(account, region, ctx.access_key, ctx.secret_key)
        return cls(
            account,
            region,
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials.get("SessionToken"),
        )


@functools.cache
def _secret_checked(service: str) -> type:
    """moto's IAM request class of the service (S3's or the generic one), its signature check replaced by
    comparing the secret the signature would be made with to moto's record of the access key."""
    from moto.iam.access_control import IAMRequest, S3IAMRequest

    class SecretChecked(S3IAMRequest if service == "s3" else IAMRequest):  # type: ignore[misc,valid-type]
        def __init__(self, secret_key: str, **kwargs: Any):
            self._caller_secret = secret_key
            super().__init__(**kwargs)

        def check_signature(self) -> None:
            held = self._access_key.create_credentials()
            if not hmac.compare_digest(held.secret_key, self._caller_secret):
                self._raise_signature_does_not_match()

    return SecretChecked


class _Request:
    """What moto's request authorisation reads of a request: a signed request of the caller to a service."""

    raw_body = b""

    def __init__(self, caller: Caller, service: str, action: str, method: str, path: str, data: dict[str, Any]):
        self.current_account, self.region = caller.account, caller.region
        self.method, self.uri, self.raw_path = method, path, path
        self.action, self.data = action, {**data, "Action": action}
        self.headers = {
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential={caller.access_key}/20250101/{caller.region}/{service}/aws4_request, "
                "SignedHeaders=host;x-amz-date, Signature=in-process"
            ),
            "X-Amz-Date": "20250101T000000Z",
        }
        if service == "glue":
            self.headers["X-Amz-Target"] = f"AWSGlue.{action}"
        if caller.session_token:
            self.headers["X-Amz-Security-Token"] = caller.session_token

    def _get_action(self) -> str:
        return self.action


def authorised(
    caller: Caller | None,
    service: str,
    action: str,
    resource: str,
    method: str = "POST",
    path: str = "/",
    data: dict[str, Any] | None = None,
) -> bool:
    """Whether moto's request authorisation (every emulator patch on it) lets the caller's request through:
    ``ActionAuthenticatorMixin._authenticate_and_authorize_action`` as the front door calls it."""
    if caller is None or caller.account is None:
        return False
    try:
        from moto.core.authorization import ActionAuthenticatorMixin

        request = _Request(caller, service, action, method, path, data or {})
        request_class = functools.partial(_secret_checked(service), caller.secret_key)
        ActionAuthenticatorMixin._authenticate_and_authorize_action(request, request_class, resource)
    except Exception:  # refused, or moto's internals moved: the caller asks over HTTP
        return False
    return True


def readable_object(caller: Caller | None, bucket: str, key: str) -> Any:
    """moto's object (``FakeKey``) when S3 serves a GetObject of it to the caller; None: ask S3 over HTTP."""
    if caller is None or caller.account is None:
        return None
    try:
        from moto.iam.access_control import PermissionResult
        from moto.s3.models import FakeKey, s3_backends

        backend = s3_backends[caller.account]["aws"]
        found = backend.buckets.get(bucket)
        if found is None or found.logging:
            return None
        resource = f"arn:{found.partition}:s3:::{bucket}/{key}"
        if found.get_permission("s3:GetObject", resource) == PermissionResult.DENIED:
            return None
        if not authorised(caller, "s3", "GetObject", resource, "GET", f"/{bucket}/{quote(key)}"):
            return None
        obj = backend.get_object(bucket, key)
    except Exception:  # missing, or moto's internals moved: S3 answers over HTTP
        return None
    if not isinstance(obj, FakeKey):  # a delete marker, or nothing
        return None
    if obj.storage_class in _ARCHIVED and 'ongoing-request="false"' not in obj.response_dict.get("x-amz-restore", ""):
        return None
    return obj
