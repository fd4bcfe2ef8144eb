"""IAM decides in the emulator: assumed roles are held to their policies, the root key is not."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from emulator.engines.host import EngineContext, RoleNotAssumable, check_trust, trusts
from emulator.patches import iam as iam_patches


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


@pytest.fixture
def enforced(emulator):
    iam_patches.enforce(True)
    yield emulator
    iam_patches.enforce(False)


def _role(name: str, statements: list[dict]) -> str:
    iam = boto3.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust("firehose.amazonaws.com"))["Role"]["Arn"]
    if statements:
        iam.put_role_policy(
            RoleName=name,
            PolicyName="access",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
    return arn


def test_the_root_key_is_not_held_to_policies(enforced):
    # Given IAM enforced, When the base identity (the account root) acts, Then nothing is denied
    boto3.client("s3").create_bucket(Bucket="lake")
    assert boto3.client("sts").get_caller_identity()["Account"] == "123456789012"


def test_an_assumed_role_may_do_what_its_policy_allows_and_nothing_else(enforced, tmp_path):
    # Given a bucket and a role allowed to put objects under raw/ only
    boto3.client("s3").create_bucket(Bucket="lake")
    arn = _role("writer", [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::lake/raw/*"}])
    ctx = EngineContext(endpoint_url=enforced, ca_bundle=None, run_dir=tmp_path)
    s3 = ctx.client_as(arn, "s3", principal="firehose.amazonaws.com")
    # When it writes under raw/, Then S3 accepts; elsewhere, or reading, AccessDenied
    s3.put_object(Bucket="lake", Key="raw/a", Body=b"x")
    for call in (
        lambda: s3.put_object(Bucket="lake", Key="trusted/a", Body=b"x"),
        lambda: s3.get_object(Bucket="lake", Key="raw/a"),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "AccessDenied"


def test_actions_decide_where_moto_cannot_name_the_resource(enforced, tmp_path):
    # Given a stream and two roles: one allowed kinesis:PutRecords on the stream's ARN, one without it
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName="cdc", ShardCount=1)
    stream_arn = kinesis.describe_stream_summary(StreamName="cdc")["StreamDescriptionSummary"]["StreamARN"]
    allowed = _role("allowed", [{"Effect": "Allow", "Action": "kinesis:PutRecords", "Resource": stream_arn}])
    denied = _role("denied", [{"Effect": "Allow", "Action": "kinesis:DescribeStream", "Resource": stream_arn}])
    ctx = EngineContext(endpoint_url=enforced, ca_bundle=None, run_dir=tmp_path)
    records = [{"Data": b"{}", "PartitionKey": "k"}]
    # When each puts records, Then the scoped Allow is honoured and the missing action denied
    ctx.client_as(allowed, "kinesis").put_records(StreamName="cdc", Records=records)
    with pytest.raises(ClientError) as err:
        ctx.client_as(denied, "kinesis").put_records(StreamName="cdc", Records=records)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "kinesis:PutRecords" in err.value.response["Error"]["Message"]


def test_a_service_may_assume_a_role_only_when_its_trust_policy_names_it(emulator):
    arn = _role("delivery", [])
    iam = boto3.client("iam")
    check_trust(iam, arn, "firehose.amazonaws.com")
    with pytest.raises(RoleNotAssumable, match=r"dms\.amazonaws\.com is not allowed"):
        check_trust(iam, arn, "dms.amazonaws.com")
    with pytest.raises(RoleNotAssumable, match="does not exist"):
        check_trust(iam, arn.replace("delivery", "missing"), "firehose.amazonaws.com")


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            {
                "Effect": "Allow",
                "Principal": {"Service": ["a.amazonaws.com", "x.amazonaws.com"]},
                "Action": ["sts:AssumeRole"],
            },
            True,
        ),
        ({"Effect": "Allow", "Principal": {"Service": "y.amazonaws.com"}, "Action": "sts:AssumeRole"}, False),
        ({"Effect": "Allow", "Principal": {"Service": "x.amazonaws.com"}, "Action": "sts:TagSession"}, False),
        ({"Effect": "Deny", "Principal": {"Service": "x.amazonaws.com"}, "Action": "sts:AssumeRole"}, False),
    ],
)
def test_trust_policy_evaluation(statement, expected):
    assert trusts({"Statement": [statement]}, "x.amazonaws.com") is expected


def test_the_access_key_of_a_sigv4_header():
    header = (
        "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261125/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
    )
    assert iam_patches.access_key_of(header) == "ASIAEXAMPLE"
    assert iam_patches.access_key_of("") is None
