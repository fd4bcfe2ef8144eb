# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DMS replication task helpers shared by dms_replication_task and dms_replication_task_info."""

from __future__ import annotations

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

FULL_LOAD_FINISHED = "FULL_LOAD_ONLY_FINISHED"


def describe_task(client, identifier):
    try:
        found = client.describe_replication_tasks(
            aws_retry=True, Filters=[{"Name": "replication-task-id", "Values": [identifier]}]
        )["ReplicationTasks"]
    except is_boto3_error_code("ResourceNotFoundFault"):
        return None
    return found[0] if found else None


def table_statistics(client, task_arn):
    try:
        stats = client.describe_table_statistics(aws_retry=True, ReplicationTaskArn=task_arn)["TableStatistics"]
    except is_boto3_error_code(("ResourceNotFoundFault", "InvalidResourceStateFault")):
        return []
    return [camel_dict_to_snake_dict(s) for s in stats]


def task_view(client, task, with_statistics=True):
    """A task as the modules return it: DescribeReplicationTasks in snake case, with tags and table statistics."""
    if not task:
        return {}
    view = camel_dict_to_snake_dict(task)
    view["tags"] = {
        t["Key"]: t["Value"]
        for t in client.list_tags_for_resource(aws_retry=True, ResourceArn=task["ReplicationTaskArn"]).get(
            "TagList", []
        )
    }
    if with_statistics:
        view["table_statistics"] = table_statistics(client, task["ReplicationTaskArn"])
    return view


def finished_full_load(task):
    return task.get("Status") == "stopped" and FULL_LOAD_FINISHED in (task.get("StopReason") or "")
