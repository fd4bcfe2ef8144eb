"""The arn filter: the one way the roles build an ARN no module returns."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.smartstream.pipeline.plugins.filter.arn import FilterModule, arn, partition_of


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("eu-north-1", "aws"),
        ("us-east-1", "aws"),
        ("ap-southeast-4", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
        ("", "aws"),
    ],
)
def test_partition_follows_from_the_region(region, partition):
    assert partition_of(region) == partition


def test_regional_resource_carries_region_and_account():
    assert (
        arn("stream/smartstream-prod-cdc", "kinesis", "eu-north-1", "123456789012")
        == "arn:aws:kinesis:eu-north-1:123456789012:stream/smartstream-prod-cdc"
    )


def test_china_and_govcloud_regions_get_their_partition():
    assert (
        arn("function:f", "lambda", "cn-north-1", "123456789012")
        == "arn:aws-cn:lambda:cn-north-1:123456789012:function:f"
    )
    assert arn("topic", "sns", "us-gov-west-1", "123456789012") == "arn:aws-us-gov:sns:us-gov-west-1:123456789012:topic"


def test_s3_bucket_has_neither_region_nor_account_but_keeps_the_partition():
    assert arn("my-bucket", "s3", "eu-north-1", "123456789012") == "arn:aws:s3:::my-bucket"
    assert arn("my-bucket/*", "s3", "cn-north-1", "123456789012") == "arn:aws-cn:s3:::my-bucket/*"


def test_iam_has_no_region_but_an_account():
    assert arn("role/r", "iam", "us-gov-east-1", "123456789012") == "arn:aws-us-gov:iam::123456789012:role/r"
    assert arn("root", "iam", "eu-north-1", "123456789012") == "arn:aws:iam::123456789012:root"


def test_aws_managed_policy_account():
    assert (
        arn("policy/service-role/AmazonDMSVPCManagementRole", "iam", "eu-north-1", "aws")
        == "arn:aws:iam::aws:policy/service-role/AmazonDMSVPCManagementRole"
    )


def test_explicit_partition_agreeing_with_the_region_is_used():
    assert arn("b", "s3", partition="aws-cn") == "arn:aws-cn:s3:::b"
    assert arn("log-group:/aws/x", "logs", "cn-north-1", "123456789012", "aws-cn").startswith(
        "arn:aws-cn:logs:cn-north-1:"
    )


def test_wildcards_in_the_resource_are_kept():
    assert arn("es:p-*", "rds", "eu-north-1", "123456789012") == "arn:aws:rds:eu-north-1:123456789012:es:p-*"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "kinesis", "eu-north-1", "123456789012"), "resource is empty"),
        (("stream/s", "Kinesis", "eu-north-1", "123456789012"), "bad service"),
        (("stream/s", "kinesis", "EU-NORTH-1", "123456789012"), "bad region"),
        (("stream/s", "kinesis", "eu-north-1", "1234"), "bad account"),
        (("stream/s", "kinesis", "eu-north-1", "123456789012", "aws-mars"), "unknown partition"),
        (("stream/s", "kinesis", "cn-north-1", "123456789012", "aws"), "is in partition aws-cn"),
    ],
)
def test_bad_parts_are_refused(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        arn(*args)


def test_the_filter_is_registered():
    assert FilterModule().filters()["arn"] is arn
