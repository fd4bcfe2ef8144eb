"""s3_prefix_markers: marker keys and what a run creates or deletes; S3 through moto in-process."""

from __future__ import annotations

import boto3
from ansible_collections.smartstream.pipeline.plugins.modules import s3_prefix_markers as markers
from moto import mock_aws


def test_marker_keys_end_in_a_slash_keep_their_order_and_drop_repeats():
    assert markers.marker_keys(["raw", "trusted/", "raw/", "a/b"]) == ["raw/", "trusted/", "a/b/"]


def test_present_creates_only_the_missing_and_absent_deletes_only_the_existing():
    keys = ["raw/", "trusted/"]
    assert markers.plan("present", {"raw/"}, keys) == (["trusted/"], [])
    assert markers.plan("present", set(keys), keys) == ([], [])
    assert markers.plan("absent", {"raw/"}, keys) == ([], ["raw/"])
    assert markers.plan("absent", set(), keys) == ([], [])


class NoRetry:
    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        return lambda *args, aws_retry=None, **kwargs: attr(*args, **kwargs)


def test_a_marker_is_seen_only_as_its_own_key_not_as_data_under_the_prefix():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="lake")
        s3.put_object(Bucket="lake", Key="trusted/part-0.parquet", Body=b"x")
        s3.put_object(Bucket="lake", Key="raw/", Body=b"")
        client = NoRetry(s3)

        assert markers.exists(client, "lake", "raw/")
        assert not markers.exists(client, "lake", "trusted/")
        assert not markers.exists(client, "missing-bucket", "raw/")
