"""Patches of moto's S3 for the local emulator (see emulator/README.md)."""

from __future__ import annotations

import re
from typing import Any

from emulator.patches.registry import patch as _patch

# --------------------------------------------------------------------------
# S3 bucket policies: transport conditions
# --------------------------------------------------------------------------
# AWS evaluates a bucket-policy statement only when its Condition matches the
# request. moto ignores conditions ("Conditions are not taken into account"),
# so the standard TLS-only statement (Deny s3:* when aws:SecureTransport is
# false) denies every object request, even one made over TLS. The harness
# serves the emulator over HTTPS only (TLS 1.2 or newer), so it knows the
# transport of every request: statements whose transport condition cannot
# match such a request are dropped before moto evaluates the policy.
# Statements with other condition keys keep moto's behaviour.
_TLS_REQUEST_CONTEXT: dict[str, Any] = {"aws:securetransport": True, "s3:tlsversion": 1.2}


def _condition_holds(operator: str, actual: Any, expected: Any) -> bool | None:
    """Whether one condition holds for the TLS request context; None when unknown."""
    values = expected if isinstance(expected, list) else [expected]
    op = operator.removesuffix("IfExists")
    if op == "Bool":
        return any(str(actual).lower() == str(v).lower() for v in values)
    numeric = {
        "NumericEquals": lambda a, b: a == b,
        "NumericNotEquals": lambda a, b: a != b,
        "NumericLessThan": lambda a, b: a < b,
        "NumericLessThanEquals": lambda a, b: a <= b,
        "NumericGreaterThan": lambda a, b: a > b,
        "NumericGreaterThanEquals": lambda a, b: a >= b,
    }
    if op in numeric:
        return any(numeric[op](float(actual), float(v)) for v in values)
    return None


def statement_applies_to_tls_request(statement: dict[str, Any]) -> bool:
    """False when a transport condition of the statement rules out a TLS 1.2+ request."""
    for operator, clauses in (statement.get("Condition") or {}).items():
        for key, expected in clauses.items():
            actual = _TLS_REQUEST_CONTEXT.get(key.lower())
            if actual is None:
                continue
            if _condition_holds(operator, actual, expected) is False:
                return False
    return True


@_patch
def s3_bucket_policy_transport_conditions() -> None:
    """Bucket policies: evaluate aws:SecureTransport and s3:TlsVersion conditions."""
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy)
        statements = policy.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        kept = [s for s in statements if statement_applies_to_tls_request(s)]
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**policy, "Statement": kept})).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission


# --------------------------------------------------------------------------
# S3: notification filter rules
# --------------------------------------------------------------------------
# AWS: PutBucketNotificationConfiguration takes filter rule names in any case
# (Prefix / prefix) and an empty value (which matches every key); reads
# return the names as Prefix / Suffix. moto asserts lower-case names and a
# non-empty value (500 otherwise), which community.aws.s3_bucket_notification
# (it always sends Prefix and Suffix, Suffix empty when none is set) trips.
_EMPTY = "__smartstream_empty_filter_value__"
_FILTER_NAMES = {"prefix": "Prefix", "suffix": "Suffix"}


def normalise_filter_xml(body: str) -> str:
    """Lower-case filter rule names and mark empty values, so moto's parser accepts them."""
    body = re.sub(
        r"<Name>\s*(Prefix|Suffix)\s*</Name>", lambda m: f"<Name>{m.group(1).lower()}</Name>", body, flags=re.I
    )
    return re.sub(r"<Value>\s*</Value>|<Value\s*/>", f"<Value>{_EMPTY}</Value>", body)


@_patch
def s3_notification_filter_rules() -> None:
    """Notification filter rules: names in any case, empty values, read back as Prefix / Suffix."""
    from moto.s3.models import Notification
    from moto.s3.responses import S3Response

    original = S3Response._notification_config_from_body

    def _notification_config_from_body(self: Any) -> Any:
        raw = self.body.decode() if isinstance(self.body, bytes) else self.body
        self.body = normalise_filter_xml(raw or "")
        config = original(self)
        for configs in (config or {}).values():
            for item in configs if isinstance(configs, list) else []:
                for rule in (item.get("Filter") or {}).get("S3Key", {}).get("FilterRule", []):
                    rule["Name"] = _FILTER_NAMES.get(rule["Name"].lower(), rule["Name"])
                    if rule["Value"] == _EMPTY:
                        rule["Value"] = ""
        return config

    def _key_matches(self: Any, key_name: str) -> bool:
        if "S3Key" not in self.filters:
            return True
        rules = {f["Name"].lower(): f["Value"] or "" for f in self.filters["S3Key"]["FilterRule"]}
        return key_name.startswith(rules.get("prefix", "")) and key_name.endswith(rules.get("suffix", ""))

    S3Response._notification_config_from_body = _notification_config_from_body
    Notification._key_matches = _key_matches
