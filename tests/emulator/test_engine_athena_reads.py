"""The Athena engine reads each object as its caller: S3 decides as it decides a GetObject by that caller.

Every case compares the query's outcome with what the emulator's S3 answers over HTTP to a GetObject of the
same object by the same caller: the local Athena must neither read what S3 would refuse nor fail where S3
would serve.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from emulator.engines.athena import authorise, catalog_reads, storage
from emulator.engines.athena.errors import QueryFailed
from emulator.patches import iam as iam_patches
from tests.emulator import test_engine_athena_s3 as s3_tests
from tests.emulator.test_engine_athena_s3 import CATALOG, LIST, READ, WRITE, parquet, run, values

lake = s3_tests.lake  # the fixture: a table cat.events of two partitions, a work group writing to results/q/

DENIED_KEY = "events/dt=2024-01-02/part.parquet"


def _role(lake: dict, name: str, statements: list[dict]) -> tuple[object, object]:
    """(athena, s3) clients of a role with these statements."""
    iam = boto3.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Statement": []}))["Role"]["Arn"]
    document = {"Version": "2012-10-17", "Statement": statements}
    iam.put_role_policy(RoleName=name, PolicyName="access", PolicyDocument=json.dumps(document))
    credentials = lake["ctx"].assume(arn, name)
    return lake["ctx"].client("athena", credentials=credentials), lake["ctx"].client("s3", credentials=credentials)


def _http_get_error(s3, key: str = DENIED_KEY) -> str:
    """What S3 answers over HTTP to this caller's GetObject of the key (it must refuse)."""
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="lake", Key=key)
    return str(err.value)


def _failed_as_http(execution: dict, http_error: str, key: str = DENIED_KEY) -> None:
    assert execution["Status"]["State"] == "FAILED", execution["Status"]
    assert execution["Status"]["StateChangeReason"] == (
        f"HIVE_CANNOT_OPEN_SPLIT: Error opening Hive split s3://lake/{key}: {http_error}"
    )


@pytest.fixture
def enforced():
    iam_patches.enforce(True)
    yield
    iam_patches.enforce(False)


@pytest.fixture
def verdicts(monkeypatch):
    """The in-process verdicts of the queries (key: object or None), to show which path decided."""
    seen: list[tuple[str, bool]] = []
    original = authorise.readable_object

    def spy(caller, bucket, key):
        found = original(caller, bucket, key)
        seen.append((key, found is not None))
        return found

    monkeypatch.setattr(authorise, "readable_object", spy)
    return seen


def test_an_allowed_caller_reads_in_process_with_no_request_per_object(lake, enforced, verdicts):
    # Given a role allowed to read the table
    athena, _s3 = _role(lake, "analyst", [CATALOG, LIST, READ, WRITE])

    # When it queries the table twice
    first, second = run(athena, "SELECT sum(id) FROM events"), run(athena, "SELECT count(*) FROM events")

    # Then both answer, each object authorised in-process once per query
    assert values(athena, first)[1] == ["6"] and values(athena, second)[1] == ["3"]
    assert sorted(verdicts) == sorted([(f"events/dt=2024-01-0{d}/part.parquet", True) for d in (1, 2)] * 2)


def test_an_identity_policy_deny_fails_the_query_as_s3_refuses_the_read(lake, enforced, verdicts):
    # Given a role allowed the table but denied one partition's objects by its own policy
    deny = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/events/dt=2024-01-02/*"}
    athena, s3 = _role(lake, "partial", [CATALOG, LIST, READ, WRITE, deny])

    # When it queries the whole table, and only the allowed partition
    whole = run(athena, "SELECT count(*) FROM events")
    allowed = run(athena, "SELECT count(*) FROM events WHERE dt = '2024-01-01'")

    # Then the whole table fails on the denied object, with S3's own answer; the allowed partition answers
    _failed_as_http(whole, _http_get_error(s3))
    assert "AccessDenied" in whole["Status"]["StateChangeReason"]
    assert values(athena, allowed)[1] == ["2"]
    assert (DENIED_KEY, False) in verdicts


def test_a_bucket_policy_deny_fails_the_query_even_for_the_account_root(lake, enforced, verdicts):
    # Given a bucket policy denying everyone s3:GetObject under one partition (TLS-only statement beside it)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::lake/events/dt=2024-01-02/*",
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::lake", "arn:aws:s3:::lake/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
    lake["s3"].put_bucket_policy(Bucket="lake", Policy=json.dumps(policy))
    athena, s3 = _role(lake, "analyst", [CATALOG, LIST, READ, WRITE])

    # When a role and the root (the base identity) query the table, and the root its other partition
    as_role, as_root = run(athena, "SELECT count(*) FROM events"), run(lake["athena"], "SELECT count(*) FROM events")
    other = run(lake["athena"], "SELECT count(*) FROM events WHERE dt = '2024-01-01'")

    # Then both fail on the denied object as S3 refuses each of them; the other partition answers
    _failed_as_http(as_role, _http_get_error(s3))
    _failed_as_http(as_root, _http_get_error(lake["s3"]))
    assert values(lake["athena"], other)[1] == ["2"]
    assert (DENIED_KEY, False) in verdicts


def test_an_sse_kms_object_needs_kms_decrypt_on_its_key(lake, enforced, verdicts):
    # Given one partition's object encrypted with a customer-managed key
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    lake["s3"].put_object(
        Bucket="lake", Key=DENIED_KEY, Body=parquet([3], 2), ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn
    )
    decrypt = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn}
    without, s3_without = _role(lake, "no-key", [CATALOG, LIST, READ, WRITE])
    with_key, _s3 = _role(lake, "with-key", [CATALOG, LIST, READ, WRITE, decrypt])

    # When a role without kms:Decrypt and one with it query the table
    refused, answered = run(without, "SELECT sum(id) FROM events"), run(with_key, "SELECT sum(id) FROM events")

    # Then the first fails as S3 refuses its read (kms:Decrypt), the second reads every row
    http_error = _http_get_error(s3_without)
    assert "kms:Decrypt" in http_error
    _failed_as_http(refused, http_error)
    assert values(with_key, answered)[1] == ["6"]
    assert (DENIED_KEY, False) in verdicts and (DENIED_KEY, True) in verdicts


def test_a_missing_object_fails_the_read_as_s3_answers_it(lake, enforced, tmp_path):
    # Given a key that does not exist, read as the base identity
    caller = authorise.Caller.of(lake["ctx"], None, "us-east-1", "123456789012")

    # When the engine fetches it
    with pytest.raises(QueryFailed) as failed:
        storage.OBJECTS.fetch(lake["s3"], caller, "lake", "events/none.parquet", tmp_path / "x.parquet")

    # Then the read fails with S3's own NoSuchKey
    assert authorise.readable_object(caller, "lake", "events/none.parquet") is None
    assert failed.value.error_type == "HIVE_CANNOT_OPEN_SPLIT"
    assert "NoSuchKey" in failed.value.reason


def test_a_wrong_secret_is_not_served_in_process_as_s3_refuses_its_signature(lake, enforced):
    # Given a role allowed to read, and its access key held with the right and with a wrong secret
    iam = boto3.client("iam")
    arn = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps({"Statement": []}))["Role"]["Arn"]
    document = {"Version": "2012-10-17", "Statement": [READ]}
    iam.put_role_policy(RoleName="reader", PolicyName="access", PolicyDocument=json.dumps(document))
    credentials = lake["ctx"].assume(arn, "reader")
    forged = {**credentials, "SecretAccessKey": "not-" + credentials["SecretAccessKey"]}
    right, wrong = (authorise.Caller.of(lake["ctx"], c, "us-east-1", "123456789012") for c in (credentials, forged))

    # When each is asked in-process, Then only the right secret is served, as S3 over HTTP refuses the other
    assert authorise.readable_object(right, "lake", DENIED_KEY) is not None
    assert authorise.readable_object(wrong, "lake", DENIED_KEY) is None
    assert "SignatureDoesNotMatch" in _http_get_error(lake["ctx"].client("s3", credentials=forged))


def test_the_catalog_and_the_listing_are_read_in_process_as_glue_and_s3_answer_the_caller(lake, enforced, monkeypatch):
    # Given the in-process answers watched, and roles with every permission, without Glue, without s3:ListBucket
    answers: list[tuple[str, bool]] = []
    for name in ("glue_table", "glue_partitions", "s3_files"):
        original = getattr(catalog_reads, name)

        def spy(*args, _original=original, _name=name):
            found = _original(*args)
            answers.append((_name, found is not None))
            return found

        monkeypatch.setattr(catalog_reads, name, spy)
    athena_only = {"Effect": "Allow", "Action": "athena:*", "Resource": "*"}
    analyst, _s3 = _role(lake, "analyst", [CATALOG, LIST, READ, WRITE])
    no_glue, _s3 = _role(lake, "no-glue", [athena_only, LIST, READ, WRITE])
    no_list, _s3 = _role(lake, "no-list", [CATALOG, READ, WRITE])

    # When each queries the table
    allowed = run(analyst, "SELECT sum(id) FROM events")
    read_in_process = list(answers)
    answers.clear()
    glue_refused = run(no_glue, "SELECT sum(id) FROM events")
    list_refused = run(no_list, "SELECT sum(id) FROM events")

    # Then the allowed one was answered in-process (table, partitions, listing) and read every row
    assert values(analyst, allowed)[1] == ["6"]
    assert sorted(read_in_process) == [("glue_partitions", True), ("glue_table", True), ("s3_files", True)]
    # and the others fail on what Glue and S3 refuse them over HTTP, as before
    assert ("glue_table", False) in answers and ("s3_files", False) in answers
    assert glue_refused["Status"]["State"] == "FAILED"
    assert "glue:GetTable" in glue_refused["Status"]["StateChangeReason"]
    assert list_refused["Status"]["State"] == "FAILED"
    assert list_refused["Status"]["StateChangeReason"].startswith("PERMISSION_DENIED: Error listing s3://lake/events/")
