"""Resource policies of the secrets: as the secrets role writes them they pass; each weakening fails."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks import secrets

from .conftest import ACCOUNT, NAMES, PREFIX, client

MASTER, REPLICATION = NAMES["secret"], NAMES["replication_secret"]
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:user/moto"  # moto's caller identity (arn:aws:sts::...:user/moto) as IAM names it
ROTATION = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-secret-rotation"
DMS = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-dms"
OPERATOR = f"arn:aws:iam::{ACCOUNT}:role/operators"


def policy(principals: list[str], **changes: Any) -> str:
    """The policy roles/secrets/templates/resource_policy.json.j2 renders, with ``changes`` to its statement."""
    statement = {
        "Sid": "OnlyThePlatformsPrincipals",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "secretsmanager:*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalArn": sorted(principals)}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [{**statement, **changes}]})


def put(name: str, document: str) -> None:
    client("secretsmanager").put_resource_policy(SecretId=name, ResourcePolicy=document)


@pytest.fixture
def deployed(aws):
    sm = client("secretsmanager")
    for name in (MASTER, REPLICATION):
        sm.create_secret(Name=name, SecretString="{}")
    put(MASTER, policy([DEPLOYER, ROTATION]))
    put(REPLICATION, policy([DEPLOYER, ROTATION, DMS]))


def test_the_policies_as_the_role_writes_them_pass(check, deployed):
    result = check(secrets.resource_policies)
    assert result["ok"], result
    extra = {"policy_principal_arns": [OPERATOR]}
    put(MASTER, policy([DEPLOYER, ROTATION, OPERATOR]))
    assert check(secrets.resource_policies, extra)["ok"]


def test_a_secret_without_a_policy_fails(check, deployed):
    client("secretsmanager").delete_resource_policy(SecretId=REPLICATION)
    result = check(secrets.resource_policies)
    assert not result["ok"] and result["detail"] == {REPLICATION: ["no resource policy"]}


def test_a_principal_not_asked_for_fails_and_a_missing_one_is_locked_out(check, deployed):
    put(MASTER, policy([DEPLOYER, ROTATION, OPERATOR, DMS]))
    put(REPLICATION, policy([DEPLOYER, ROTATION]))
    result = check(secrets.resource_policies)
    assert not result["ok"]
    assert result["detail"] == {
        MASTER: [f"lets in principals outside the platform's: {sorted([DMS, OPERATOR])}"],
        REPLICATION: [f"locks out: {[DMS]}"],
    }


def test_the_deployer_given_is_the_one_required(check, deployed):
    result = check(secrets.resource_policies, {"policy_deployer_arn": OPERATOR})
    assert not result["ok"]
    assert result["detail"][MASTER] == [
        f"lets in principals outside the platform's: {[DEPLOYER]}",
        f"locks out: {[OPERATOR]}",
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"Action": ["secretsmanager:GetSecretValue"]},  # the other actions stay open to everyone
        {"Principal": {"AWS": OPERATOR}},  # denies one principal, not everyone else
        {"Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:another"},
        {"Condition": {"StringNotLike": {"aws:PrincipalArn": [f"arn:aws:iam::{ACCOUNT}:role/*"]}}},
        {"Condition": {"StringNotEquals": {"aws:PrincipalArn": [DEPLOYER]}, "Bool": {"aws:SecureTransport": "true"}}},
        {"Effect": "Allow"},
    ],
)
def test_a_weaker_statement_is_no_guard(check, deployed, changes):
    put(MASTER, policy([DEPLOYER, ROTATION], **changes))
    result = check(secrets.resource_policies)
    assert not result["ok"] and list(result["detail"]) == [MASTER]
    assert result["detail"][MASTER][-1] == (
        "no Deny of secretsmanager:* to every principal outside a list of aws:PrincipalArn"
    )


def test_an_allow_beside_the_guard_fails(check, deployed):
    document = json.loads(policy([DEPLOYER, ROTATION]))
    document["Statement"].append(
        {"Sid": "Share", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
         "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    )  # fmt: skip
    put(MASTER, json.dumps(document))
    result = check(secrets.resource_policies)
    assert result["detail"] == {MASTER: ["Share: allows {'AWS': 'arn:aws:iam::999999999999:root'}"]}


def test_not_asked_for_passes(check, aws):
    assert check(secrets.resource_policies, {"resource_policy": False})["ok"]
