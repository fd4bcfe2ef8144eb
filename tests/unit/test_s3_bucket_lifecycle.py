"""s3_bucket_lifecycle compares what S3 returns with what it would write, whatever shape S3 returns it in."""

from __future__ import annotations

from ansible_collections.smartstream.pipeline.plugins.modules import s3_bucket_lifecycle as lifecycle

OURS = {
    "id": "raw-tiering",
    "prefix": "raw/",
    "status": "enabled",
    "expiration_days": 180,
    "transitions": [{"days": 90, "storage_class": "GLACIER_IR"}, {"days": 30, "storage_class": "STANDARD_IA"}],
    "noncurrent_version_expiration_days": None,
    "abort_incomplete_multipart_upload_days": None,
}


def params(rules, purge=True, state="present"):
    return {"rules": rules, "purge_rules": purge, "state": state}


def test_a_rule_read_back_in_any_of_s3s_shapes_equals_the_one_written():
    written = lifecycle.desired_rules(params([OURS]), {})
    as_read = {
        "ID": "raw-tiering",
        "Prefix": "raw/",  # a top-level Prefix and no Filter, as rules written by older clients come back
        "Status": "Enabled",
        "Expiration": {"Days": 180},
        "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}, {"Days": 90, "StorageClass": "GLACIER_IR"}],
    }
    assert lifecycle.by_id([as_read]) == written


def test_a_whole_bucket_rule_read_back_with_an_empty_filter_is_unchanged():
    rule = {**OURS, "prefix": "", "transitions": [], "expiration_days": 7}
    written = lifecycle.desired_rules(params([rule]), {})
    read = {"ID": "raw-tiering", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 7}}
    assert lifecycle.by_id([read]) == written


def test_a_setting_this_module_does_not_manage_makes_the_rule_differ():
    written = lifecycle.desired_rules(params([OURS]), {})
    read = dict(
        written["raw-tiering"], NoncurrentVersionTransitions=[{"NoncurrentDays": 30, "StorageClass": "GLACIER"}]
    )
    assert lifecycle.by_id([read]) != written


def test_purge_drops_foreign_rules_and_keep_merges_them():
    foreign = lifecycle.by_id(
        [{"ID": "theirs", "Filter": {"Prefix": "x/"}, "Status": "Enabled", "Expiration": {"Days": 1}}]
    )
    assert set(lifecycle.desired_rules(params([OURS]), foreign)) == {"raw-tiering"}
    assert set(lifecycle.desired_rules(params([OURS], purge=False), foreign)) == {"raw-tiering", "theirs"}
    assert lifecycle.desired_rules(params([OURS], state="absent"), foreign) == {}
