#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: dms_replication_instance
short_description: Manage an AWS DMS replication instance
version_added: 0.1.0
description:
  - Create, modify or delete a DMS replication instance, and wait until it is C(available) or gone.
  - Class, storage, engine version, Multi-AZ, security groups, maintenance window and minor-version
    upgrades are modified in place (C(ModifyReplicationInstance), applied immediately by default).
  - Public accessibility, the subnet group and the KMS key cannot change after creation; a change to any
    of them is reported as requiring replacement instead of being silently ignored.
  - No module of amazon.aws or community.aws manages DMS replication instances.
author:
  - SmartStream platform team (@smartstream)
options:
  identifier:
    description: Identifier of the replication instance (letters, digits, hyphens; starts with a letter).
    required: true
    type: str
  state:
    description: C(present) creates or modifies, C(absent) deletes.
    choices: [present, absent]
    default: present
    type: str
  instance_class:
    description: Instance class, for example C(dms.t3.medium).
    type: str
    default: dms.t3.medium
  allocated_storage:
    description: Storage in GiB (5-6144).
    type: int
    default: 50
  engine_version:
    description: DMS engine version; omitted lets DMS choose on creation and leaves it afterwards.
    type: str
  multi_az:
    description: Run a standby in another availability zone.
    type: bool
    default: false
  subnet_group:
    description: Identifier of the replication subnet group (private subnets). Cannot change after creation.
    type: str
  security_group_ids:
    description: VPC security groups of the instance. Omitted leaves them.
    type: list
    elements: str
  kms_key_id:
    description: KMS key encrypting the instance's storage; omitted uses the DMS default key. Cannot change.
    type: str
  publicly_accessible:
    description: Whether the instance gets a public address. Cannot change after creation.
    type: bool
    default: false
  auto_minor_version_upgrade:
    description: Apply minor engine upgrades in the maintenance window.
    type: bool
    default: true
  preferred_maintenance_window:
    description: Weekly maintenance window, for example C(sun:03:00-sun:03:30). Omitted leaves it.
    type: str
  apply_immediately:
    description: Apply modifications now rather than in the next maintenance window.
    type: bool
    default: true
  allow_major_version_upgrade:
    description: Allow a change of I(engine_version) to a new major version.
    type: bool
    default: false
  wait:
    description:
      - Wait for C(available) after a change, or until the instance is gone after deletion.
      - With I(state=absent), an instance already C(deleting) is only waited for (reported unchanged);
        a run that started the deletion without waiting can wait for it later.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 1800
  poll_interval:
    description: Longest pause between two looks while waiting (the first looks come after 1, 2, 4... seconds).
    type: int
    default: 15
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Replication instance in the private subnets, not public, encrypted
  smartstream.pipeline.dms_replication_instance:
    identifier: smartstream-dev-dms
    instance_class: dms.t3.medium
    allocated_storage: 50
    subnet_group: smartstream-dev-dms
    security_group_ids: [sg-0123456789abcdef0]
    publicly_accessible: false
    tags:
      Project: smartstream

- name: Remove it
  smartstream.pipeline.dms_replication_instance:
    identifier: smartstream-dev-dms
    state: absent
"""

RETURN = r"""
replication_instance:
  description: The instance after the change (empty when absent), as DescribeReplicationInstances returns it, in snake case.
  returned: always
  type: dict
  contains:
    replication_instance_identifier:
      description: Identifier.
      returned: when present
      type: str
      sample: smartstream-dev-dms
    replication_instance_arn:
      description: ARN.
      returned: when present
      type: str
      sample: arn:aws:dms:eu-north-1:123456789012:rep:ABCDEFGHIJKLMNOP
    replication_instance_status:
      description: Status.
      returned: when present
      type: str
      sample: available
    replication_instance_class:
      description: Instance class.
      returned: when present
      type: str
      sample: dms.t3.medium
    publicly_accessible:
      description: Whether it has a public address.
      returned: when present
      type: bool
      sample: false
    tags:
      description: Tags.
      returned: when present
      type: dict
      sample: {"Project": "smartstream"}
"""


try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.dms import apply_tags, get_tags, identifier_problem
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import (
    WaitFailed,
    WaitTimeout,
    tag_changes,
    wait_for,
)

FAILED_STATES = ("failed", "incompatible-network", "inaccessible-encryption-credentials")


def describe(client, identifier):
    try:
        found = client.describe_replication_instances(
            aws_retry=True, Filters=[{"Name": "replication-instance-id", "Values": [identifier]}]
        )["ReplicationInstances"]
    except is_boto3_error_code("ResourceNotFoundFault"):
        return None
    return found[0] if found else None


def view(client, instance):
    if not instance:
        return {}
    out = camel_dict_to_snake_dict(instance)
    out["tags"] = get_tags(client, instance["ReplicationInstanceArn"])
    return out


def replacement_reasons(instance, params):
    """Settings that differ but cannot be modified in place."""
    reasons = []
    if bool(instance.get("PubliclyAccessible")) != params["publicly_accessible"]:
        reasons.append(f"publicly_accessible {instance.get('PubliclyAccessible')} -> {params['publicly_accessible']}")
    current_group = (instance.get("ReplicationSubnetGroup") or {}).get("ReplicationSubnetGroupIdentifier")
    if params["subnet_group"] and current_group != params["subnet_group"]:
        reasons.append(f"subnet_group {current_group} -> {params['subnet_group']}")
    if params["kms_key_id"] and instance.get("KmsKeyId") and not instance["KmsKeyId"].endswith(params["kms_key_id"]):
        reasons.append(f"kms_key_id {instance['KmsKeyId']} -> {params['kms_key_id']}")
    return reasons


def modifications(instance, params):
    """ModifyReplicationInstance arguments for the settings that differ ({} when none do)."""
    changes = {}
    if instance.get("ReplicationInstanceClass") != params["instance_class"]:
        changes["ReplicationInstanceClass"] = params["instance_class"]
    if instance.get("AllocatedStorage") != params["allocated_storage"]:
        changes["AllocatedStorage"] = params["allocated_storage"]
    if params["engine_version"] and instance.get("EngineVersion") != params["engine_version"]:
        changes["EngineVersion"] = params["engine_version"]
        changes["AllowMajorVersionUpgrade"] = params["allow_major_version_upgrade"]
    if bool(instance.get("MultiAZ")) != params["multi_az"]:
        changes["MultiAZ"] = params["multi_az"]
    if bool(instance.get("AutoMinorVersionUpgrade")) != params["auto_minor_version_upgrade"]:
        changes["AutoMinorVersionUpgrade"] = params["auto_minor_version_upgrade"]
    if params["security_group_ids"] is not None:
        current = sorted(g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups") or [])
        if current != sorted(params["security_group_ids"]):
            changes["VpcSecurityGroupIds"] = params["security_group_ids"]
    window = params["preferred_maintenance_window"]
    if window and (instance.get("PreferredMaintenanceWindow") or "").lower() != window.lower():
        changes["PreferredMaintenanceWindow"] = window
    return changes


def wait_available(module, client, identifier):
    return wait_for(
        lambda: describe(client, identifier),
        lambda i: i is not None and i["ReplicationInstanceStatus"] == "available",
        f"replication instance {identifier} to become available",
        timeout=module.params["wait_timeout"],
        delay=module.params["poll_interval"],
        failed=lambda i: (
            "it disappeared"
            if i is None
            else (
                f"status {i['ReplicationInstanceStatus']}" if i["ReplicationInstanceStatus"] in FAILED_STATES else None
            )
        ),
    )


def ensure_present(module, client, params):
    identifier = params["identifier"]
    instance = describe(client, identifier)
    if instance is None:
        if module.check_mode:
            return True, {}, {"replication_instance_identifier": identifier, "replication_instance_status": "creating"}
        request = {
            "ReplicationInstanceIdentifier": identifier,
            "ReplicationInstanceClass": params["instance_class"],
            "AllocatedStorage": params["allocated_storage"],
            "MultiAZ": params["multi_az"],
            "PubliclyAccessible": params["publicly_accessible"],
            "AutoMinorVersionUpgrade": params["auto_minor_version_upgrade"],
        }
        optional = {
            "EngineVersion": params["engine_version"],
            "ReplicationSubnetGroupIdentifier": params["subnet_group"],
            "VpcSecurityGroupIds": params["security_group_ids"],
            "KmsKeyId": params["kms_key_id"],
            "PreferredMaintenanceWindow": params["preferred_maintenance_window"],
        }
        request.update({k: v for k, v in optional.items() if v})
        if params["tags"]:
            request["Tags"] = ansible_dict_to_boto3_tag_list(params["tags"])
        client.create_replication_instance(aws_retry=True, **request)
        if params["wait"]:
            wait_available(module, client, identifier)
        return True, {}, view(client, describe(client, identifier))

    before = view(client, instance)
    reasons = replacement_reasons(instance, params)
    if reasons:
        module.fail_json(
            msg=f"Replication instance {identifier} requires replacement to change: {'; '.join(reasons)}. "
            "Delete it (state=absent) and create it again.",
            replication_instance=before,
        )
    changes = modifications(instance, params)
    to_set, to_remove = tag_changes(before["tags"], params["tags"], params["purge_tags"])
    changed = bool(changes or to_set or to_remove)
    if not changed or module.check_mode:
        return changed, before, before
    arn = instance["ReplicationInstanceArn"]
    if changes:
        if params["wait"] and instance["ReplicationInstanceStatus"] != "available":
            wait_available(module, client, identifier)
        client.modify_replication_instance(
            aws_retry=True, ReplicationInstanceArn=arn, ApplyImmediately=params["apply_immediately"], **changes
        )
    apply_tags(client, arn, to_set, to_remove)
    if changes and params["wait"]:
        wait_available(module, client, identifier)
    return True, before, view(client, describe(client, identifier))


def ensure_absent(module, client, params):
    identifier = params["identifier"]
    instance = describe(client, identifier)
    if instance is None:
        return False, {}, {}
    before = view(client, instance)
    # Already deleting: an earlier run asked; this one only waits (and changes nothing).
    deleting = instance["ReplicationInstanceStatus"] == "deleting"
    if not module.check_mode:
        if not deleting:
            try:
                client.delete_replication_instance(
                    aws_retry=True, ReplicationInstanceArn=instance["ReplicationInstanceArn"]
                )
            except is_boto3_error_code("InvalidResourceStateFault") as e:
                module.fail_json_aws(
                    e, msg=f"Replication instance {identifier} cannot be deleted now (tasks still use it?)"
                )
        if params["wait"]:
            wait_for(
                lambda: describe(client, identifier),
                lambda i: i is None,
                f"replication instance {identifier} to be deleted",
                timeout=params["wait_timeout"],
                delay=params["poll_interval"],
            )
    if deleting:
        return False, before, {} if params["wait"] and not module.check_mode else before
    return True, before, {}


def main():
    argument_spec = dict(
        identifier=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        instance_class=dict(type="str", default="dms.t3.medium"),
        allocated_storage=dict(type="int", default=50),
        engine_version=dict(type="str"),
        multi_az=dict(type="bool", default=False),
        subnet_group=dict(type="str"),
        security_group_ids=dict(type="list", elements="str"),
        kms_key_id=dict(type="str", no_log=False),
        publicly_accessible=dict(type="bool", default=False),
        auto_minor_version_upgrade=dict(type="bool", default=True),
        preferred_maintenance_window=dict(type="str"),
        apply_immediately=dict(type="bool", default=True),
        allow_major_version_upgrade=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        poll_interval=dict(type="int", default=15),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    problem = identifier_problem(params["identifier"], 63)
    if problem:
        module.fail_json(msg=problem)
    if not 5 <= params["allocated_storage"] <= 6144:
        module.fail_json(msg=f"allocated_storage {params['allocated_storage']}: 5-6144 GiB")
    if not params["instance_class"].startswith("dms."):
        module.fail_json(msg=f"instance_class '{params['instance_class']}': a DMS class such as dms.t3.medium")
    client = module.client("dms", retry_decorator=AWSRetry.jittered_backoff())
    try:
        if params["state"] == "present":
            changed, before, after = ensure_present(module, client, params)
        else:
            changed, before, after = ensure_absent(module, client, params)
    except (WaitTimeout, WaitFailed) as e:
        module.fail_json(msg=f"Replication instance {params['identifier']}: {e}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Replication instance {params['identifier']}: the AWS request failed")
    result = {"changed": changed, "replication_instance": after}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
