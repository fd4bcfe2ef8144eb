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


def _kms_statement(actions: list[str], key_arn: str, via: list[str]) -> dict:
    return {
        "Effect": "Allow",
        "Action": actions,
        "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": [f"{s}.us-east-1.amazonaws.com" for s in via]}},
    }


def test_data_under_a_customer_key_needs_the_key_through_its_service(enforced, tmp_path):
    # Given a bucket whose default encryption is SSE-KMS with a customer key, and an object in it
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake")
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}}
    s3.put_bucket_encryption(Bucket="lake", ServerSideEncryptionConfiguration={"Rules": [rule]})
    s3.put_object(Bucket="lake", Key="raw/a", Body=b"x")
    s3_access = {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::lake/*"}
    ctx = EngineContext(endpoint_url=enforced, ca_bundle=None, run_dir=tmp_path)

    # When a role may use S3 but not the key, Then writing and reading are denied, as on AWS
    bare = ctx.client_as(_role("bare", [s3_access]), "s3", principal="firehose.amazonaws.com")
    for call in (
        lambda: bare.put_object(Bucket="lake", Key="raw/b", Body=b"x"),
        lambda: bare.get_object(Bucket="lake", Key="raw/a"),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "AccessDenied"
        assert "kms:" in err.value.response["Error"]["Message"]

    # When the key is allowed only through another service, Then still denied
    elsewhere = _role("elsewhere", [s3_access, _kms_statement(["kms:GenerateDataKey"], key_arn, ["kinesis"])])
    with pytest.raises(ClientError):
        ctx.client_as(elsewhere, "s3", principal="firehose.amazonaws.com").put_object(
            Bucket="lake", Key="raw/c", Body=b"x"
        )

    # When it may use the key through S3: GenerateDataKey writes, Decrypt reads
    writer = _role("writer", [s3_access, _kms_statement(["kms:GenerateDataKey"], key_arn, ["s3"])])
    writes = ctx.client_as(writer, "s3", principal="firehose.amazonaws.com")
    writes.put_object(Bucket="lake", Key="raw/d", Body=b"x")
    with pytest.raises(ClientError):
        writes.get_object(Bucket="lake", Key="raw/d")
    reader = _role("reader", [s3_access, _kms_statement(["kms:Decrypt"], key_arn, ["s3"])])
    assert (
        ctx.client_as(reader, "s3", principal="firehose.amazonaws.com")
        .get_object(Bucket="lake", Key="raw/d")["Body"]
        .read()
        == b"x"
    )


def test_a_stream_under_a_customer_key_needs_the_key_through_kinesis(enforced, tmp_path):
    # Given a stream encrypted with a customer key, and one under the AWS managed key
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    kinesis = boto3.client("kinesis")
    for name, key in (("cdc", key_arn), ("managed", "alias/aws/kinesis")):
        kinesis.create_stream(StreamName=name, ShardCount=1)
        kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=key)
    put = {"Effect": "Allow", "Action": ["kinesis:PutRecord", "kinesis:PutRecords"], "Resource": "*"}
    ctx = EngineContext(endpoint_url=enforced, ca_bundle=None, run_dir=tmp_path)
    bare = ctx.client_as(_role("bare", [put]), "kinesis", principal="firehose.amazonaws.com")

    # When a role without the key writes, Then the customer-key stream refuses it, the managed-key one does not
    with pytest.raises(ClientError) as err:
        bare.put_record(StreamName="cdc", Data=b"x", PartitionKey="k")
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    bare.put_record(StreamName="managed", Data=b"x", PartitionKey="k")

    # When it may use the key through Kinesis, Then the write goes through
    allowed = _role("allowed", [put, _kms_statement(["kms:GenerateDataKey"], key_arn, ["kinesis", "s3"])])
    ctx.client_as(allowed, "kinesis", principal="firehose.amazonaws.com").put_record(
        StreamName="cdc", Data=b"x", PartitionKey="k"
    )
