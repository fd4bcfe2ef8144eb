# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM: one role per service principal, and least privilege in every policy of the platform's roles."""

from __future__ import annotations

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    as_list,
    check,
    compare,
    statements,
)

# Statement ids that may name Resource "*", and why (see the policy templates).
ALLOWED_STAR_RESOURCE = {
    "Tracing": "X-Ray trace APIs have no resource-level permissions",
    "VpcNetworkInterfaces": "Lambda's VPC attachment: ec2 Describe* cannot be scoped; ENI ids are unknown in advance",
}


def privilege_problems(policy_name, document):
    """Least-privilege problems of one policy document (empty when none)."""
    problems = []
    for st in statements(document):
        if st.get("Effect") != "Allow":
            continue
        sid = st.get("Sid", "?")
        for action in as_list(st.get("Action", [])):
            if action == "*" or action.endswith(":*"):
                problems.append(f"{policy_name}/{sid}: action {action}")
        if "*" in as_list(st.get("Resource", [])) and sid not in ALLOWED_STAR_RESOURCE:
            problems.append(f"{policy_name}/{sid}: Resource * without a documented reason")
        if "NotAction" in st or "NotResource" in st:
            problems.append(f"{policy_name}/{sid}: NotAction/NotResource")
    return problems


def _roles(ctx):
    iam, prefix, found = ctx.client("iam"), ctx.name("prefix"), []
    for page in iam.get_paginator("list_roles").paginate():
        found += [r for r in page["Roles"] if r["RoleName"].startswith(f"{prefix}-")]
    return found


def _policies(iam, role):
    """{name: document} of the role's inline and attached customer policies."""
    documents = {}
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        documents[name] = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        if attached["PolicyArn"].startswith("arn:aws:iam::aws:"):
            documents[attached["PolicyName"]] = {"Statement": [{"Effect": "Allow", "Action": "*", "Sid": "managed"}]}
            continue
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        documents[attached["PolicyName"]] = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)[
            "PolicyVersion"
        ]["Document"]
    return documents


@check("one role per service principal, each trusting only that principal")
def trust(ctx):
    got = {
        r["RoleName"]: sorted(
            p
            for s in statements(r["AssumeRolePolicyDocument"])
            for p in as_list(s.get("Principal", {}).get("Service", []))
        )
        for r in _roles(ctx)
    }
    want = {role: sorted(principals) for role, principals in ctx.want("roles").items()}
    return compare(want, got) if set(got) == set(want) else (False, {"want": sorted(want), "got": sorted(got)})


@check("policies name actions and resources (no *, documented exceptions only; no AWS managed policies)")
def least_privilege(ctx):
    iam, problems = ctx.client("iam"), []
    for role in _roles(ctx):
        for name, document in _policies(iam, role["RoleName"]).items():
            problems += privilege_problems(f"{role['RoleName']}/{name}", document)
    return not problems, problems or "as expected"


CHECKS = (trust, least_privilege)
