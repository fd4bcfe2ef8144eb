#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: dms_replication_task_info
short_description: Read DMS replication tasks, their status, stop reason and table statistics
version_added: 0.1.0
description:
  - Describes one DMS replication task by identifier, or every task, with its status, stop reason, progress
    (C(ReplicationTaskStats)) and per-table statistics (C(DescribeTableStatistics)).
author:
  - SmartStream platform team (@smartstream)
options:
  identifier:
    description: Identifier of one task; omitted lists every task.
    type: str
  table_statistics:
    description: Read the per-table statistics of each task.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Status and table statistics of the CDC task
  smartstream.pipeline.dms_replication_task_info:
    identifier: smartstream-dev-cdc
  register: task

- name: Show it
  ansible.builtin.debug:
    msg: "{{ task.replication_tasks[0].status }} ({{ task.replication_tasks[0].stop_reason | default('running') }})"
"""

RETURN = r"""
replication_tasks:
  description: The tasks found (empty when none), as DescribeReplicationTasks returns them, in snake case.
  returned: always
  type: list
  elements: dict
  contains:
    replication_task_identifier:
      description: Identifier.
      returned: always
      type: str
      sample: smartstream-dev-cdc
    status:
      description: Status.
      returned: always
      type: str
      sample: running
    stop_reason:
      description: Why the task stopped.
      returned: when stopped
      type: str
      sample: Stop Reason NORMAL
    replication_task_stats:
      description: Progress of the task.
      returned: always
      type: dict
      sample: {"full_load_progress_percent": 100, "tables_loaded": 1}
    table_statistics:
      description: Per-table statistics.
      returned: when I(table_statistics=true)
      type: list
      elements: dict
      sample: [{"schema_name": "public", "table_name": "employees", "inserts": 3}]
    tags:
      description: Tags.
      returned: always
      type: dict
      sample: {"Project": "smartstream"}
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.dms import describe_task, task_view


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(identifier=dict(type="str"), table_statistics=dict(type="bool", default=True)),
        supports_check_mode=True,
    )
    client = module.client("dms", retry_decorator=AWSRetry.jittered_backoff())
    try:
        if module.params["identifier"]:
            task = describe_task(client, module.params["identifier"])
            tasks = [task] if task else []
        else:
            tasks = (
                client.get_paginator("describe_replication_tasks").paginate().build_full_result()["ReplicationTasks"]
            )
        views = [task_view(client, t, with_statistics=module.params["table_statistics"]) for t in tasks]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Could not describe the replication tasks")
    module.exit_json(changed=False, replication_tasks=views)


if __name__ == "__main__":
    main()
