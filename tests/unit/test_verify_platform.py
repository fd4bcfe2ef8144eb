"""The least-privilege rules molecule's verify applies to every IAM policy of the platform."""

from __future__ import annotations

import json

import pytest

from tests.harness.verify_platform import Report, privilege_problems


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_scoped_policy_has_no_problem():
    doc = policy({"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/raw/*"})
    assert privilege_problems("p", doc) == []


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ({"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"}, "action *"),
        ({"Sid": "S3", "Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::b"}, "action s3:*"),
        ({"Sid": "Any", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}, "Resource * without"),
        ({"Sid": "Not", "Effect": "Allow", "NotAction": ["iam:*"], "Resource": "arn:aws:s3:::b"}, "NotAction"),
    ],
)
def test_broad_statements_are_reported(statement, problem):
    problems = privilege_problems("role/policy", policy(statement))
    assert problems and problem in problems[0]


def test_star_resource_allowed_only_for_documented_statements():
    doc = policy({"Sid": "Tracing", "Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": "*"})
    assert privilege_problems("p", doc) == []


def test_deny_statements_are_not_privileges():
    doc = policy({"Sid": "TlsOnly", "Effect": "Deny", "Action": "*", "Resource": "*"})
    assert privilege_problems("p", doc) == []


def test_url_encoded_documents_are_read():
    encoded = json.dumps(policy({"Sid": "x", "Effect": "Allow", "Action": "*", "Resource": "*"})).replace(" ", "%20")
    assert len(privilege_problems("p", encoded)) == 2


def test_a_check_that_raises_is_a_failed_check():
    report = Report()
    report.run("layer", "reads something", lambda: 1 / 0)
    assert report.failed and "ZeroDivisionError" in report.failed[0]["detail"]
