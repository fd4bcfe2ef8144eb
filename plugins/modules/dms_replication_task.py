#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: dms_replication_task
short_description: Manage an AWS DMS replication task and its run state
version_added: 0.1.0
description:
  - Create, modify or delete a DMS replication task, and start, stop, resume or reload it.
  - Table mappings and task settings are given as dictionaries and compared semantically (task settings on
    the keys given, since DMS fills in its defaults), never as strings.
  - Every run-state change describes the task first and branches on its status, so starting a running task
    is a no-op, a first start uses C(start-replication) and later starts C(resume-processing).
  - A change of mappings or settings on a running task stops it, modifies it and resumes it.
  - The endpoints, the replication instance and the migration type cannot be modified; a change to them is
    reported as requiring replacement, or the task is replaced when I(replace=true).
  - Waits go through the legitimate transitional states (creating, starting, modifying, stopping); a
    full-load-only task ends C(stopped) with the stop reason C(FULL_LOAD_ONLY_FINISHED), which counts as done.
author:
  - SmartStream platform team (@smartstream)
options:
  identifier:
    description: Identifier of the task (letters, digits, hyphens; starts with a letter).
    required: true
    type: str
  state:
    description: C(present) creates or modifies, C(absent) stops and deletes.
    choices: [present, absent]
    default: present
    type: str
  migration_type:
    description: What the task does.
    choices: [full-load, cdc, full-load-and-cdc]
    default: full-load-and-cdc
    type: str
  replication_instance_arn:
    description: ARN of the replication instance. Required with I(state=present).
    type: str
  source_endpoint_arn:
    description: ARN of the source endpoint. Required with I(state=present).
    type: str
  target_endpoint_arn:
    description: ARN of the target endpoint. Required with I(state=present).
    type: str
  table_mappings:
    description: Table mappings (C(rules)) as a dictionary. Required with I(state=present).
    type: dict
  task_settings:
    description: Task settings as a dictionary (only the keys given are managed).
    type: dict
  run_state:
    description:
      - C(started) runs the task (C(start-replication) the first time, C(resume-processing) afterwards; a running
        task or a finished full load is left alone).
      - C(resumed) resumes a stopped task and fails on a task that never ran.
      - C(stopped) stops a running task.
      - C(reloaded) reloads every table (C(reload-target)) and resumes change capture; it always acts.
      - Omitted leaves the run state as it is.
      - Given with only I(identifier) (no instance, endpoints, mappings, settings or tags), the module controls
        the run state of the existing task and changes nothing else (day-2 start, stop, resume, reload).
    choices: [started, stopped, resumed, reloaded]
    type: str
  replace:
    description: Replace the task (stop, delete, create) when its endpoints, instance or migration type change.
    type: bool
    default: false
  wait:
    description: Wait for the task to reach the state a change leads to.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each transition.
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
- name: Full load and CDC of the public.employees table, started
  smartstream.pipeline.dms_replication_task:
    identifier: smartstream-dev-cdc
    migration_type: full-load-and-cdc
    replication_instance_arn: "{{ instance_arn }}"
    source_endpoint_arn: "{{ source_arn }}"
    target_endpoint_arn: "{{ kinesis_arn }}"
    table_mappings:
      rules:
        - rule-type: selection
          rule-id: "1"
          rule-name: employees
          object-locator: {schema-name: public, table-name: employees}
          rule-action: include
    task_settings:
      Logging:
        EnableLogging: true
    run_state: started

- name: Stop it
  smartstream.pipeline.dms_replication_task:
    identifier: smartstream-dev-cdc
    replication_instance_arn: "{{ instance_arn }}"
    source_endpoint_arn: "{{ source_arn }}"
    target_endpoint_arn: "{{ kinesis_arn }}"
    table_mappings: "{{ mappings }}"
    run_state: stopped
"""

RETURN = r"""
replication_task:
  description: The task after the change (empty when absent), as DescribeReplicationTasks returns it, in snake case.
  returned: always
  type: dict
  contains:
    replication_task_identifier:
      description: Identifier.
      returned: when present
      type: str
      sample: smartstream-dev-cdc
    replication_task_arn:
      description: ARN.
      returned: when present
      type: str
      sample: arn:aws:dms:eu-north-1:123456789012:task:ABCDEFGHIJ
    status:
      description: Status (creating, ready, starting, running, stopping, stopped, failed, modifying, deleting).
      returned: when present
      type: str
      sample: running
    stop_reason:
      description: Why the task stopped.
      returned: when stopped
      type: str
      sample: Stop Reason FULL_LOAD_ONLY_FINISHED
    table_statistics:
      description: Per-table statistics (DescribeTableStatistics, snake case).
      returned: when present
      type: list
      elements: dict
      sample: [{"schema_name": "public", "table_name": "employees", "full_load_rows": 3, "table_state": "Table completed"}]
    tags:
      description: Tags.
      returned: when present
      type: dict
      sample: {"Project": "smartstream"}
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["stop", "modify", "resume-processing"]
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.dms import (
    apply_tags,
    describe_task,
    identifier_problem,
    task_view,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.dms_task_definition import IMMUTABLE, mutable_changes
from ansible_collections.smartstream.pipeline.plugins.module_utils.dms_task_lifecycle import (
    Runner,
    apply_run_state,
    control,
    control_only,
    create,
    delete,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import (
    WaitFailed,
    WaitTimeout,
    tag_changes,
    wait_for,
)


def ensure_present(runner, params):
    client, identifier = runner.client, params["identifier"]
    task = describe_task(client, identifier)
    before = task_view(client, task)
    busy = ("creating", "modifying", "starting", "stopping")
    if task is not None and task["Status"] in busy and params["wait"] and not runner.module.check_mode:
        runner.waited = True
        task = wait_for(
            lambda: describe_task(client, identifier),
            lambda t: t is not None and t["Status"] not in busy,
            f"task {identifier} to leave {task['Status']}",
            timeout=params["wait_timeout"],
            delay=params["poll_interval"],
        )
    if task is not None:
        replaced = [f"{key} {task.get(key)} -> {params[opt]}" for key, opt in IMMUTABLE if task.get(key) != params[opt]]
        if replaced:
            if not params["replace"]:
                runner.module.fail_json(
                    msg=f"Task {identifier} requires replacement to change {'; '.join(replaced)}: "
                    "run with replace=true to stop, delete and create it again",
                    replication_task=before,
                )
            delete(runner, task)
            task = None
    if task is None:
        create(runner, params)
        task = describe_task(client, identifier) if not runner.module.check_mode else None
        if task is None:  # check mode: a new task would be ready
            if params["run_state"] in ("started", "resumed", "reloaded"):
                runner.act("start-replication")
            return before
    else:
        changes = mutable_changes(task, params)
        if changes:
            was_running = task["Status"] == "running"
            if was_running:
                runner.stop(task)
            arn = task["ReplicationTaskArn"]
            runner.act(
                "modify", lambda: client.modify_replication_task(aws_retry=True, ReplicationTaskArn=arn, **changes)
            )
            runner.wait_idle()
            if was_running and params["run_state"] != "stopped":
                runner.start(task, "resume-processing")
            if not runner.module.check_mode:
                task = describe_task(client, identifier)
        to_set, to_remove = tag_changes(before.get("tags", {}), params["tags"], params["purge_tags"])
        arn = task["ReplicationTaskArn"]
        if to_set or to_remove:
            runner.act("tag", lambda: apply_tags(client, arn, to_set, to_remove))
    if not runner.module.check_mode or "modify" not in runner.actions:
        apply_run_state(runner, task, params["run_state"], identifier)
    return before


def validate(module, params):
    problem = identifier_problem(params["identifier"], 255)
    if problem:
        module.fail_json(msg=problem)
    if control_only(params):
        return
    if params["state"] == "present":
        missing = [
            k
            for k in ("replication_instance_arn", "source_endpoint_arn", "target_endpoint_arn", "table_mappings")
            if not params[k]
        ]
        if missing:
            module.fail_json(msg=f"state=present needs: {', '.join(missing)}")
        rules = params["table_mappings"].get("rules")
        if not isinstance(rules, list) or not rules:
            module.fail_json(msg="table_mappings needs a non-empty 'rules' list")


def main():
    argument_spec = dict(
        identifier=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        migration_type=dict(type="str", default="full-load-and-cdc", choices=["full-load", "cdc", "full-load-and-cdc"]),
        replication_instance_arn=dict(type="str"),
        source_endpoint_arn=dict(type="str"),
        target_endpoint_arn=dict(type="str"),
        table_mappings=dict(type="dict"),
        task_settings=dict(type="dict"),
        run_state=dict(type="str", choices=["started", "stopped", "resumed", "reloaded"]),
        replace=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        poll_interval=dict(type="int", default=15),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    validate(module, params)
    client = module.client("dms", retry_decorator=AWSRetry.jittered_backoff())
    runner = Runner(module, client)
    try:
        if control_only(params):
            before = control(runner, params)
        elif params["state"] == "present":
            before = ensure_present(runner, params)
        else:
            task = describe_task(client, params["identifier"])
            before = task_view(client, task)
            if task is not None:
                delete(runner, task)
        if params["state"] == "absent" and not module.check_mode:
            after = {}
        elif params["state"] == "present" and not control_only(params) and not runner.actions and not runner.waited:
            after = before  # nothing done and nothing waited for: the task as it was read
        else:
            after = task_view(client, describe_task(client, params["identifier"]))
    except (WaitTimeout, WaitFailed) as e:
        module.fail_json(msg=f"Task {params['identifier']}: {e}", actions=runner.actions)
    except is_boto3_error_code("InvalidResourceStateFault") as e:
        module.fail_json_aws(
            e,
            msg=f"Task {params['identifier']}: DMS refused the call in the task's current state",
            actions=runner.actions,
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Task {params['identifier']}: the AWS request failed", actions=runner.actions)
    if module.check_mode and params["state"] == "absent":
        after = {}
    result = {"changed": bool(runner.actions), "actions": runner.actions, "replication_task": after}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
