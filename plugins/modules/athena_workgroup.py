#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: athena_workgroup
short_description: Manage an Amazon Athena workgroup
version_added: 0.1.0
description:
  - Create, update or delete an Athena workgroup, with its query-result location and encryption, whether the
    workgroup's settings override the client's, the bytes-scanned cutoff per query, CloudWatch metrics,
    requester pays, its state (enabled or disabled), description and tags.
  - Updates go through C(UpdateWorkGroup) C(ConfigurationUpdates); clearing a setting uses the matching
    C(Remove*) flag, as the API requires. The name cannot change (a new name is a new workgroup).
  - No module of amazon.aws or community.aws manages Athena workgroups.
author:
  - SmartStream platform team (@smartstream)
options:
  name:
    description: Name of the workgroup (letters, digits, C(.), C(_), C(-); 1-128 characters).
    required: true
    type: str
  state:
    description: C(present) creates or updates, C(absent) deletes.
    choices: [present, absent]
    default: present
    type: str
  description:
    description: Description. Omitted leaves the current one.
    type: str
  enabled:
    description: Whether queries can run in the workgroup (C(ENABLED) / C(DISABLED)). Omitted leaves it.
    type: bool
  output_location:
    description:
      - S3 location of query results, for example C(s3://bucket/results/).
      - An empty string removes it. Omitted leaves it.
    type: str
  encryption:
    description:
      - Encryption of query results. C(none) removes it. Omitted leaves it.
    choices: [SSE_S3, SSE_KMS, CSE_KMS, none]
    type: str
  kms_key:
    description: KMS key (ARN or id) for C(SSE_KMS) and C(CSE_KMS).
    type: str
  enforce_workgroup_configuration:
    description: Whether the workgroup's settings override client-side settings. Omitted leaves it.
    type: bool
  publish_cloudwatch_metrics:
    description: Whether to publish query metrics to CloudWatch. Omitted leaves it.
    type: bool
  bytes_scanned_cutoff:
    description:
      - Upper limit of bytes a query may scan (at least 10000000); C(0) removes the limit. Omitted leaves it.
    type: int
  requester_pays:
    description: Whether queries may read requester-pays buckets. Omitted leaves it.
    type: bool
  recursive_delete:
    description: With I(state=absent), delete the workgroup's named queries and query history as well.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Workgroup enforcing results location and encryption, 10 GB cutoff
  smartstream.pipeline.athena_workgroup:
    name: smartstream-dev
    description: SmartStream analytics
    output_location: s3://smartstream-dev-athena-123456789012-eu-north-1/results/
    encryption: SSE_S3
    enforce_workgroup_configuration: true
    publish_cloudwatch_metrics: true
    bytes_scanned_cutoff: 10000000000
    tags:
      Project: smartstream

- name: Remove the cutoff
  smartstream.pipeline.athena_workgroup:
    name: smartstream-dev
    bytes_scanned_cutoff: 0

- name: Delete it with its saved queries
  smartstream.pipeline.athena_workgroup:
    name: smartstream-dev
    state: absent
    recursive_delete: true
"""

RETURN = r"""
workgroup:
  description: The workgroup after the change (empty when absent).
  returned: always
  type: dict
  contains:
    name:
      description: Name.
      returned: when present
      type: str
      sample: smartstream-dev
    arn:
      description: ARN of the workgroup.
      returned: when present
      type: str
      sample: arn:aws:athena:eu-north-1:123456789012:workgroup/smartstream-dev
    description:
      description: Description.
      returned: when present
      type: str
      sample: SmartStream analytics
    enabled:
      description: Whether queries can run.
      returned: when present
      type: bool
      sample: true
    output_location:
      description: S3 location of query results.
      returned: when present and set
      type: str
      sample: s3://bucket/results/
    encryption:
      description: Encryption of query results.
      returned: when present and set
      type: str
      sample: SSE_S3
    kms_key:
      description: KMS key of the encryption.
      returned: when set
      type: str
      sample: arn:aws:kms:eu-north-1:123456789012:key/abcd
    enforce_workgroup_configuration:
      description: Whether the workgroup's settings override the client's.
      returned: when present
      type: bool
      sample: true
    publish_cloudwatch_metrics:
      description: Whether query metrics go to CloudWatch.
      returned: when present
      type: bool
      sample: true
    bytes_scanned_cutoff:
      description: Upper limit of bytes a query may scan.
      returned: when set
      type: int
      sample: 10000000000
    requester_pays:
      description: Whether requester-pays buckets may be read.
      returned: when present
      type: bool
      sample: false
    tags:
      description: Tags.
      returned: when present
      type: dict
      sample: {"Project": "smartstream"}
"""

import re

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_message
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import tag_changes

NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
MIN_CUTOFF = 10_000_000


def get_workgroup(client, name):
    try:
        return client.get_work_group(aws_retry=True, WorkGroup=name)["WorkGroup"]
    except is_boto3_error_message("is not found"):
        return None


def workgroup_arn(client, account, name):
    return f"arn:{client.meta.partition}:athena:{client.meta.region_name}:{account}:workgroup/{name}"


def view(group, tags, arn):
    """The module's view of a workgroup (snake case, only what it manages)."""
    if not group:
        return {}
    config = group.get("Configuration", {})
    result = config.get("ResultConfiguration", {})
    encryption = result.get("EncryptionConfiguration") or {}
    out = {
        "name": group["Name"],
        "arn": arn,
        "description": group.get("Description") or "",
        "enabled": group.get("State", "ENABLED") == "ENABLED",
        "enforce_workgroup_configuration": bool(config.get("EnforceWorkGroupConfiguration", True)),
        "publish_cloudwatch_metrics": bool(config.get("PublishCloudWatchMetricsEnabled", False)),
        "requester_pays": bool(config.get("RequesterPaysEnabled", False)),
        "tags": tags,
    }
    if result.get("OutputLocation"):
        out["output_location"] = result["OutputLocation"]
    if encryption.get("EncryptionOption"):
        out["encryption"] = encryption["EncryptionOption"]
        if encryption.get("KmsKey"):
            out["kms_key"] = encryption["KmsKey"]
    if config.get("BytesScannedCutoffPerQuery"):
        out["bytes_scanned_cutoff"] = int(config["BytesScannedCutoffPerQuery"])
    return out


def desired_view(current, params, tags):
    """What the module's view will be once the parameters are applied."""
    want = dict(current)
    for key in (
        "description",
        "enabled",
        "enforce_workgroup_configuration",
        "publish_cloudwatch_metrics",
        "requester_pays",
    ):
        if params[key] is not None:
            want[key] = params[key]
    if params["output_location"] is not None:
        want.pop("output_location", None)
        if params["output_location"]:
            want["output_location"] = params["output_location"]
    if params["encryption"] is not None:
        want.pop("encryption", None)
        want.pop("kms_key", None)
        if params["encryption"] != "none":
            want["encryption"] = params["encryption"]
            if params["kms_key"]:
                want["kms_key"] = params["kms_key"]
    if params["bytes_scanned_cutoff"] is not None:
        want.pop("bytes_scanned_cutoff", None)
        if params["bytes_scanned_cutoff"]:
            want["bytes_scanned_cutoff"] = params["bytes_scanned_cutoff"]
    want["tags"] = tags
    return want


def create_request(want):
    config = {
        "EnforceWorkGroupConfiguration": want.get("enforce_workgroup_configuration", True),
        "PublishCloudWatchMetricsEnabled": want.get("publish_cloudwatch_metrics", False),
        "RequesterPaysEnabled": want.get("requester_pays", False),
    }
    result = {}
    if want.get("output_location"):
        result["OutputLocation"] = want["output_location"]
    if want.get("encryption"):
        result["EncryptionConfiguration"] = {"EncryptionOption": want["encryption"]}
        if want.get("kms_key"):
            result["EncryptionConfiguration"]["KmsKey"] = want["kms_key"]
    if result:
        config["ResultConfiguration"] = result
    if want.get("bytes_scanned_cutoff"):
        config["BytesScannedCutoffPerQuery"] = want["bytes_scanned_cutoff"]
    return config


def update_request(current, want):
    """UpdateWorkGroup arguments turning ``current`` into ``want``; {} when nothing differs."""
    updates, result = {}, {}
    for key, api in (
        ("enforce_workgroup_configuration", "EnforceWorkGroupConfiguration"),
        ("publish_cloudwatch_metrics", "PublishCloudWatchMetricsEnabled"),
        ("requester_pays", "RequesterPaysEnabled"),
    ):
        if want.get(key) != current.get(key):
            updates[api] = want[key]
    if want.get("output_location") != current.get("output_location"):
        if want.get("output_location"):
            result["OutputLocation"] = want["output_location"]
        else:
            result["RemoveOutputLocation"] = True
    if (want.get("encryption"), want.get("kms_key")) != (current.get("encryption"), current.get("kms_key")):
        if want.get("encryption"):
            result["EncryptionConfiguration"] = {"EncryptionOption": want["encryption"]}
            if want.get("kms_key"):
                result["EncryptionConfiguration"]["KmsKey"] = want["kms_key"]
        else:
            result["RemoveEncryptionConfiguration"] = True
    if result:
        updates["ResultConfigurationUpdates"] = result
    if want.get("bytes_scanned_cutoff") != current.get("bytes_scanned_cutoff"):
        if want.get("bytes_scanned_cutoff"):
            updates["BytesScannedCutoffPerQuery"] = want["bytes_scanned_cutoff"]
        else:
            updates["RemoveBytesScannedCutoffPerQuery"] = True
    request = {}
    if updates:
        request["ConfigurationUpdates"] = updates
    if want.get("description") != current.get("description"):
        request["Description"] = want["description"]
    if want.get("enabled") != current.get("enabled"):
        request["State"] = "ENABLED" if want["enabled"] else "DISABLED"
    return request


def validate(module, params):
    if not NAME.match(params["name"]):
        module.fail_json(msg=f"name '{params['name']}': letters, digits, '.', '_' and '-', 1-128 characters")
    cutoff = params["bytes_scanned_cutoff"]
    if cutoff is not None and cutoff != 0 and cutoff < MIN_CUTOFF:
        module.fail_json(
            msg=f"bytes_scanned_cutoff {cutoff}: at least {MIN_CUTOFF} (Athena's minimum), or 0 to remove it"
        )
    if params["kms_key"] and params["encryption"] not in ("SSE_KMS", "CSE_KMS"):
        module.fail_json(msg="kms_key needs encryption SSE_KMS or CSE_KMS")
    if params["encryption"] in ("SSE_KMS", "CSE_KMS") and not params["kms_key"]:
        module.fail_json(msg=f"encryption {params['encryption']} needs kms_key")
    if params["output_location"] and not params["output_location"].startswith("s3://"):
        module.fail_json(msg=f"output_location '{params['output_location']}': an s3:// location")


def ensure(module, client, account, params):
    name = params["name"]
    arn = workgroup_arn(client, account, name)
    group = get_workgroup(client, name)
    current_tags = {}
    if group is not None:
        current_tags = boto3_tag_list_to_ansible_dict(
            client.list_tags_for_resource(aws_retry=True, ResourceARN=arn).get("Tags", [])
        )
    current = view(group, current_tags, arn)

    if params["state"] == "absent":
        if group is None:
            return False, current, {}
        if not module.check_mode:
            client.delete_work_group(aws_retry=True, WorkGroup=name, RecursiveDeleteOption=params["recursive_delete"])
        return True, current, {}

    to_set, to_remove = tag_changes(current_tags, params["tags"], params["purge_tags"])
    tags = {k: v for k, v in current_tags.items() if k not in to_remove}
    tags.update(to_set)
    want = desired_view(current or {"name": name, "arn": arn}, params, tags)

    if group is None:
        if not module.check_mode:
            request = {"Name": name, "Configuration": create_request(want)}
            if want.get("description"):
                request["Description"] = want["description"]
            if tags:
                request["Tags"] = ansible_dict_to_boto3_tag_list(tags)
            client.create_work_group(aws_retry=True, **request)
            if want.get("enabled") is False:
                client.update_work_group(aws_retry=True, WorkGroup=name, State="DISABLED")
        return True, {}, want if module.check_mode else read(client, name, arn)

    request = update_request(current, want)
    changed = bool(request or to_set or to_remove)
    if changed and not module.check_mode:
        if request:
            client.update_work_group(aws_retry=True, WorkGroup=name, **request)
        if to_set:
            client.tag_resource(aws_retry=True, ResourceARN=arn, Tags=ansible_dict_to_boto3_tag_list(to_set))
        if to_remove:
            client.untag_resource(aws_retry=True, ResourceARN=arn, TagKeys=to_remove)
    return changed, current, want if module.check_mode or not changed else read(client, name, arn)


def read(client, name, arn):
    tags = boto3_tag_list_to_ansible_dict(
        client.list_tags_for_resource(aws_retry=True, ResourceARN=arn).get("Tags", [])
    )
    return view(get_workgroup(client, name), tags, arn)


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        description=dict(type="str"),
        enabled=dict(type="bool"),
        output_location=dict(type="str"),
        encryption=dict(type="str", choices=["SSE_S3", "SSE_KMS", "CSE_KMS", "none"]),
        kms_key=dict(type="str", no_log=False),
        enforce_workgroup_configuration=dict(type="bool"),
        publish_cloudwatch_metrics=dict(type="bool"),
        bytes_scanned_cutoff=dict(type="int"),
        requester_pays=dict(type="bool"),
        recursive_delete=dict(type="bool", default=False),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    validate(module, params)
    client = module.client("athena", retry_decorator=AWSRetry.jittered_backoff())
    try:
        account = module.client("sts").get_caller_identity()["Account"]
        changed, before, after = ensure(module, client, account, params)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Athena workgroup {params['name']}: the AWS request failed")
    result = {"changed": changed, "workgroup": after}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
