# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage: the data-lake, Athena-results and access-logs buckets (encryption, versioning, public access, TLS,
lifecycle, zones, server access logging)."""

from __future__ import annotations

import json

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    HEALTH,
    as_list,
    check,
    compare,
    is_not_found,
    statements,
    tag_problems,
)

ZONES = ("raw", "trusted", "trusted-analytics", "quarantine")


def _buckets(ctx):
    return [ctx.name("data_lake_bucket"), ctx.name("athena_results_bucket")]


def _optional(call, default):
    """An S3 configuration read, ``default`` when the bucket has none (NoSuch... errors)."""
    try:
        return call()
    except Exception as exc:  # pylint: disable=broad-except
        if is_not_found(exc) or "NotFoundError" in str(exc) or "does not exist" in str(exc):
            return default
        raise


def _bucket_problems(ctx, bucket, kms=None):
    s3 = ctx.client("s3")
    kms = ctx.want("kms_key_id", "") if kms is None else kms
    rules = _optional(lambda: s3.get_bucket_encryption(Bucket=bucket), {})
    rules = rules.get("ServerSideEncryptionConfiguration", {}).get("Rules", [{}])
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {})
    block = _optional(lambda: s3.get_public_access_block(Bucket=bucket), {}).get("PublicAccessBlockConfiguration", {})
    ownership = _optional(lambda: s3.get_bucket_ownership_controls(Bucket=bucket), {})
    policy = _optional(lambda: s3.get_bucket_policy(Bucket=bucket)["Policy"], '{"Statement": []}')
    by_sid = {st.get("Sid"): st for st in statements(policy)}
    arns = sorted([f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"])

    def deny_all(sid, condition):
        st = by_sid.get(sid, {})
        return (
            st.get("Effect") == "Deny"
            and st.get("Principal") == "*"
            and st.get("Action") == "s3:*"
            and sorted(st.get("Resource", [])) == arns
            and json.dumps(st.get("Condition"), sort_keys=True) == json.dumps(condition, sort_keys=True)
        )

    tags = _optional(lambda: s3.get_bucket_tagging(Bucket=bucket)["TagSet"], [])
    got = {
        "encryption": default.get("SSEAlgorithm"),
        "kms_key": default.get("KMSMasterKeyID", "") if kms else "",
        "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "public_access_blocks": sorted(k for k, v in block.items() if v),
        "ownership": [r.get("ObjectOwnership") for r in ownership.get("OwnershipControls", {}).get("Rules", [])],
        "deny_without_tls": deny_all("DenyInsecureTransport", {"Bool": {"aws:SecureTransport": "false"}}),
        "deny_tls_before_1_2": deny_all("DenyTlsOlderThan12", {"NumericLessThan": {"s3:TlsVersion": "1.2"}}),
        "untagged": tag_problems(bucket, tags, ctx.want("tags")),
    }
    want = {
        "encryption": "aws:kms" if kms else "AES256",
        "kms_key": kms,
        "versioning": "Enabled",
        "public_access_blocks": sorted(
            ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"]
        ),
        "ownership": ["BucketOwnerEnforced"],
        "deny_without_tls": True,
        "deny_tls_before_1_2": True,
        "untagged": [],
    }
    ok, diff = compare(want, got)
    return {} if ok else diff


@check("both buckets encrypted, versioned, all public access blocked, owner-enforced, TLS 1.2+ only, tagged")
def buckets(ctx):
    problems = {b: p for b in _buckets(ctx) for p in [_bucket_problems(ctx, b)] if p}
    return not problems, problems or "as expected"


def _rules(ctx, bucket):
    found = _optional(lambda: ctx.client("s3").get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"], [])
    return {r.get("ID"): r for r in found}


@check("lifecycle: raw/ tiering and expiry, quarantine/ expiry, Athena results expiry, old versions and uploads")
def lifecycle(ctx):
    lake, athena = (_rules(ctx, b) for b in _buckets(ctx))

    def rule(rules, rule_id):
        r = rules.get(rule_id, {})
        return {
            "prefix": (r.get("Filter") or {}).get("Prefix", r.get("Prefix")),
            "transition": [(t.get("Days"), t.get("StorageClass")) for t in r.get("Transitions", [])],
            "expiration_days": r.get("Expiration", {}).get("Days"),
            "noncurrent_days": r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays"),
            "abort_uploads_days": r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation"),
            "enabled": r.get("Status") == "Enabled",
        }

    noncurrent = ctx.want("noncurrent_version_expiration_days")
    got = {
        "raw": rule(lake, "raw-tiering"),
        "quarantine": rule(lake, "quarantine-expiry"),
        "results": rule(athena, "results-expiry"),
        "lake_versions": rule(lake, "noncurrent-and-multipart"),
        "results_versions": rule(athena, "noncurrent-and-multipart"),
    }
    got["raw"]["expiration_days"] = got["raw"]["expiration_days"] or 0
    versions = {"noncurrent_days": noncurrent, "abort_uploads_days": 7, "enabled": True}
    want = {
        "raw": {
            "prefix": "raw/",
            "transition": [(ctx.want("raw_transition_days"), ctx.want("raw_transition_storage_class", "STANDARD_IA"))],
            "expiration_days": ctx.want("raw_expiration_days"),
            "enabled": True,
        },
        "quarantine": {
            "prefix": "quarantine/",
            "expiration_days": ctx.want("quarantine_expiration_days"),
            "enabled": True,
        },
        "results": {"expiration_days": ctx.want("athena_results_expiration_days"), "enabled": True},
        "lake_versions": versions,
        "results_versions": versions,
    }
    diff = {}
    for key, wanted in want.items():
        ok, detail = compare(wanted, got[key])
        if not ok:
            diff[key] = detail
    return not diff, diff or "as expected"


@check("every data-lake zone exists", HEALTH)
def zones(ctx):
    s3, bucket = ctx.client("s3"), ctx.name("data_lake_bucket")
    missing = []
    for zone in ctx.want("zones", list(ZONES)):
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{zone}/", MaxKeys=1)
        if not listed.get("KeyCount"):
            missing.append(f"{zone}/")
    return not missing, {"missing": missing} if missing else f"{len(ctx.want('zones', list(ZONES)))} zones"


def _logs_prefix(ctx, bucket):
    return f"{ctx.want('access_logs_prefix', 's3-access-logs/')}{bucket}/"


@check("both buckets log their requests (server access logs) into the access-logs bucket, each under its prefix")
def access_logging(ctx):
    s3, logs = ctx.client("s3"), ctx.name("access_logs_bucket")
    problems = {}
    for bucket in _buckets(ctx):
        enabled = s3.get_bucket_logging(Bucket=bucket).get("LoggingEnabled") or {}
        got = {"target_bucket": enabled.get("TargetBucket"), "target_prefix": enabled.get("TargetPrefix")}
        ok, diff = compare({"target_bucket": logs, "target_prefix": _logs_prefix(ctx, bucket)}, got)
        if not ok:
            problems[bucket] = diff
    return not problems, problems or f"both into {logs}"


def _log_delivery_problems(ctx, logs):
    """What the logs bucket's policy lacks for the logging service to write each source's logs (or allows beyond)."""
    policy = _optional(lambda: ctx.client("s3").get_bucket_policy(Bucket=logs)["Policy"], '{"Statement": []}')
    allowed = [
        st
        for st in statements(policy)
        if st.get("Effect") == "Allow" and st.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    ]
    account = ctx.name("account_id")
    grants = {}
    for st in allowed:
        condition = st.get("Condition") or {}
        source = (condition.get("ArnLike") or condition.get("ArnEquals") or {}).get("aws:SourceArn")
        grants[source] = {
            "actions": sorted(as_list(st.get("Action"))),
            "resources": sorted(as_list(st.get("Resource"))),
            "source_account": (condition.get("StringEquals") or {}).get("aws:SourceAccount"),
        }
    want = {
        f"arn:aws:s3:::{b}": {
            "actions": ["s3:PutObject"],
            "resources": [f"arn:aws:s3:::{logs}/{_logs_prefix(ctx, b)}*"],
            "source_account": account,
        }
        for b in _buckets(ctx)
    }
    ok, diff = compare(want, grants)
    extra = sorted(str(k) for k in set(grants) - set(want))
    if extra:
        diff = {**(diff if not ok else {}), "unexpected_sources": extra}
    return diff if (not ok or extra) else {}


@check(
    "access-logs bucket: SSE-S3, versioned, not public, owner-enforced, TLS-only, log delivery per source, "
    "logs expire, does not log itself"
)
def access_logs_bucket(ctx):
    s3, logs = ctx.client("s3"), ctx.name("access_logs_bucket")
    problems = _bucket_problems(ctx, logs, kms="")
    delivery = _log_delivery_problems(ctx, logs)
    if delivery:
        problems["log_delivery"] = delivery
    if s3.get_bucket_logging(Bucket=logs).get("LoggingEnabled"):
        problems["logs_itself"] = True
    expiry = _rules(ctx, logs).get("access-logs-expiry", {})
    got = {"expiration_days": expiry.get("Expiration", {}).get("Days"), "enabled": expiry.get("Status") == "Enabled"}
    ok, diff = compare({"expiration_days": ctx.want("access_logs_expiration_days"), "enabled": True}, got)
    if not ok:
        problems["expiry"] = diff
    return not problems, problems or "as expected"


CHECKS = (buckets, lifecycle, zones, access_logging, access_logs_bucket)
