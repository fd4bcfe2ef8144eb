#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ec2_vpc_flow_log
short_description: Manage a VPC flow log delivered to a CloudWatch Logs log group
version_added: 0.1.0
description:
  - Create, replace or delete the flow log of a VPC, subnet or network interface that delivers to a
    CloudWatch Logs log group through an IAM role.
  - A flow log is identified by its resource and its log group. Its settings (role, traffic type,
    aggregation interval) cannot be changed in place by the API; when they differ the flow log is
    deleted and created again (it holds no data, the records are in the log group). Tags are updated in place.
  - No module of amazon.aws or community.aws 10 manages flow logs. Flow logs are created synchronously,
    so there is nothing to wait for.
author:
  - SmartStream platform team (@smartstream)
options:
  resource_id:
    description:
      - Id of the VPC, subnet or network interface whose traffic is logged.
    required: true
    type: str
  resource_type:
    description:
      - Type of O(resource_id).
    choices: [VPC, Subnet, NetworkInterface]
    default: VPC
    type: str
  log_group_name:
    description:
      - Name of the CloudWatch Logs log group the records go to (create it first, with its retention and key).
    required: true
    type: str
  deliver_logs_permission_arn:
    description:
      - ARN of the IAM role the flow-logs service assumes to write to the log group.
      - Required with O(state=present).
    type: str
  traffic_type:
    description:
      - Which traffic is logged.
    choices: [ALL, ACCEPT, REJECT]
    default: ALL
    type: str
  max_aggregation_interval:
    description:
      - Seconds over which a flow is aggregated into one record.
    choices: [60, 600]
    default: 600
    type: int
  state:
    description:
      - C(present) creates the flow log (or replaces it when its settings differ), C(absent) deletes it.
    choices: [present, absent]
    default: present
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Flow logs of the VPC, all traffic
  smartstream.pipeline.ec2_vpc_flow_log:
    resource_id: vpc-0123456789abcdef0
    log_group_name: /aws/vpc/smartstream-dev-flow-logs
    deliver_logs_permission_arn: arn:aws:iam::123456789012:role/smartstream-dev-flow-logs
    traffic_type: ALL
    tags:
      Project: smartstream

- name: Remove them
  smartstream.pipeline.ec2_vpc_flow_log:
    resource_id: vpc-0123456789abcdef0
    log_group_name: /aws/vpc/smartstream-dev-flow-logs
    state: absent
"""

RETURN = r"""
flow_log:
  description: The flow log after the change (empty when absent).
  returned: always
  type: dict
  contains:
    flow_log_id:
      description: Id of the flow log.
      returned: when present (not in check mode before creation)
      type: str
      sample: fl-0123456789abcdef0
    resource_id:
      description: The resource whose traffic is logged.
      returned: when present
      type: str
      sample: vpc-0123456789abcdef0
    log_group_name:
      description: The log group the records go to.
      returned: when present
      type: str
      sample: /aws/vpc/smartstream-dev-flow-logs
    deliver_logs_permission_arn:
      description: The role the service assumes to deliver.
      returned: when present
      type: str
      sample: arn:aws:iam::123456789012:role/smartstream-dev-flow-logs
    traffic_type:
      description: Which traffic is logged.
      returned: when present
      type: str
      sample: ALL
    max_aggregation_interval:
      description: Aggregation interval in seconds.
      returned: when present
      type: int
      sample: 600
    flow_log_status:
      description: Status of the flow log (ACTIVE).
      returned: when present (not in check mode before creation)
      type: str
      sample: ACTIVE
    deliver_logs_status:
      description: Whether delivery works (SUCCESS or FAILED, with deliver_logs_error_message).
      returned: when present (not in check mode before creation)
      type: str
      sample: SUCCESS
    tags:
      description: Tags of the flow log.
      returned: when present
      type: dict
      sample: {"Project": "smartstream"}
replaced_because:
  description: The settings that differed when an existing flow log was deleted and created again.
  returned: when the flow log was replaced
  type: list
  elements: str
  sample: ["traffic_type"]
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import tag_changes

# Settings the API cannot change on an existing flow log: (parameter, DescribeFlowLogs key).
IMMUTABLE = (
    ("deliver_logs_permission_arn", "DeliverLogsPermissionArn"),
    ("traffic_type", "TrafficType"),
    ("max_aggregation_interval", "MaxAggregationInterval"),
)


def find(client, resource_id, log_group_name):
    filters = [
        {"Name": "resource-id", "Values": [resource_id]},
        {"Name": "log-group-name", "Values": [log_group_name]},
    ]
    found = client.describe_flow_logs(aws_retry=True, Filters=filters)["FlowLogs"]
    # Only CloudWatch Logs flow logs of exactly this resource and group (the filters are the API's, checked again).
    found = [
        f
        for f in found
        if f.get("ResourceId") == resource_id
        and f.get("LogGroupName") == log_group_name
        and f.get("LogDestinationType", "cloud-watch-logs") == "cloud-watch-logs"
    ]
    return found[0] if found else None


def view(flow_log):
    if not flow_log:
        return {}
    out = {
        "resource_id": flow_log["ResourceId"],
        "log_group_name": flow_log["LogGroupName"],
        "deliver_logs_permission_arn": flow_log.get("DeliverLogsPermissionArn"),
        "traffic_type": flow_log.get("TrafficType"),
        "max_aggregation_interval": flow_log.get("MaxAggregationInterval"),
        "tags": boto3_tag_list_to_ansible_dict(flow_log.get("Tags", [])),
    }
    for key, name in (
        ("FlowLogId", "flow_log_id"),
        ("FlowLogStatus", "flow_log_status"),
        ("DeliverLogsStatus", "deliver_logs_status"),
        ("DeliverLogsErrorMessage", "deliver_logs_error_message"),
    ):
        if flow_log.get(key):
            out[name] = flow_log[key]
    return out


def wanted_view(params):
    return {
        "resource_id": params["resource_id"],
        "log_group_name": params["log_group_name"],
        "deliver_logs_permission_arn": params["deliver_logs_permission_arn"],
        "traffic_type": params["traffic_type"],
        "max_aggregation_interval": params["max_aggregation_interval"],
        "tags": params["tags"] or {},
    }


def create(client, params):
    kwargs = {
        "ResourceIds": [params["resource_id"]],
        "ResourceType": params["resource_type"],
        "TrafficType": params["traffic_type"],
        "LogDestinationType": "cloud-watch-logs",
        "LogGroupName": params["log_group_name"],
        "DeliverLogsPermissionArn": params["deliver_logs_permission_arn"],
        "MaxAggregationInterval": params["max_aggregation_interval"],
    }
    if params["tags"]:
        kwargs["TagSpecifications"] = [
            {"ResourceType": "vpc-flow-log", "Tags": [{"Key": k, "Value": v} for k, v in params["tags"].items()]}
        ]
    answer = client.create_flow_logs(aws_retry=True, **kwargs)
    problems = answer.get("Unsuccessful") or []
    if problems or not answer.get("FlowLogIds"):
        error = (problems[0] if problems else {}).get("Error", {})
        raise FlowLogRefused(f"{error.get('Code', '?')}: {error.get('Message', 'no flow log was created')}")


class FlowLogRefused(Exception):
    """CreateFlowLogs answered without error but created no flow log (its Unsuccessful list says why)."""


def ensure_present(client, module, params):
    current = find(client, params["resource_id"], params["log_group_name"])
    before = view(current)
    differs = [p for p, key in IMMUTABLE if current is not None and current.get(key) != params[p]]
    if current is None or differs:
        if module.check_mode:
            return True, before, wanted_view(params), differs
        if current is not None:
            client.delete_flow_logs(aws_retry=True, FlowLogIds=[current["FlowLogId"]])
        create(client, params)
        return True, before, view(find(client, params["resource_id"], params["log_group_name"])), differs

    current_tags = boto3_tag_list_to_ansible_dict(current.get("Tags", []))
    to_set, to_remove = tag_changes(current_tags, params["tags"], params["purge_tags"])
    if not (to_set or to_remove):
        return False, before, before, []
    if module.check_mode:
        tags = {k: v for k, v in current_tags.items() if k not in to_remove}
        tags.update(to_set)
        return True, before, {**before, "tags": tags}, []
    if to_remove:
        client.delete_tags(aws_retry=True, Resources=[current["FlowLogId"]], Tags=[{"Key": k} for k in to_remove])
    if to_set:
        client.create_tags(
            aws_retry=True, Resources=[current["FlowLogId"]], Tags=[{"Key": k, "Value": v} for k, v in to_set.items()]
        )
    return True, before, view(find(client, params["resource_id"], params["log_group_name"])), []


def ensure_absent(client, module, params):
    current = find(client, params["resource_id"], params["log_group_name"])
    if current is None:
        return False, {}, {}, []
    if not module.check_mode:
        client.delete_flow_logs(aws_retry=True, FlowLogIds=[current["FlowLogId"]])
    return True, view(current), {}, []


def main():
    argument_spec = dict(
        resource_id=dict(type="str", required=True),
        resource_type=dict(type="str", default="VPC", choices=["VPC", "Subnet", "NetworkInterface"]),
        log_group_name=dict(type="str", required=True),
        deliver_logs_permission_arn=dict(type="str"),
        traffic_type=dict(type="str", default="ALL", choices=["ALL", "ACCEPT", "REJECT"]),
        max_aggregation_interval=dict(type="int", default=600, choices=[60, 600]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "present", ["deliver_logs_permission_arn"])],
    )
    params = module.params
    what = f"flow log of {params['resource_id']} to {params['log_group_name']}"
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        if params["state"] == "present":
            changed, before, after, replaced = ensure_present(client, module, params)
        else:
            changed, before, after, replaced = ensure_absent(client, module, params)
    except FlowLogRefused as e:
        module.fail_json(msg=f"{what}: CreateFlowLogs refused it: {e}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"{what}: the AWS request failed")

    result = {"changed": changed, "flow_log": after}
    if replaced:
        result["replaced_because"] = replaced
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
