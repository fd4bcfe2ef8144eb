"""Patches of moto's DMS for the local emulator (see emulator/README.md)."""

from __future__ import annotations

from typing import Any

from emulator.patches.registry import patch as _patch


# --------------------------------------------------------------------------
# DMS tags
# --------------------------------------------------------------------------
# AWS: AddTagsToResource / RemoveTagsFromResource tag any DMS resource by
# ARN (ListTagsForResource reads them). moto lists tags but cannot change
# them after creation.
@_patch
def dms_tag_resource() -> None:
    """AddTagsToResource and RemoveTagsFromResource for DMS resources."""
    from moto.dms.responses import DatabaseMigrationServiceResponse

    def add_tags_to_resource(self: Any) -> str:
        self.dms_backend.tagger.tag_resource(self._get_param("ResourceArn"), self._get_param("Tags") or [])
        return "{}"

    def remove_tags_from_resource(self: Any) -> str:
        self.dms_backend.tagger.untag_resource_using_names(
            self._get_param("ResourceArn"), self._get_param("TagKeys") or []
        )
        return "{}"

    DatabaseMigrationServiceResponse.add_tags_to_resource = add_tags_to_resource
    DatabaseMigrationServiceResponse.remove_tags_from_resource = remove_tags_from_resource


# --------------------------------------------------------------------------
# DMS ModifyEndpoint
# --------------------------------------------------------------------------
# AWS: ModifyEndpoint changes an endpoint in place; each *Settings given is
# merged into the current settings, or replaces them with ExactSettings=true.
# moto has no ModifyEndpoint.
_ENDPOINT_FIELDS = {
    "EndpointType": "endpoint_type",
    "EngineName": "engine_name",
    "Username": "username",
    "ServerName": "server_name",
    "Port": "port",
    "DatabaseName": "database_name",
    "ExtraConnectionAttributes": "extra_connection_attributes",
    "CertificateArn": "certificate_arn",
    "SslMode": "ssl_mode",
    "ServiceAccessRoleArn": "service_access_role_arn",
}
_ENDPOINT_SETTINGS = {
    "KinesisSettings": "kinesis_settings",
    "PostgreSQLSettings": "postgre_sql_settings",
    "S3Settings": "s3_settings",
    "KafkaSettings": "kafka_settings",
    "MySQLSettings": "my_sql_settings",
}


@_patch
def dms_modify_endpoint() -> None:
    """ModifyEndpoint, with the ExactSettings semantics of the *Settings structures."""
    import json

    from moto.dms.exceptions import ResourceNotFoundFault
    from moto.dms.responses import DatabaseMigrationServiceResponse

    def modify_endpoint(self: Any) -> str:
        params = json.loads(self.body)
        arn = params["EndpointArn"]
        endpoint = next((e for e in self.dms_backend.endpoints.values() if e.endpoint_arn == arn), None)
        if endpoint is None:
            raise ResourceNotFoundFault("Endpoint could not be found.")
        for api_name, attr in _ENDPOINT_FIELDS.items():
            if api_name in params:
                setattr(endpoint, attr, params[api_name])
        if "EndpointIdentifier" in params:
            endpoint.endpoint_identifier = params["EndpointIdentifier"]
        for api_name, attr in _ENDPOINT_SETTINGS.items():
            if api_name in params:
                current = getattr(endpoint, attr) or {}
                new = params[api_name] if params.get("ExactSettings") else {**current, **params[api_name]}
                setattr(endpoint, attr, new)
        return json.dumps({"Endpoint": endpoint.to_dict()})

    DatabaseMigrationServiceResponse.modify_endpoint = modify_endpoint


# --------------------------------------------------------------------------
# DMS replication subnet groups
# --------------------------------------------------------------------------
# AWS: a replication subnet group holds the subnets it was given (each with
# its availability zone, in one VPC, at least two zones); an unknown subnet is
# InvalidSubnet, too few zones ReplicationSubnetGroupDoesNotCoverEnoughAZs;
# ModifyReplicationSubnetGroup changes its description and subnets; a group an
# instance uses cannot be deleted (InvalidResourceStateFault).
# moto ignores the subnets (every group describes subnet-12345 in vpc-12345),
# has no ModifyReplicationSubnetGroup and deletes a group in use.
@_patch
def dms_replication_subnet_groups() -> None:
    """Subnet groups keep their subnets; ModifyReplicationSubnetGroup; no deletion while in use."""
    import json

    from moto.core.exceptions import JsonRESTError
    from moto.dms.exceptions import InvalidResourceStateFault, ResourceNotFoundFault
    from moto.dms.models import DatabaseMigrationServiceBackend as Backend
    from moto.dms.models import FakeReplicationSubnetGroup
    from moto.dms.responses import DatabaseMigrationServiceResponse
    from moto.ec2.models import ec2_backends

    create, delete = Backend.create_replication_subnet_group, Backend.delete_replication_subnet_group

    def resolved(backend: Any, subnet_ids: list[str]) -> tuple[str, list[dict[str, Any]]]:
        ec2 = ec2_backends[backend.account_id][backend.region_name]
        subnets = []
        for subnet_id in subnet_ids or []:
            found = _find_subnet(ec2, subnet_id)
            if found is None:
                raise JsonRESTError("InvalidSubnet", f"The subnet {subnet_id} does not exist.")
            subnets.append(found)
        if len({s.vpc_id for s in subnets}) > 1:
            raise JsonRESTError("InvalidSubnet", "The subnets of a replication subnet group must be in one VPC.")
        if len({s.availability_zone for s in subnets}) < 2:
            raise JsonRESTError(
                "ReplicationSubnetGroupDoesNotCoverEnoughAZs",
                "The replication subnet group does not cover enough Availability Zones (at least 2).",
            )
        described = [
            {
                "SubnetIdentifier": s.id,
                "SubnetAvailabilityZone": {"Name": s.availability_zone},
                "SubnetStatus": "Active",
            }
            for s in subnets
        ]
        return subnets[0].vpc_id, described

    def create_replication_subnet_group(self: Any, *args: Any, **kwargs: Any) -> Any:
        vpc_id, subnets = resolved(self, kwargs.get("subnet_ids") or [])
        group = create(self, *args, **kwargs)
        group.vpc_id, group.subnets = vpc_id, subnets
        return group

    def delete_replication_subnet_group(self: Any, replication_subnet_group_identifier: str) -> Any:
        users = [
            i.id
            for i in self.replication_instances.values()
            if i.replication_subnet_group_identifier == replication_subnet_group_identifier
        ]
        if users:
            raise InvalidResourceStateFault(
                f"Replication subnet group {replication_subnet_group_identifier} is in use by {', '.join(users)}."
            )
        return delete(self, replication_subnet_group_identifier)

    def modify_replication_subnet_group(self: Any) -> str:
        params = json.loads(self.body)
        group = self.dms_backend.replication_subnet_groups.get(params["ReplicationSubnetGroupIdentifier"])
        if group is None:
            raise ResourceNotFoundFault("Replication subnet group could not be found.")
        group.vpc_id, group.subnets = resolved(self.dms_backend, params.get("SubnetIds") or [])
        if "ReplicationSubnetGroupDescription" in params:
            group.description = params["ReplicationSubnetGroupDescription"]
        return json.dumps({"ReplicationSubnetGroup": group.to_dict()})

    to_dict = FakeReplicationSubnetGroup.to_dict

    def group_to_dict(self: Any) -> dict[str, Any]:
        described = to_dict(self)
        if hasattr(self, "subnets"):
            described.update(VpcId=self.vpc_id, Subnets=self.subnets)
        return described

    Backend.create_replication_subnet_group = create_replication_subnet_group
    Backend.delete_replication_subnet_group = delete_replication_subnet_group
    DatabaseMigrationServiceResponse.modify_replication_subnet_group = modify_replication_subnet_group
    FakeReplicationSubnetGroup.to_dict = group_to_dict


def _find_subnet(ec2: Any, subnet_id: str) -> Any:
    """moto's subnet ``subnet_id`` of an EC2 backend, or None."""
    for subnets in ec2.subnets.values():
        if subnet_id in subnets:
            return subnets[subnet_id]
    return None


# --------------------------------------------------------------------------
# DMS replication tasks: lifecycle
# --------------------------------------------------------------------------
# AWS: a task is "creating", then "ready"; StartReplicationTask's
# StartReplicationTaskType decides: start-replication for a first run only,
# resume-processing only for a task that ran before, reload-target reloads
# and resumes; a call in a wrong state raises InvalidResourceStateFault. The
# task passes through "starting", "stopping" and "modifying"; a full-load
# task ends "stopped" with StopReason FULL_LOAD_ONLY_FINISHED; a task that
# meets a fatal error ends "failed" with StopReason and LastFailureMessage.
# ModifyReplicationTask needs the task not running. DescribeTableStatistics
# reports per-table counters.
# moto: a task stays "creating", the start type is ignored, there is no
# StopReason, no ModifyReplicationTask and no DescribeTableStatistics.
# Here each transitional state lasts DMS_TASK_TRANSITION_DESCRIBES describes.
# When the DMS engine (emulator/engines/dms) is attached it does the work:
# a stopping task is "stopped" once the engine has stopped it, a full-load
# task ends when its load has ended, a failure is the engine's, and the
# statistics are the engine's counts (the helpers at the end of this file).
DMS_TASK_TRANSITION_DESCRIBES = 2
# Liveness checks of attached engines (attach_engine); empty: no engine.
_ENGINES: list[Any] = []


def attach_engine(alive: Any) -> None:
    """Hand the task lifecycle over to an engine while ``alive()`` is true."""
    _ENGINES[:] = [check for check in _ENGINES if check()] + [alive]


def engine_attached() -> bool:
    return any(check() for check in _ENGINES)


# A test control, like moto's state manager: a task tagged OPT_OUT_TAG=false is
# left to this patch alone even with an engine attached (module tests of the
# task lifecycle need no real source or stream).
OPT_OUT_TAG = "smartstream:emulator:replicate"


def opted_out(tags: list[dict[str, str]]) -> bool:
    return any(t.get("Key") == OPT_OUT_TAG and t.get("Value") == "false" for t in tags)


def _engine_runs(backend: Any, task: Any) -> bool:
    """Whether an attached engine runs ``task`` (and so decides when it stops)."""
    if not engine_attached():
        return False
    tags = backend.tagger.list_tags_for_resource(task.arn).get("Tags", [])
    return not opted_out(tags)


@_patch
def dms_replication_task_lifecycle() -> None:
    """Start types, transitional states, StopReason, ModifyReplicationTask, DescribeTableStatistics."""
    import json

    from moto.core.utils import utcnow
    from moto.dms.exceptions import InvalidResourceStateFault, ResourceNotFoundFault
    from moto.dms.models import DatabaseMigrationServiceBackend, FakeReplicationTask
    from moto.dms.responses import DatabaseMigrationServiceResponse

    def settle(task: Any) -> None:
        """Advance a transitional state by one describe."""
        pending = getattr(task, "_pending", None)
        if task.status == "creating" and pending is None:
            task._pending = ("ready", DMS_TASK_TRANSITION_DESCRIBES, None)
            pending = task._pending
        if pending is None:
            return
        target, left, reason = pending
        if left > 1:
            task._pending = (target, left - 1, reason)
            return
        task.status = target
        task._pending = None
        if reason is not None:
            task.stop_reason = reason
            task.stop_date = utcnow()

    original_describe = DatabaseMigrationServiceBackend.describe_replication_tasks

    def describe_replication_tasks(self: Any, filters: Any, max_records: Any) -> Any:
        tasks = list(original_describe(self, filters, max_records))
        for task in tasks:
            settle(task)
        return tasks

    original_to_dict = FakeReplicationTask.to_dict

    def to_dict(self: Any) -> dict[str, Any]:
        data = original_to_dict(self)
        if getattr(self, "stop_reason", None):
            data["StopReason"] = self.stop_reason
        if getattr(self, "last_failure_message", None):
            data["LastFailureMessage"] = self.last_failure_message
        stats = getattr(self, "engine_task_stats", None)
        if stats is not None:
            data["ReplicationTaskStats"] = dict(stats)
        return data

    def task_of(response: Any) -> Any:
        arn = json.loads(response.body)["ReplicationTaskArn"]
        task = response.dms_backend.replication_tasks.get(arn)
        if task is None:
            raise ResourceNotFoundFault("Replication task could not be found.")
        return task

    def start_replication_task(self: Any) -> str:
        params = json.loads(self.body)
        task = task_of(self)
        kind = params.get("StartReplicationTaskType", "start-replication")
        if task.status not in ("ready", "stopped", "failed"):
            raise InvalidResourceStateFault(f"Replication task is in state {task.status}, it cannot be started")
        ran_before = task.start_date is not None
        if kind == "start-replication" and ran_before:
            raise InvalidResourceStateFault(
                "start-replication is for a first run; use resume-processing or reload-target"
            )
        if kind in ("resume-processing", "reload-target") and not ran_before:
            raise InvalidResourceStateFault(f"{kind} needs a task that ran before; use start-replication")
        task.status = "starting"
        task.start_date = utcnow()
        task.stop_reason = None
        task.last_failure_message = None
        if task.migration_type == "full-load" and not _engine_runs(self.dms_backend, task):
            task._pending = ("stopped", DMS_TASK_TRANSITION_DESCRIBES, "Stop Reason FULL_LOAD_ONLY_FINISHED")
        else:
            task._pending = ("running", DMS_TASK_TRANSITION_DESCRIBES, None)
        task.runs = getattr(task, "runs", 0) + 1
        task.start_kind = kind
        return json.dumps({"ReplicationTask": task.to_dict()})

    def stop_replication_task(self: Any) -> str:
        task = task_of(self)
        if task.status != "running":
            raise InvalidResourceStateFault(f"Replication task is in state {task.status}, it is not running")
        task.status = "stopping"
        # With an engine, "stopped" comes when the engine has stopped the task (task_stopped).
        task._pending = (
            None
            if _engine_runs(self.dms_backend, task)
            else ("stopped", DMS_TASK_TRANSITION_DESCRIBES, "Stop Reason NORMAL")
        )
        return json.dumps({"ReplicationTask": task.to_dict()})

    def modify_replication_task(self: Any) -> str:
        params = json.loads(self.body)
        task = task_of(self)
        if task.status not in ("ready", "stopped", "failed"):
            raise InvalidResourceStateFault(f"Replication task is in state {task.status}; stop it before modifying")
        for key, attr in (
            ("TableMappings", "table_mappings"),
            ("ReplicationTaskSettings", "replication_task_settings"),
            ("MigrationType", "migration_type"),
        ):
            if key in params:
                setattr(task, attr, params[key])
        previous = task.status
        task.status = "modifying"
        task._pending = (previous, DMS_TASK_TRANSITION_DESCRIBES, getattr(task, "stop_reason", None))
        return json.dumps({"ReplicationTask": task.to_dict()})

    def describe_table_statistics(self: Any) -> str:
        task = task_of(self)
        reported = getattr(task, "engine_table_statistics", None)
        if reported is not None:
            return json.dumps({"ReplicationTaskArn": task.arn, "TableStatistics": list(reported)})
        rules = json.loads(task.table_mappings or "{}").get("rules", [])
        stats = []
        for rule in rules:
            locator = rule.get("object-locator", {})
            if rule.get("rule-type") != "selection" or rule.get("rule-action") != "include":
                continue
            stats.append(
                {
                    "SchemaName": locator.get("schema-name"),
                    "TableName": locator.get("table-name"),
                    "Inserts": 0,
                    "Deletes": 0,
                    "Updates": 0,
                    "Ddls": 0,
                    "FullLoadRows": 0,
                    "TableState": "Table completed" if task.start_date else "Before load",
                }
            )
        return json.dumps({"ReplicationTaskArn": task.arn, "TableStatistics": stats})

    DatabaseMigrationServiceBackend.describe_replication_tasks = describe_replication_tasks
    FakeReplicationTask.to_dict = to_dict
    DatabaseMigrationServiceResponse.start_replication_task = start_replication_task
    DatabaseMigrationServiceResponse.stop_replication_task = stop_replication_task
    DatabaseMigrationServiceResponse.modify_replication_task = modify_replication_task
    DatabaseMigrationServiceResponse.describe_table_statistics = describe_table_statistics


# --------------------------------------------------------------------------
# DMS: testing a connection again
# --------------------------------------------------------------------------
# AWS: TestConnection of an endpoint already tested from the instance runs a
# new test (status testing, then the result). moto fails with
# UnboundLocalError (a 500) the second time.
@_patch
def dms_test_connection_again() -> None:
    """TestConnection repeated for the same instance and endpoint starts a new test."""
    from moto.dms.models import DatabaseMigrationServiceBackend

    original = DatabaseMigrationServiceBackend.test_connection

    def test_connection(self: Any, replication_instance_arn: str, endpoint_arn: str) -> Any:
        self.connections = [
            c
            for c in self.connections
            if not (c.replication_instance_arn == replication_instance_arn and c.endpoint_arn == endpoint_arn)
        ]
        return original(self, replication_instance_arn, endpoint_arn)

    DatabaseMigrationServiceBackend.test_connection = test_connection


# --------------------------------------------------------------------------
# What the DMS engine tells the task (in-process: state DMS keeps inside)
# --------------------------------------------------------------------------
# These are not API calls: AWS DMS sets a task's status, StopReason,
# LastFailureMessage and statistics itself, and the engine that does DMS's
# work here sets them on moto's task object.
# --------------------------------------------------------------------------
# Slow mode (SMARTSTREAM_EMULATOR_SLOW, emulator/slow.py): replication instance times
# --------------------------------------------------------------------------
# AWS: a replication instance is ``creating`` ~8 min, then ``available``;
# DeleteReplicationInstance shows ``deleting`` for minutes, then it is gone.
# moto models creating -> available with its state manager (slow.configure
# sets a time transition); it forgets a deleted instance at once: here it is
# still described (``deleting``) for the scaled time.
@_patch
def dms_replication_instance_deleting_slow() -> None:
    """Slow mode: a deleted replication instance is described as deleting for the scaled time."""
    from moto.dms.exceptions import InvalidResourceStateFault
    from moto.dms.models import DatabaseMigrationServiceBackend as Backend

    from emulator import slow

    delete, describe = Backend.delete_replication_instance, Backend.describe_replication_instances

    def delete_replication_instance(self: Any, replication_instance_arn: str) -> Any:
        slow.prune(self.replication_instances)
        current = self.replication_instances.get(replication_instance_arn)
        if current is not None and slow.lingering(current):
            raise InvalidResourceStateFault(f"Replication instance {current.id} is being deleted.")
        instance = delete(self, replication_instance_arn)
        if slow.enabled():
            slow.linger(instance, slow.seconds("dms.deleting"))
            self.replication_instances[replication_instance_arn] = instance
        return instance

    def describe_replication_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
        slow.prune(self.replication_instances)
        return describe(self, *args, **kwargs)

    Backend.delete_replication_instance = delete_replication_instance
    Backend.describe_replication_instances = describe_replication_instances


def find_task(arn: str) -> Any:
    """moto's task object of ``arn`` (None when it is gone, e.g. deleted or after a reset)."""
    from moto.dms.models import dms_backends

    parts = arn.split(":")
    if len(parts) < 6:
        return None
    region, account = parts[3], parts[4]
    if account not in dms_backends or region not in dms_backends[account]:
        return None
    return dms_backends[account][region].replication_tasks.get(arn)


def run_request(arn: str) -> tuple[int, str | None]:
    """How many times the task was started, and the StartReplicationTaskType of the last start."""
    task = find_task(arn)
    if task is None:
        return 0, None
    return getattr(task, "runs", 0), getattr(task, "start_kind", None)


def task_stopped(arn: str, reason: str = "Stop Reason NORMAL") -> None:
    """The engine stopped the task (after StopReplicationTask, or a full load that ended)."""
    from moto.core.utils import utcnow

    task = find_task(arn)
    if task is not None and task.status in ("starting", "running", "stopping"):
        task.status, task._pending, task.stop_reason, task.stop_date = "stopped", None, reason, utcnow()


def task_failed(arn: str, message: str, reason: str = "Stop Reason FATAL_ERROR") -> None:
    """The engine met a fatal error: the task is "failed" with DMS's StopReason and LastFailureMessage."""
    from moto.core.utils import utcnow

    task = find_task(arn)
    if task is not None and task.status in ("starting", "running", "stopping"):
        task.status, task._pending, task.stop_reason, task.stop_date = "failed", None, reason, utcnow()
        task.last_failure_message = message


def report_statistics(arn: str, tables: list[dict[str, Any]], task_stats: dict[str, Any]) -> None:
    """DescribeTableStatistics' TableStatistics and DescribeReplicationTasks' ReplicationTaskStats."""
    task = find_task(arn)
    if task is not None:
        task.engine_table_statistics = tables
        task.engine_task_stats = task_stats
