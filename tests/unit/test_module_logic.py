"""Pure logic of the collection's modules (no AWS): requests built from wanted state."""

from __future__ import annotations

import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils import smartstream_aws as utils
from ansible_collections.smartstream.pipeline.plugins.modules import athena_workgroup as wg
from ansible_collections.smartstream.pipeline.plugins.modules import glue_database as glue

CURRENT = {
    "name": "wg",
    "arn": "arn",
    "description": "d",
    "enabled": True,
    "enforce_workgroup_configuration": True,
    "publish_cloudwatch_metrics": False,
    "requester_pays": False,
    "output_location": "s3://b/r/",
    "encryption": "SSE_S3",
    "bytes_scanned_cutoff": 10_000_000_000,
    "tags": {},
}


def params(**given):
    base = dict.fromkeys(
        [
            "description",
            "enabled",
            "enforce_workgroup_configuration",
            "publish_cloudwatch_metrics",
            "requester_pays",
            "output_location",
            "encryption",
            "kms_key",
            "bytes_scanned_cutoff",
        ]
    )
    return base | given


def test_unchanged_workgroup_needs_no_request():
    want = wg.desired_view(CURRENT, params(), {})
    assert wg.update_request(CURRENT, want) == {}


def test_clearing_uses_the_remove_flags():
    want = wg.desired_view(CURRENT, params(output_location="", encryption="none", bytes_scanned_cutoff=0), {})

    request = wg.update_request(CURRENT, want)

    assert request == {
        "ConfigurationUpdates": {
            "ResultConfigurationUpdates": {"RemoveOutputLocation": True, "RemoveEncryptionConfiguration": True},
            "RemoveBytesScannedCutoffPerQuery": True,
        }
    }


def test_settings_state_and_description_in_one_request():
    want = wg.desired_view(CURRENT, params(encryption="SSE_KMS", kms_key="k", enabled=False, description="x"), {})

    request = wg.update_request(CURRENT, want)

    assert request["ConfigurationUpdates"]["ResultConfigurationUpdates"] == {
        "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": "k"}
    }
    assert request["State"] == "DISABLED" and request["Description"] == "x"


def test_create_request_holds_only_what_is_set():
    want = wg.desired_view({"name": "wg"}, params(output_location="s3://b/r/"), {})
    assert wg.create_request(want) == {
        "EnforceWorkGroupConfiguration": True,
        "PublishCloudWatchMetricsEnabled": False,
        "RequesterPaysEnabled": False,
        "ResultConfiguration": {"OutputLocation": "s3://b/r/"},
    }


def test_glue_input_keeps_unspecified_settings():
    current = {"Name": "db", "Description": "old", "LocationUri": "s3://x/", "Parameters": {"a": "1"}}
    wanted, merged = glue.desired_input(
        {"name": "db", "description": "new", "location_uri": None, "parameters": None}, current
    )
    assert merged == {"Name": "db", "Description": "new", "LocationUri": "s3://x/", "Parameters": {"a": "1"}}
    assert utils.changed_keys(current, wanted) == ["Description"]


def test_tag_changes_never_touch_aws_keys_and_none_leaves_tags():
    assert utils.tag_changes({"aws:cloudformation": "x", "a": "1"}, {"b": "2"}) == ({"b": "2"}, ["a"])
    assert utils.tag_changes({"a": "1"}, None) == ({}, [])
    assert utils.tag_changes({"a": "1"}, {"b": "2"}, purge_tags=False) == ({"b": "2"}, [])


def test_wait_for_returns_fails_or_times_out():
    clock = iter(range(0, 1000, 10))
    states = iter(["CREATING", "CREATING", "ACTIVE"])
    assert utils.wait_for(
        lambda: {"Status": next(states)},
        lambda r: r["Status"] == "ACTIVE",
        "stream",
        sleep=lambda _: None,
        clock=lambda: next(clock),
    ) == {"Status": "ACTIVE"}

    with pytest.raises(utils.WaitFailed, match="CREATING_FAILED"):
        utils.wait_for(
            lambda: {"Status": "CREATING_FAILED"},
            lambda r: False,
            "stream",
            failed=lambda r: "create failed" if r["Status"].endswith("FAILED") else None,
            sleep=lambda _: None,
        )

    ticks = iter(range(0, 10_000, 100))
    with pytest.raises(utils.WaitTimeout, match="timed out after 300 s"):
        utils.wait_for(
            lambda: {"Status": "CREATING"},
            lambda r: False,
            "stream",
            timeout=300,
            delay=50,
            sleep=lambda _: None,
            clock=lambda: next(ticks),
        )


def test_canonical_ignores_key_order():
    assert utils.canonical({"b": [1, {"y": 1, "x": 2}], "a": 1}) == utils.canonical(
        {"a": 1, "b": [1, {"x": 2, "y": 1}]}
    )
