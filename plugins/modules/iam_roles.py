#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: iam_roles
short_description: Converge a list of IAM roles with their managed and inline policies in one call
version_added: 0.2.0
description:
  - Creates, updates or deletes several IAM roles at once, each with its trust policy, description,
    maximum session duration, tags, attached managed policies and inline policies. This is what a pair of
    M(amazon.aws.iam_role) and M(amazon.aws.iam_policy) tasks (or loops of them) does, in one process.
  - Each role is read with C(GetRole), C(ListRolePolicies) (and C(GetRolePolicy) per inline policy) and
    C(ListAttachedRolePolicies); only what differs is written. Policy documents are compared semantically
    (as amazon.aws does), so an equal document written in another order or form is no change.
  - The roles of the list are owned entirely by default. Inline policies not in I(inline_policies) are
    deleted and managed policies not in I(managed_policies) detached, unless
    I(purge_inline_policies) / I(purge_managed_policies) is false for the role.
  - A created role is waited for (IAM is eventually consistent) before its policies are attached, up to
    I(wait_timeout) seconds.
  - The path of an existing role cannot be changed (IAM has no call for it); a different I(path) gives a
    warning, as M(amazon.aws.iam_role) does.
  - Roles not in the list are left alone.
author:
  - SmartStream platform team (@smartstream)
options:
  roles:
    description:
      - The roles. With I(state=absent) only C(name) is used.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the role.
        type: str
        required: true
      path:
        description: Path of the role (used when the role is created).
        type: str
        default: /
      description:
        description: Description of the role; left as it is when unset.
        type: str
      assume_role_policy_document:
        description: The trust policy (a dict or JSON text). Required with I(state=present).
        type: raw
      max_session_duration:
        description: Maximum session duration in seconds (3600-43200); left as it is when unset (3600 at creation).
        type: int
      tags:
        description: Tags of the role; left as they are when unset.
        type: dict
      purge_tags:
        description: Remove the tags not in I(tags) (AWS-reserved C(aws:) tags are never touched).
        type: bool
        default: true
      managed_policies:
        description: ARNs of the managed policies attached to the role.
        type: list
        elements: str
        default: []
      purge_managed_policies:
        description: Detach the managed policies not in I(managed_policies).
        type: bool
        default: true
      inline_policies:
        description: Inline policies of the role, policy name to policy document (a dict or JSON text).
        type: dict
        default: {}
      purge_inline_policies:
        description: Delete the inline policies not in I(inline_policies).
        type: bool
        default: true
  wait_timeout:
    description: Seconds to wait for a created role to be visible.
    type: int
    default: 120
  state:
    description:
      - C(present) creates or updates every role of the list.
      - C(absent) deletes them, as M(amazon.aws.iam_role) does. The role is removed from its instance
        profiles (a profile named as the role is deleted), its managed policies are detached, its inline
        policies deleted, then the role.
    choices: [present, absent]
    default: present
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Execution roles of two functions, each with its inline policy
  smartstream.pipeline.iam_roles:
    roles:
      - name: smartstream-dev-transform
        description: "SmartStream dev: execution role of smartstream-dev-transform"
        assume_role_policy_document:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Service: lambda.amazonaws.com}
              Action: sts:AssumeRole
        tags: {Project: smartstream, Environment: dev}
        inline_policies:
          transform-function: "{{ lookup('smartstream.pipeline.template', 'transform_policy.json.j2') }}"
      - name: dms-vpc-role
        assume_role_policy_document: "{{ dms_trust }}"
        managed_policies: [arn:aws:iam::aws:policy/service-role/AmazonDMSVPCManagementRole]
        purge_inline_policies: false
  register: roles

- name: The ARN of one of them
  ansible.builtin.debug:
    msg: "{{ roles.arns['smartstream-dev-transform'] }}"

- name: Remove them
  smartstream.pipeline.iam_roles:
    roles:
      - name: smartstream-dev-transform
      - name: dms-vpc-role
    state: absent
"""

RETURN = r"""
roles:
  description:
    - The roles of the list that exist after the call (with I(state=present); none with I(state=absent)).
    - In check mode a role that would be created has an empty C(arn) and C(role_id).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the role.
      type: str
    arn:
      description: ARN of the role.
      type: str
    role_id:
      description: Id of the role.
      type: str
    path:
      description: Path of the role.
      type: str
    managed_policies:
      description: ARNs of the attached managed policies.
      type: list
      elements: str
    inline_policies:
      description: Names of the inline policies.
      type: list
      elements: str
  sample:
    - name: smartstream-dev-transform
      arn: arn:aws:iam::123456789012:role/smartstream-dev-transform
      role_id: AROAEXAMPLEID
      path: /
      managed_policies: []
      inline_policies: [transform-function]
arns:
  description: Name to ARN of the roles of the list that exist (a role check mode would create is left out).
  returned: always
  type: dict
  sample: {smartstream-dev-transform: "arn:aws:iam::123456789012:role/smartstream-dev-transform"}
changed_roles:
  description: Names of the roles created, updated or deleted (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [smartstream-dev-transform]
"""

import json
from contextlib import contextmanager

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.iam_roles import (
    SpecError,
    desired_role,
    has_changes,
    role_changes,
    role_view,
    view_after,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import (
    WaitTimeout,
    list_form_items,
    wait_for,
)


def get_role(client, name):
    try:
        return client.get_role(aws_retry=True, RoleName=name)["Role"]
    except is_boto3_error_code("NoSuchEntity"):
        return None


@AWSRetry.jittered_backoff()
def paginated(client, operation, key, **params):
    return client.get_paginator(operation).paginate(**params).build_full_result().get(key, [])


def read_role(client, name, with_policy_documents=True):
    """The current state of a role (see iam_roles.role_changes), or None."""
    role = get_role(client, name)
    if role is None:
        return None
    names = paginated(client, "list_role_policies", "PolicyNames", RoleName=name)
    inline = {
        policy: (
            client.get_role_policy(aws_retry=True, RoleName=name, PolicyName=policy)["PolicyDocument"]
            if with_policy_documents
            else None
        )
        for policy in names
    }
    attached = paginated(client, "list_attached_role_policies", "AttachedPolicies", RoleName=name)
    return {
        "role": role,
        "tags": boto3_tag_list_to_ansible_dict(role.get("Tags") or []),
        "managed_policies": sorted(p["PolicyArn"] for p in attached),
        "inline_policies": inline,
    }


def create_role(module, client, desired):
    params = {
        "RoleName": desired["name"],
        "Path": desired["path"],
        "AssumeRolePolicyDocument": json.dumps(desired["assume_role_policy_document"]),
    }
    if desired["description"] is not None:
        params["Description"] = desired["description"]
    if desired["max_session_duration"] is not None:
        params["MaxSessionDuration"] = desired["max_session_duration"]
    if desired["tags"]:
        params["Tags"] = ansible_dict_to_boto3_tag_list(desired["tags"])
    role = client.create_role(aws_retry=True, **params)["Role"]
    # IAM is eventually consistent: the policies are attached once the role is seen.
    wait_for(
        lambda: get_role(client, desired["name"]),
        lambda found: found is not None,
        f"role {desired['name']} to exist",
        timeout=module.params["wait_timeout"],
    )
    return role


def apply(module, client, desired, changes, role):
    name = desired["name"]
    if changes["create"]:
        role = create_role(module, client, desired)
    if changes["update"]:
        client.update_role(aws_retry=True, RoleName=name, **changes["update"])
    if changes["trust"] is not None:
        client.update_assume_role_policy(aws_retry=True, RoleName=name, PolicyDocument=json.dumps(changes["trust"]))
    if changes["tags_unset"]:
        client.untag_role(aws_retry=True, RoleName=name, TagKeys=changes["tags_unset"])
    if changes["tags_set"] and not changes["create"]:
        client.tag_role(aws_retry=True, RoleName=name, Tags=ansible_dict_to_boto3_tag_list(changes["tags_set"]))
    for arn in changes["detach"]:
        client.detach_role_policy(aws_retry=True, RoleName=name, PolicyArn=arn)
    for arn in changes["attach"]:
        client.attach_role_policy(aws_retry=True, RoleName=name, PolicyArn=arn)
    for policy in changes["delete"]:
        client.delete_role_policy(aws_retry=True, RoleName=name, PolicyName=policy)
    for policy in changes["put"]:
        document = json.dumps(desired["inline_policies"][policy], sort_keys=True)
        client.put_role_policy(aws_retry=True, RoleName=name, PolicyName=policy, PolicyDocument=document)
    return role


def converge_present(module, client, specs):
    changed, roles, before, after = [], [], {}, {}
    try:
        wanted = [desired_role(spec) for spec in specs]  # every entry checked before anything is written
    except SpecError as e:
        module.fail_json(msg=str(e))
    for desired in wanted:
        with aws_errors(module, desired["name"]):
            converge_role(module, client, desired, changed, roles, before, after)
    return changed, roles, before, after


def converge_role(module, client, desired, changed, roles, before, after):
    name = desired["name"]
    current = read_role(client, name)
    changes = role_changes(current, desired)
    role = current["role"] if current else None
    if current and desired["path"] != role.get("Path"):
        module.warn(f"role {name}: the path of a role cannot be changed: it stays {role.get('Path')}")
    if has_changes(changes):
        changed.append(name)
        before[name] = role_view(current)
        after[name] = view_after(current, desired, changes)
        if not module.check_mode:
            role = apply(module, client, desired, changes, role)
    final = view_after(current, desired, changes)
    roles.append(
        {
            "name": name,
            "arn": role["Arn"] if role else "",
            "role_id": role["RoleId"] if role else "",
            "path": role["Path"] if role else desired["path"],
            "managed_policies": final["managed_policies"],
            "inline_policies": sorted(final["inline_policies"]),
        }
    )


def delete_role(client, name, current):
    profiles = paginated(client, "list_instance_profiles_for_role", "InstanceProfiles", RoleName=name)
    for profile in profiles:
        profile_name = profile["InstanceProfileName"]
        client.remove_role_from_instance_profile(aws_retry=True, InstanceProfileName=profile_name, RoleName=name)
        if profile_name == name:
            client.delete_instance_profile(aws_retry=True, InstanceProfileName=profile_name)
    for arn in current["managed_policies"]:
        client.detach_role_policy(aws_retry=True, RoleName=name, PolicyArn=arn)
    for policy in current["inline_policies"]:
        client.delete_role_policy(aws_retry=True, RoleName=name, PolicyName=policy)
    client.delete_role(aws_retry=True, RoleName=name)


def converge_absent(module, client, specs):
    changed, before = [], {}
    for spec in specs:
        name = spec["name"]
        with aws_errors(module, name):
            current = read_role(client, name, with_policy_documents=module._diff)
            if current is None:
                continue
            changed.append(name)
            before[name] = role_view(current)
            if not module.check_mode:
                delete_role(client, name, current)
    return changed, [], before, {name: {} for name in changed}


@contextmanager
def aws_errors(module, name):
    """A failed AWS request or wait fails the module naming the role."""
    try:
        yield
    except WaitTimeout as e:
        module.fail_json(msg=f"IAM role {name}: {e}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"IAM role {name}: the AWS request failed")


def main():
    role_spec = dict(
        name=dict(type="str", required=True),
        path=dict(type="str", default="/"),
        description=dict(type="str"),
        assume_role_policy_document=dict(type="raw"),
        max_session_duration=dict(type="int"),
        tags=dict(type="dict"),
        purge_tags=dict(type="bool", default=True),
        managed_policies=dict(type="list", elements="str", default=[]),
        purge_managed_policies=dict(type="bool", default=True),
        inline_policies=dict(type="dict", default={}),
        purge_inline_policies=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(
        argument_spec=dict(
            roles=dict(type="list", elements="dict", required=True, options=role_spec),
            wait_timeout=dict(type="int", default=120),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        supports_check_mode=True,
    )
    specs = list_form_items(module, "roles", merge=False)
    client = module.client("iam", retry_decorator=AWSRetry.jittered_backoff())
    converge = converge_present if module.params["state"] == "present" else converge_absent
    changed, roles, before, after = converge(module, client, specs)
    result = {
        "changed": bool(changed),
        "changed_roles": changed,
        "roles": roles,
        "arns": {r["name"]: r["arn"] for r in roles if r["arn"]},
    }
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
