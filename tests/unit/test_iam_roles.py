"""iam_roles writes only what differs from a role as IAM returns it, and owns the roles' policies exactly by default."""

from __future__ import annotations

import json

import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils import iam_roles

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}],
}
MANAGED = "arn:aws:iam::aws:policy/service-role/AmazonDMSVPCManagementRole"


def spec(**overrides):
    base = {
        "name": "fn",
        "path": "/",
        "description": "Execution role",
        "assume_role_policy_document": TRUST,
        "max_session_duration": None,
        "tags": {"Project": "smartstream"},
        "purge_tags": True,
        "managed_policies": [MANAGED],
        "purge_managed_policies": True,
        "inline_policies": {"read": POLICY},
        "purge_inline_policies": True,
    }
    return {**base, **overrides}


def current(**overrides):
    """A role as read back: IAM's forms (a single action as a string, actions reordered, an aws: tag)."""
    base = {
        "role": {
            "RoleName": "fn",
            "Path": "/",
            "Arn": "arn:aws:iam::123456789012:role/fn",
            "RoleId": "AROA",
            "Description": "Execution role",
            "MaxSessionDuration": 3600,
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}}
                ],
            },
        },
        "tags": {"Project": "smartstream", "aws:cloudformation:stack-name": "x"},
        "managed_policies": [MANAGED],
        "inline_policies": {
            "read": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "Read", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": ["*"]}
                ],
            }
        },
    }
    return {**base, **overrides}


def test_a_role_read_back_in_iams_forms_has_no_changes():
    changes = iam_roles.role_changes(current(), iam_roles.desired_role(spec()))
    assert not iam_roles.has_changes(changes), changes


def test_a_missing_role_is_created_with_its_policies():
    changes = iam_roles.role_changes(None, iam_roles.desired_role(spec()))
    assert changes["create"] and changes["attach"] == [MANAGED] and changes["put"] == ["read"]


def test_policies_given_as_json_text_compare_as_documents():
    desired = iam_roles.desired_role(
        spec(assume_role_policy_document=json.dumps(TRUST), inline_policies={"read": json.dumps(POLICY)})
    )
    assert not iam_roles.has_changes(iam_roles.role_changes(current(), desired))


def test_exact_by_default_purges_foreign_policies_and_tags():
    extra = current(
        managed_policies=[MANAGED, "arn:aws:iam::aws:policy/ReadOnlyAccess"],
        inline_policies={**current()["inline_policies"], "foreign": POLICY},
        tags={"Project": "smartstream", "Owner": "someone"},
    )
    changes = iam_roles.role_changes(extra, iam_roles.desired_role(spec()))
    assert changes["detach"] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert changes["delete"] == ["foreign"]
    assert changes["tags_unset"] == ["Owner"]
    kept = iam_roles.role_changes(
        extra,
        iam_roles.desired_role(spec(purge_managed_policies=False, purge_inline_policies=False, purge_tags=False)),
    )
    assert not iam_roles.has_changes(kept), kept


def test_only_what_differs_is_changed():
    desired = iam_roles.desired_role(
        spec(description="New", max_session_duration=7200, inline_policies={"read": {**POLICY, "Statement": []}})
    )
    changes = iam_roles.role_changes(current(), desired)
    assert changes["update"] == {"Description": "New", "MaxSessionDuration": 7200}
    assert changes["put"] == ["read"] and changes["trust"] is None and not changes["attach"]
    after = iam_roles.view_after(current(), desired, changes)
    assert after["description"] == "New" and after["inline_policies"]["read"]["Statement"] == []
    assert after["tags"] == {"Project": "smartstream"}


def test_unset_description_and_tags_are_left_alone():
    desired = iam_roles.desired_role(spec(description=None, tags=None))
    role = current()
    role["role"]["Description"] = "Someone's"
    assert not iam_roles.has_changes(iam_roles.role_changes(role, desired))


def test_a_different_trust_policy_is_replaced():
    other = {**TRUST, "Statement": [{**TRUST["Statement"][0], "Principal": {"Service": "glue.amazonaws.com"}}]}
    changes = iam_roles.role_changes(current(), iam_roles.desired_role(spec(assume_role_policy_document=other)))
    assert changes["trust"] == other


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"assume_role_policy_document": None}, "role fn: assume_role_policy_document is required"),
        ({"assume_role_policy_document": "{not json"}, "role fn: assume_role_policy_document: not valid JSON"),
        ({"inline_policies": {"p": ["a"]}}, "role fn: inline policy p: a policy document is a JSON object"),
        ({"max_session_duration": 60}, "max_session_duration must be 3600-43200"),
        ({"managed_policies": ["ReadOnlyAccess"]}, "managed_policies takes policy ARNs, not ReadOnlyAccess"),
    ],
)
def test_bad_entries_give_a_message_naming_the_role(overrides, message):
    with pytest.raises(iam_roles.SpecError, match=message):
        iam_roles.desired_role(spec(**overrides))
