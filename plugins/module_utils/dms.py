# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DMS helpers shared by the dms_* modules: identifiers, tags, replication task views."""

from __future__ import annotations

import re

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)

FULL_LOAD_FINISHED = "FULL_LOAD_ONLY_FINISHED"
IDENTIFIER_RULE = "letters, digits and single hyphens, starting with a letter, not ending with a hyphen"


def identifier_problem(identifier, max_length):
    """Why a DMS identifier is invalid (None when it is valid)."""
    if re.match(rf"^[A-Za-z](?!.*--)[A-Za-z0-9-]{{0,{max_length - 1}}}(?<!-)$", identifier):
        return None
    return f"identifier '{identifier}': {IDENTIFIER_RULE}, 1-{max_length} characters"


def get_tags(client, arn):
    """Tags of a DMS resource as a dict."""
    return boto3_tag_list_to_ansible_dict(
        client.list_tags_for_resource(aws_retry=True, ResourceArn=arn).get("TagList", [])
    )


def apply_tags(client, arn, to_set, to_remove):
    """Add and remove tags of a DMS resource (the output of tag_changes)."""
    if to_set:
        client.add_tags_to_resource(aws_retry=True, ResourceArn=arn, Tags=ansible_dict_to_boto3_tag_list(to_set))
    if to_remove:
        client.remove_tags_from_resource(aws_retry=True, ResourceArn=arn, TagKeys=to_remove)


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
