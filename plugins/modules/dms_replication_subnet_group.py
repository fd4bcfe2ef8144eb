#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: dms_replication_subnet_group
short_description: Manage an AWS DMS replication subnet group
version_added: 1.0.0
description:
  - Create, modify or delete the subnet group of DMS replication instances.
  - Its description and subnets are modified in place (C(ModifyReplicationSubnetGroup)).
  - Replaces M(community.aws.dms_replication_subnet_group), which in check mode returns its boto3
    client as the result and so fails every check-mode run that would change or delete a group,
    and which requires a description and subnets even to delete one.
  - Deletion is retried while DMS still reports the group in use (an instance being deleted),
    up to I(wait_timeout).
author:
  - SmartStream platform team (@smartstream)
options:
  identifier:
    description: Identifier of the subnet group (letters, digits, hyphens; DMS stores it in lower case).
    required: true
    type: str
  description:
    description: Description of the group. Required with I(state=present).
    type: str
  subnet_ids:
    description: Subnets of the group, in at least two availability zones. Required with I(state=present).
    type: list
    elements: str
  state:
    description: C(present) creates or modifies, C(absent) deletes.
    choices: [present, absent]
    default: present
    type: str
  wait_timeout:
    description: Seconds to keep retrying a deletion DMS refuses while the group is in use.
    type: int
    default: 600
  poll_interval:
    description: Seconds between those retries.
    type: int
    default: 10
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Subnet group of the replication instance
  smartstream.pipeline.dms_replication_subnet_group:
    identifier: smartstream-dev-cdc
    description: SmartStream dev DMS (private subnets)
    subnet_ids: [subnet-0a1b2c3d, subnet-4e5f6a7b]

- name: Remove it (after the instances that use it)
  smartstream.pipeline.dms_replication_subnet_group:
    identifier: smartstream-dev-cdc
    state: absent
"""

RETURN = r"""
subnet_group:
  description: The group as DMS describes it (snake_case); empty when it does not exist.
  returned: always
  type: dict
  sample:
    replication_subnet_group_identifier: smartstream-dev-cdc
    replication_subnet_group_description: SmartStream dev DMS (private subnets)
    vpc_id: vpc-0123456789abcdef0
    subnet_group_status: Complete
    subnets: [{subnet_identifier: subnet-0a1b2c3d, subnet_status: Active}]
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.dms import identifier_problem
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import (
    WaitFailed,
    WaitTimeout,
    wait_for,
)


def describe(client, identifier):
    try:
        found = client.describe_replication_subnet_groups(
            aws_retry=True, Filters=[{"Name": "replication-subnet-group-id", "Values": [identifier]}]
        )["ReplicationSubnetGroups"]
    except is_boto3_error_code("ResourceNotFoundFault"):
        return None
    return found[0] if found else None


def settings(group):
    """What the module manages of a group: its description and its subnets (sorted)."""
    if not group:
        return {}
    return {
        "description": group.get("ReplicationSubnetGroupDescription", ""),
        "subnet_ids": sorted(s["SubnetIdentifier"] for s in group.get("Subnets", [])),
    }


def wanted(params):
    return {"description": params["description"], "subnet_ids": sorted(set(params["subnet_ids"]))}


def delete(module, client, identifier):
    """Delete the group, retrying while DMS says it is in use; True when it was deleted here."""

    def attempt():
        try:
            client.delete_replication_subnet_group(aws_retry=True, ReplicationSubnetGroupIdentifier=identifier)
        except is_boto3_error_code("InvalidResourceStateFault"):
            return "in use"
        except is_boto3_error_code("ResourceNotFoundFault"):
            return "gone"
        return "deleted"

    try:
        outcome = wait_for(
            attempt,
            lambda state: state != "in use",
            f"DMS replication subnet group {identifier} to be deletable",
            timeout=module.params["wait_timeout"],
            delay=module.params["poll_interval"],
        )
    except (WaitTimeout, WaitFailed) as e:
        module.fail_json(msg=f"{e} (an instance still uses it)")
    return outcome == "deleted"


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            identifier=dict(type="str", required=True),
            description=dict(type="str"),
            subnet_ids=dict(type="list", elements="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            wait_timeout=dict(type="int", default=600),
            poll_interval=dict(type="int", default=10),
        ),
        required_if=[("state", "present", ["description", "subnet_ids"])],
        supports_check_mode=True,
    )
    p = module.params
    identifier = p["identifier"].lower()  # DMS keeps identifiers in lower case
    problem = identifier_problem(identifier, 255)
    if problem:
        module.fail_json(msg=problem)
    if p["state"] == "present" and not p["subnet_ids"]:
        module.fail_json(msg="subnet_ids: at least one subnet (DMS needs two availability zones)")
    client = module.client("dms", retry_decorator=AWSRetry.jittered_backoff())
    try:
        group = describe(client, identifier)
        before = settings(group)
        after = wanted(p) if p["state"] == "present" else {}
        changed = before != after
        if changed and not module.check_mode:
            if p["state"] == "absent":
                changed = delete(module, client, identifier)
            elif group is None:
                client.create_replication_subnet_group(
                    aws_retry=True,
                    ReplicationSubnetGroupIdentifier=identifier,
                    ReplicationSubnetGroupDescription=after["description"],
                    SubnetIds=after["subnet_ids"],
                )
            else:
                client.modify_replication_subnet_group(
                    aws_retry=True,
                    ReplicationSubnetGroupIdentifier=identifier,
                    ReplicationSubnetGroupDescription=after["description"],
                    SubnetIds=after["subnet_ids"],
                )
            group = describe(client, identifier) if p["state"] == "present" else None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to converge DMS replication subnet group {identifier}")
    result = {"changed": changed, "subnet_group": camel_dict_to_snake_dict(group) if group else {}}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
