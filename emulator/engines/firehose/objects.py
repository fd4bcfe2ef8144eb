"""What a Firehose S3 object is: its key, its compression, and the error Firehose logs when it cannot be written.

Pure functions of the Firehose engine (no AWS calls), following
https://docs.aws.amazon.com/firehose/latest/dev/basic-deliver.html#s3-object-name,
https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html and
https://docs.aws.amazon.com/firehose/latest/dev/monitoring-with-cloudwatch-logs.html.
"""

from __future__ import annotations

import gzip
import re
import secrets
import uuid
from datetime import datetime
from typing import Any

# File extension Firehose gives each CompressionFormat; the emulator writes GZIP and UNCOMPRESSED only.
SUFFIX = {"UNCOMPRESSED": "", "GZIP": ".gz"}

_EXPRESSION = re.compile(r"!\{(?P<namespace>[a-zA-Z]+):(?P<value>[^}]*)\}")
# Java DateTimeFormatter pattern letters Firehose prefixes use, longest first.
_JAVA_TOKENS = (
    ("yyyy", "%Y"),
    ("uuuu", "%Y"),
    ("yy", "%y"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
)


def java_datetime_format(pattern: str, when: datetime) -> str:
    """Format ``when`` with a Java DateTimeFormatter pattern (the letters above; 'quoted' text is literal)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "'":
            end = pattern.find("'", i + 1)
            end = len(pattern) if end < 0 else end
            out.append(pattern[i + 1 : end] if end > i + 1 else "'")
            i = end + 1
            continue
        for token, directive in _JAVA_TOKENS:
            if pattern.startswith(token, i):
                out.append(when.strftime(directive))
                i += len(token)
                break
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def evaluate_prefix(prefix: str, when: datetime, error_output_type: str | None = None) -> str:
    """A Prefix / ErrorOutputPrefix evaluated at ``when`` (UTC): ``!{timestamp:..}``, ``!{firehose:..}``.

    Without a timestamp expression Firehose appends ``!{timestamp:yyyy/MM/dd/HH/}`` to the prefix.
    """
    has_timestamp = False

    def evaluate(match: re.Match[str]) -> str:
        nonlocal has_timestamp
        namespace, value = match.group("namespace"), match.group("value")
        if namespace == "timestamp":
            has_timestamp = True
            return java_datetime_format(value, when)
        if namespace == "firehose" and value == "random-string":
            return secrets.token_hex(6)[:11]
        if namespace == "firehose" and value == "error-output-type" and error_output_type:
            return error_output_type
        raise ValueError(f"prefix expression not supported by the emulator: {match.group(0)}")

    evaluated = _EXPRESSION.sub(evaluate, prefix or "")
    if not has_timestamp:
        evaluated += when.strftime("%Y/%m/%d/%H/")
    return evaluated


def object_key(prefix: str, stream_name: str, version: str, when: datetime, compression: str) -> str:
    """``<prefix>YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>[.gz]`` (``when``: oldest record, UTC)."""
    return (
        f"{evaluate_prefix(prefix, when)}{stream_name}-{version}-"
        f"{when.strftime('%Y-%m-%d-%H-%M-%S')}-{uuid.uuid4()}{SUFFIX[compression]}"
    )


def compress(data: bytes, compression: str) -> bytes:
    """The object body for a CompressionFormat (ValueError for formats the emulator does not write)."""
    if compression == "GZIP":
        return gzip.compress(data, compresslevel=6)
    if compression == "UNCOMPRESSED":
        return data
    raise ValueError(f"CompressionFormat {compression} is not supported by the emulator (GZIP, UNCOMPRESSED)")


# Error codes and messages Firehose logs for S3 delivery failures (monitoring-with-cloudwatch-logs).
S3_ERRORS = {
    "AccessDenied": (
        "S3.AccessDenied",
        "Access was denied. Ensure that the trust policy for the provided IAM role allows Firehose to assume "
        "the role, and the access policy allows access to the S3 bucket.",
    ),
    "NoSuchBucket": (
        "S3.NoSuchBucket",
        "The specified bucket does not exist. Create the bucket or use a different bucket that does exist.",
    ),
    "KMS.NotFoundException": (
        "S3.KMS.NotFoundException",
        "The provided AWS KMS key was not found. If you are using what you believe to be a valid AWS KMS key "
        "with the correct role, check if there is a problem with the account to which the AWS KMS key is attached.",
    ),
    "MethodNotAllowed": (
        "S3.MethodNotAllowed",
        "The specified method is not allowed against this resource. Modify the bucket's policy to allow the "
        "correct Amazon S3 operation permissions.",
    ),
}
_INTERNAL = (
    "InternalError",
    "An internal error occurred while attempting to deliver data. Delivery will be retried; if the error "
    "persists, then it will be reported to AWS for resolution.",
)


def s3_error(exc: BaseException) -> tuple[str, str]:
    """(errorCode, message) Firehose logs for a failed S3 put (or AssumeRole of the destination role)."""
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    operation = getattr(exc, "operation_name", "")
    if code in ("AccessDenied", "AccessDeniedException", "403", "InvalidAccessKeyId") or status == 403:
        return S3_ERRORS["AccessDenied"]
    if operation == "AssumeRole":  # the role cannot be assumed: Firehose reports it as S3.AccessDenied
        return S3_ERRORS["AccessDenied"]
    if code in ("KMS.NotFoundException", "KMSNotFound", "NotFoundException"):
        return S3_ERRORS["KMS.NotFoundException"]
    return S3_ERRORS.get(code, _INTERNAL)
