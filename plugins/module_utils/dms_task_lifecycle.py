# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A DMS replication task's lifecycle: create, start, stop, delete, waiting between the calls.

Runner carries out the calls (or, in check mode, only records them); apply_run_state and control put a task
in the asked run state.
"""

from __future__ import annotations

import json

from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.smartstream.pipeline.plugins.module_utils.dms import (
    describe_task,
    finished_full_load,
    task_view,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import wait_for

IDLE = ("ready", "stopped", "failed")


class Runner:
    """Carries out (or, in check mode, records) the calls, waiting between them."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.actions = []
        # Whether the task was read again while waiting (it may differ from the first read).
        self.waited = False

    def act(self, name, call=None):
        self.actions.append(name)
        if call is not None and not self.module.check_mode:
            call()

    def wait(self, done, what, failed=None):
        if self.module.check_mode or not self.params["wait"]:
            return None
        self.waited = True
        return wait_for(
            lambda: describe_task(self.client, self.params["identifier"]),
            lambda t: t is not None and done(t),
            f"task {self.params['identifier']} {what}",
            timeout=self.params["wait_timeout"],
            delay=self.params["poll_interval"],
            failed=failed,
        )

    def wait_idle(self):
        return self.wait(
            lambda t: t["Status"] in IDLE,
            "to be idle (ready or stopped)",
            failed=lambda t: "it disappeared" if t is None else None,
        )

    def wait_running(self):
        def failed(t):
            if t is None:
                return "it disappeared"
            if t["Status"] == "failed":
                return t.get("LastFailureMessage") or "the task failed"
            if t["Status"] == "stopped" and not finished_full_load(t) and t.get("StopReason"):
                return f"it stopped: {t['StopReason']}"
            return None

        return self.wait(
            lambda t: t["Status"] == "running" or finished_full_load(t),
            "to run (or finish its full load)",
            failed=failed,
        )

    def start(self, task, kind):
        arn = task["ReplicationTaskArn"]
        self.act(
            kind,
            lambda: self.client.start_replication_task(
                aws_retry=True, ReplicationTaskArn=arn, StartReplicationTaskType=kind
            ),
        )
        self.wait_running()

    def stop(self, task):
        arn = task["ReplicationTaskArn"]
        self.act("stop", lambda: self.client.stop_replication_task(aws_retry=True, ReplicationTaskArn=arn))
        self.wait(lambda t: t["Status"] in ("stopped", "failed"), "to stop")


def create(runner, params):
    request = {
        "ReplicationTaskIdentifier": params["identifier"],
        "MigrationType": params["migration_type"],
        "ReplicationInstanceArn": params["replication_instance_arn"],
        "SourceEndpointArn": params["source_endpoint_arn"],
        "TargetEndpointArn": params["target_endpoint_arn"],
        "TableMappings": json.dumps(params["table_mappings"], sort_keys=True),
    }
    if params["task_settings"]:
        request["ReplicationTaskSettings"] = json.dumps(params["task_settings"], sort_keys=True)
    if params["tags"]:
        request["Tags"] = ansible_dict_to_boto3_tag_list(params["tags"])
    runner.act("create", lambda: runner.client.create_replication_task(aws_retry=True, **request))
    runner.wait_idle()


def delete(runner, task):
    if task["Status"] in ("running", "starting"):
        if task["Status"] == "starting":
            runner.wait_running()
        runner.stop(task)
    arn = task["ReplicationTaskArn"]
    runner.act("delete", lambda: runner.client.delete_replication_task(aws_retry=True, ReplicationTaskArn=arn))
    if not runner.module.check_mode and runner.params["wait"]:
        wait_for(
            lambda: describe_task(runner.client, runner.params["identifier"]),
            lambda t: t is None,
            f"task {runner.params['identifier']} to be deleted",
            timeout=runner.params["wait_timeout"],
            delay=runner.params["poll_interval"],
        )


def apply_run_state(runner, task, run_state, identifier):
    """Branch on the current status; returns nothing, records the actions."""
    if run_state is None or task is None:
        return
    status = task["Status"]
    ran_before = bool(task.get("ReplicationTaskStartDate")) or status in ("stopped", "failed")
    if run_state == "stopped":
        if status == "starting":
            runner.wait_running()
            status = "running"
        if status == "running":
            runner.stop(task)
        return
    if run_state == "reloaded":
        if status == "running":
            runner.stop(task)
        if not ran_before:
            runner.module.fail_json(
                msg=f"Task {identifier} never ran: reload needs a task that ran; use run_state=started"
            )
        runner.start(task, "reload-target")
        return
    # started / resumed
    if status in ("running", "starting"):
        if status == "starting":
            runner.wait_running()
        return
    if finished_full_load(task):
        return
    if not ran_before:
        if run_state == "resumed":
            runner.module.fail_json(msg=f"Task {identifier} never ran, so it cannot be resumed; use run_state=started")
        runner.start(task, "start-replication")
    else:
        runner.start(task, "resume-processing")


DEFINITION = ("replication_instance_arn", "source_endpoint_arn", "target_endpoint_arn", "table_mappings")


def control_only(params):
    """Only a run state is asked of an existing task: nothing of its definition is given."""
    return (
        params["state"] == "present"
        and params["run_state"] is not None
        and not any(params[k] for k in (*DEFINITION, "task_settings", "tags"))
    )


def control(runner, params):
    """Put an existing task in the asked run state, leaving its definition alone."""
    task = describe_task(runner.client, params["identifier"])
    if task is None:
        runner.module.fail_json(msg=f"Task {params['identifier']} does not exist: converge the ingestion layer first")
    before = task_view(runner.client, task)
    if task["Status"] in ("creating", "modifying", "starting", "stopping") and not runner.module.check_mode:
        task = runner.wait_idle() if task["Status"] != "starting" else task
    apply_run_state(runner, task, params["run_state"], params["identifier"])
    return before
