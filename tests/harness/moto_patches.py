"""Named, documented patches of moto for the local emulator.

Each patch imitates one documented AWS behaviour that moto 5.2 lacks and that
the production code (or an amazon.aws / community.aws module it calls)
depends on. Patches are applied in-process by ``tests/harness/moto_server.py``
before the server starts, and by the unit tests that use moto's decorators.

Rules for adding one: keep it small, name it after the behaviour, say which
AWS documentation it follows, and add a unit test in
``tests/unit/test_moto_patches.py`` that fails without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from moto.rds import models as rds_models
from moto.rds import responses as rds_responses
from moto.rds.exceptions import DBParameterGroupNotFoundError

PATCHES: dict[str, Callable[[], None]] = {}


def _patch(func: Callable[[], None]) -> Callable[[], None]:
    PATCHES[func.__name__] = func
    return func


# --------------------------------------------------------------------------
# RDS engine-default parameters
# --------------------------------------------------------------------------
# AWS: a new DB parameter group already holds every parameter of its family
# with Source=engine-default and its metadata (ApplyType, DataType,
# AllowedValues, IsModifiable); DescribeDBParameters lists them all and
# DescribeEngineDefaultParameters returns them for a family. moto returns
# only the parameters a caller modified, without metadata, and has no
# DescribeEngineDefaultParameters, so amazon.aws.rds_instance_param_group
# reports every parameter as "not an available parameter".
#
# The catalogue holds the PostgreSQL parameters the platform sets or reads,
# with the metadata AWS documents for the postgres13..17 families.
_POSTGRES_DEFAULTS: list[dict[str, Any]] = [
    {
        "ParameterName": "rds.logical_replication",
        "ApplyType": "static",
        "DataType": "boolean",
        "AllowedValues": "0,1",
        "ParameterValue": "0",
        "Description": "Enables logical decoding.",
    },
    {
        "ParameterName": "rds.force_ssl",
        "ApplyType": "dynamic",
        "DataType": "boolean",
        "AllowedValues": "0,1",
        "ParameterValue": "0",
        "Description": "Force SSL connections.",
    },
    {
        "ParameterName": "max_replication_slots",
        "ApplyType": "static",
        "DataType": "integer",
        "AllowedValues": "5-8388607",
        "Description": "Sets the maximum number of replication slots.",
    },
    {
        "ParameterName": "max_wal_senders",
        "ApplyType": "static",
        "DataType": "integer",
        "AllowedValues": "5-8388607",
        "Description": "Sets the maximum number of simultaneously running WAL sender processes.",
    },
    {
        "ParameterName": "max_logical_replication_workers",
        "ApplyType": "static",
        "DataType": "integer",
        "AllowedValues": "0-262143",
        "Description": "Maximum number of logical replication worker processes.",
    },
    {
        "ParameterName": "wal_sender_timeout",
        "ApplyType": "dynamic",
        "DataType": "integer",
        "AllowedValues": "0-3600000",
        "ParameterValue": "30000",
        "Description": "Sets the maximum time to wait for WAL replication (ms).",
    },
    {
        "ParameterName": "shared_preload_libraries",
        "ApplyType": "static",
        "DataType": "list",
        "AllowedValues": "auto_explain,orafce,pg_cron,pg_hint_plan,pg_similarity,"
        "pg_stat_statements,pg_tle,pg_transport,plprofiler,pglogical",
        "ParameterValue": "pg_stat_statements",
        "Description": "Lists shared libraries to preload into server.",
    },
    {
        "ParameterName": "log_min_duration_statement",
        "ApplyType": "dynamic",
        "DataType": "integer",
        "AllowedValues": "-1-2147483647",
        "Description": "Sets the minimum execution time above which statements will be logged.",
    },
    {
        "ParameterName": "log_connections",
        "ApplyType": "dynamic",
        "DataType": "boolean",
        "AllowedValues": "0,1",
        "Description": "Logs each successful connection.",
    },
    {
        "ParameterName": "log_disconnections",
        "ApplyType": "dynamic",
        "DataType": "boolean",
        "AllowedValues": "0,1",
        "Description": "Logs end of a session, including duration.",
    },
    {
        "ParameterName": "idle_in_transaction_session_timeout",
        "ApplyType": "dynamic",
        "DataType": "integer",
        "AllowedValues": "0-2147483647",
        "Description": "Sets the maximum allowed duration of any idling transaction (ms).",
    },
]
_POSTGRES_FAMILIES = {f"postgres{v}" for v in range(13, 18)}


def engine_default_parameters(family: str) -> list[dict[str, Any]]:
    """The engine-default parameters of a family ([] for families not catalogued)."""
    if family not in _POSTGRES_FAMILIES:
        return []
    return [
        {**param, "Source": "engine-default", "IsModifiable": True, "ApplyMethod": "pending-reboot"}
        for param in _POSTGRES_DEFAULTS
    ]


@_patch
def rds_engine_default_parameters() -> None:
    """DescribeEngineDefaultParameters, and DescribeDBParameters listing defaults."""

    def describe_engine_default_parameters(self: Any) -> Any:
        family = self.params.get("DBParameterGroupFamily")
        return rds_responses.ActionResult(
            {"EngineDefaults": {"DBParameterGroupFamily": family, "Parameters": engine_default_parameters(family)}}
        )

    def describe_db_parameters(self: Any) -> Any:
        name = self.params.get("DBParameterGroupName")
        groups = self.backend.describe_db_parameter_groups({"db_parameter_group_name": name})
        if not groups:
            raise DBParameterGroupNotFoundError(name)
        group = groups[0]
        merged = {p["ParameterName"]: p for p in engine_default_parameters(group.family)}
        for user_param in group.parameters.values():
            base = merged.get(user_param["ParameterName"], {})
            merged[user_param["ParameterName"]] = {**base, **user_param, "Source": "user"}
        source = self.params.get("Source")
        params = [p for p in merged.values() if not source or p.get("Source") == source]
        return rds_responses.ActionResult({"Parameters": params})

    rds_responses.RDSResponse.describe_engine_default_parameters = describe_engine_default_parameters
    rds_responses.RDSResponse.describe_db_parameters = describe_db_parameters


@_patch
def rds_parameter_group_not_found() -> None:
    """DescribeDBParameterGroups of an unknown name raises DBParameterGroupNotFound.

    AWS answers DBParameterGroupNotFound; moto returns an empty list, which
    makes amazon.aws.rds_instance_param_group fail with an IndexError instead
    of creating the group.
    """
    original = rds_models.RDSBackend.describe_db_parameter_groups

    def describe_db_parameter_groups(self: Any, kwargs: dict[str, Any]) -> Any:
        found = original(self, kwargs)
        name = kwargs.get("db_parameter_group_name")
        if name and not found:
            raise DBParameterGroupNotFoundError(name)
        return found

    rds_models.RDSBackend.describe_db_parameter_groups = describe_db_parameter_groups


# --------------------------------------------------------------------------
# S3 bucket policies: transport conditions
# --------------------------------------------------------------------------
# AWS evaluates a bucket-policy statement only when its Condition matches the
# request. moto ignores conditions ("Conditions are not taken into account"),
# so the standard TLS-only statement (Deny s3:* when aws:SecureTransport is
# false) denies every object request, even one made over TLS. The harness
# serves the emulator over HTTPS only (TLS 1.2 or newer), so it knows the
# transport of every request: statements whose transport condition cannot
# match such a request are dropped before moto evaluates the policy.
# Statements with other condition keys keep moto's behaviour.
_TLS_REQUEST_CONTEXT: dict[str, Any] = {"aws:securetransport": True, "s3:tlsversion": 1.2}


def _condition_holds(operator: str, actual: Any, expected: Any) -> bool | None:
    """Whether one condition holds for the TLS request context; None when unknown."""
    values = expected if isinstance(expected, list) else [expected]
    op = operator.removesuffix("IfExists")
    if op == "Bool":
        return any(str(actual).lower() == str(v).lower() for v in values)
    numeric = {
        "NumericEquals": lambda a, b: a == b,
        "NumericNotEquals": lambda a, b: a != b,
        "NumericLessThan": lambda a, b: a < b,
        "NumericLessThanEquals": lambda a, b: a <= b,
        "NumericGreaterThan": lambda a, b: a > b,
        "NumericGreaterThanEquals": lambda a, b: a >= b,
    }
    if op in numeric:
        return any(numeric[op](float(actual), float(v)) for v in values)
    return None


def statement_applies_to_tls_request(statement: dict[str, Any]) -> bool:
    """False when a transport condition of the statement rules out a TLS 1.2+ request."""
    for operator, clauses in (statement.get("Condition") or {}).items():
        for key, expected in clauses.items():
            actual = _TLS_REQUEST_CONTEXT.get(key.lower())
            if actual is None:
                continue
            if _condition_holds(operator, actual, expected) is False:
                return False
    return True


@_patch
def s3_bucket_policy_transport_conditions() -> None:
    """Bucket policies: evaluate aws:SecureTransport and s3:TlsVersion conditions."""
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy)
        statements = policy.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        kept = [s for s in statements if statement_applies_to_tls_request(s)]
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**policy, "Statement": kept})).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission


# --------------------------------------------------------------------------
# EC2 tags: resource type of NAT gateways
# --------------------------------------------------------------------------
# AWS DescribeTags names the resource type of a NAT gateway "natgateway"
# (the documented value of the resource-type filter). moto reports
# "nat-gateway", so amazon.aws.ec2_vpc_nat_gateway, which filters tags by
# resource-type=natgateway, never finds its tags and re-tags on every run
# (a second converge reported changed).
@_patch
def ec2_nat_gateway_tag_resource_type() -> None:
    """DescribeTags reports NAT gateways with resource type natgateway."""
    from moto.ec2 import utils as ec2_utils

    ec2_utils.EC2_PREFIX_TO_RESOURCE["nat"] = "natgateway"


# --------------------------------------------------------------------------
# Athena work groups
# --------------------------------------------------------------------------
# AWS: GetWorkGroup of an unknown name raises InvalidRequestException
# ("WorkGroup <name> is not found."); moto answers {"WorkGroup": null}.
# AWS: UpdateWorkGroup applies ConfigurationUpdates (each setting given, and
# the Remove* flags clearing the output location, the encryption, the
# expected bucket owner, the ACL and the bytes-scanned cutoff), Description
# and State; moto has no UpdateWorkGroup at all.
@_patch
def athena_work_group_not_found() -> None:
    """GetWorkGroup of an unknown work group raises InvalidRequestException."""
    from moto.athena.responses import AthenaResponse

    original = AthenaResponse.get_work_group

    def get_work_group(self: Any) -> Any:
        name = self._get_param("WorkGroup")
        if self.athena_backend.get_work_group(name) is None:
            return self.error(f"WorkGroup {name} is not found.", 400)
        return original(self)

    AthenaResponse.get_work_group = get_work_group


@_patch
def athena_update_work_group() -> None:
    """UpdateWorkGroup with ConfigurationUpdates, the Remove* flags, Description and State."""
    from moto.athena.responses import AthenaResponse

    def update_work_group(self: Any) -> Any:
        name = self._get_param("WorkGroup")
        group = self.athena_backend.work_groups.get(name)
        if group is None:
            return self.error(f"WorkGroup {name} is not found.", 400)
        if self._get_param("Description") is not None:
            group.description = self._get_param("Description")
        if self._get_param("State"):
            group.state = self._get_param("State")
        updates = self._get_param("ConfigurationUpdates") or {}
        config = group.configuration
        for key in (
            "EnforceWorkGroupConfiguration",
            "PublishCloudWatchMetricsEnabled",
            "BytesScannedCutoffPerQuery",
            "RequesterPaysEnabled",
            "EngineVersion",
        ):
            if key in updates:
                config[key] = updates[key]
        if updates.get("RemoveBytesScannedCutoffPerQuery"):
            config.pop("BytesScannedCutoffPerQuery", None)
        result_updates = updates.get("ResultConfigurationUpdates") or {}
        result = config.setdefault("ResultConfiguration", {})
        for key in ("OutputLocation", "EncryptionConfiguration", "ExpectedBucketOwner", "AclConfiguration"):
            if key in result_updates:
                result[key] = result_updates[key]
            if result_updates.get(f"Remove{key}"):
                result.pop(key, None)
        return "{}"

    AthenaResponse.update_work_group = update_work_group


# --------------------------------------------------------------------------
# Glue crawlers: LastCrawl status names
# --------------------------------------------------------------------------
# AWS: GetCrawler's LastCrawl.Status is SUCCEEDED | CANCELLED | FAILED.
# moto reports its internal crawl states COMPLETED and STOPPED instead.
_CRAWL_STATUS = {"COMPLETED": "SUCCEEDED", "STOPPED": "CANCELLED"}


@_patch
def glue_last_crawl_status_names() -> None:
    """GetCrawler reports LastCrawl.Status as SUCCEEDED / CANCELLED / FAILED."""
    from moto.glue.models import FakeCrawler

    original = FakeCrawler.as_dict

    def as_dict(self: Any) -> dict[str, Any]:
        data = original(self)
        last = data.get("LastCrawl")
        if last and last.get("Status") in _CRAWL_STATUS:
            last["Status"] = _CRAWL_STATUS[last["Status"]]
        return data

    FakeCrawler.as_dict = as_dict


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
# DMS replication tasks: lifecycle
# --------------------------------------------------------------------------
# AWS: a task is "creating", then "ready"; StartReplicationTask's
# StartReplicationTaskType decides: start-replication for a first run only,
# resume-processing only for a task that ran before, reload-target reloads
# and resumes; a call in a wrong state raises InvalidResourceStateFault. The
# task passes through "starting", "stopping" and "modifying"; a full-load
# task ends "stopped" with StopReason FULL_LOAD_ONLY_FINISHED.
# ModifyReplicationTask needs the task not running. DescribeTableStatistics
# reports per-table counters.
# moto: a task stays "creating", the start type is ignored, there is no
# StopReason, no ModifyReplicationTask and no DescribeTableStatistics.
# Here each transitional state lasts DMS_TASK_TRANSITION_DESCRIBES describes.
DMS_TASK_TRANSITION_DESCRIBES = 2


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
        if task.migration_type == "full-load":
            task._pending = ("stopped", DMS_TASK_TRANSITION_DESCRIBES, "Stop Reason FULL_LOAD_ONLY_FINISHED")
        else:
            task._pending = ("running", DMS_TASK_TRANSITION_DESCRIBES, None)
        task.runs = getattr(task, "runs", 0) + 1
        return json.dumps({"ReplicationTask": task.to_dict()})

    def stop_replication_task(self: Any) -> str:
        task = task_of(self)
        if task.status != "running":
            raise InvalidResourceStateFault(f"Replication task is in state {task.status}, it is not running")
        task.status = "stopping"
        task._pending = ("stopped", DMS_TASK_TRANSITION_DESCRIBES, "Stop Reason NORMAL")
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
# Athena named queries: UpdateNamedQuery, DeleteNamedQuery
# --------------------------------------------------------------------------
# AWS: UpdateNamedQuery changes Name, Description and QueryString of a saved
# query (not its database or work group); DeleteNamedQuery removes it; both
# raise InvalidRequestException for an unknown id. DeleteWorkGroup with
# RecursiveDeleteOption removes the work group's saved queries too. moto
# implements none of this.
@_patch
def athena_named_query_update_delete() -> None:
    """UpdateNamedQuery, DeleteNamedQuery, and recursive DeleteWorkGroup removing saved queries."""
    from moto.athena.models import AthenaBackend
    from moto.athena.responses import AthenaResponse

    def _query(self: Any) -> Any:
        query_id = self._get_param("NamedQueryId")
        return query_id, self.athena_backend.named_queries.get(query_id)

    def update_named_query(self: Any) -> Any:
        query_id, query = _query(self)
        if query is None:
            return self.error(f"NamedQuery {query_id} was not found.", 400)
        query.name = self._get_param("Name")
        query.description = self._get_param("Description") or ""
        query.query_string = self._get_param("QueryString")
        return "{}"

    def delete_named_query(self: Any) -> Any:
        query_id, query = _query(self)
        if query is None:
            return self.error(f"NamedQuery {query_id} was not found.", 400)
        del self.athena_backend.named_queries[query_id]
        return "{}"

    original_delete = AthenaBackend.delete_work_group

    def delete_work_group(self: Any, name: str) -> Any:
        for query_id in [q.id for q in self.named_queries.values() if q.workgroup.name == name]:
            del self.named_queries[query_id]
        return original_delete(self, name)

    AthenaResponse.update_named_query = update_named_query
    AthenaResponse.delete_named_query = delete_named_query
    AthenaBackend.delete_work_group = delete_work_group


# --------------------------------------------------------------------------
# Athena: tags of an untagged work group
# --------------------------------------------------------------------------
# AWS: ListTagsForResource of an existing work group without tags returns an
# empty list. moto raises "Does Not Exist" unless the work group has tags.
@_patch
def athena_list_tags_untagged() -> None:
    """ListTagsForResource of an existing untagged work group returns no tags."""
    from moto.athena.models import AthenaBackend

    original = AthenaBackend.list_tags_for_resource

    def list_tags_for_resource(self: Any, resource_arn: str) -> Any:
        found = original(self, resource_arn)
        if found is None and any(g.arn == resource_arn for g in self.work_groups.values()):
            return {"Tags": []}
        return found

    AthenaBackend.list_tags_for_resource = list_tags_for_resource


# --------------------------------------------------------------------------
# Glue: UpdateCrawler
# --------------------------------------------------------------------------
# AWS: UpdateCrawler changes the given settings of a crawler (role, database,
# description, targets, schedule, table prefix, policies, configuration) and
# raises CrawlerRunningException while it crawls; an empty Schedule removes
# the schedule. moto does not implement it.
_CRAWLER_FIELDS = {
    "Role": "role",
    "DatabaseName": "database_name",
    "Description": "description",
    "Targets": "targets",
    "TablePrefix": "table_prefix",
    "SchemaChangePolicy": "schema_change_policy",
    "RecrawlPolicy": "recrawl_policy",
    "Configuration": "configuration",
    "Schedule": "schedule",
}


@_patch
def glue_update_crawler() -> None:
    """UpdateCrawler, refused while the crawler runs."""
    from moto.core.utils import utcnow
    from moto.glue.exceptions import CrawlerRunningException, EntityNotFoundException
    from moto.glue.responses import GlueResponse

    def update_crawler(self: Any) -> Any:
        name = self._get_param("Name")
        crawler = self.glue_backend.crawlers.get(name)
        if crawler is None:
            raise EntityNotFoundException(f"Crawler with name {name} does not exist")
        if crawler.status != "READY":
            raise CrawlerRunningException(f"Crawler with name {name} has already started")
        for key, attribute in _CRAWLER_FIELDS.items():
            value = self._get_param(key)
            if value is not None:
                setattr(crawler, attribute, value)
        crawler.version += 1
        crawler.last_updated = utcnow()
        return "{}"

    GlueResponse.update_crawler = update_crawler


# --------------------------------------------------------------------------
# S3: notification filter rules
# --------------------------------------------------------------------------
# AWS: PutBucketNotificationConfiguration takes filter rule names in any case
# (Prefix / prefix) and an empty value (which matches every key); reads
# return the names as Prefix / Suffix. moto asserts lower-case names and a
# non-empty value (500 otherwise), which community.aws.s3_bucket_notification
# (it always sends Prefix and Suffix, Suffix empty when none is set) trips.
_EMPTY = "__smartstream_empty_filter_value__"
_FILTER_NAMES = {"prefix": "Prefix", "suffix": "Suffix"}


def normalise_filter_xml(body: str) -> str:
    """Lower-case filter rule names and mark empty values, so moto's parser accepts them."""
    body = re.sub(
        r"<Name>\s*(Prefix|Suffix)\s*</Name>", lambda m: f"<Name>{m.group(1).lower()}</Name>", body, flags=re.I
    )
    return re.sub(r"<Value>\s*</Value>|<Value\s*/>", f"<Value>{_EMPTY}</Value>", body)


@_patch
def s3_notification_filter_rules() -> None:
    """Notification filter rules: names in any case, empty values, read back as Prefix / Suffix."""
    from moto.s3.models import Notification
    from moto.s3.responses import S3Response

    original = S3Response._notification_config_from_body

    def _notification_config_from_body(self: Any) -> Any:
        raw = self.body.decode() if isinstance(self.body, bytes) else self.body
        self.body = normalise_filter_xml(raw or "")
        config = original(self)
        for configs in (config or {}).values():
            for item in configs if isinstance(configs, list) else []:
                for rule in (item.get("Filter") or {}).get("S3Key", {}).get("FilterRule", []):
                    rule["Name"] = _FILTER_NAMES.get(rule["Name"].lower(), rule["Name"])
                    if rule["Value"] == _EMPTY:
                        rule["Value"] = ""
        return config

    def _key_matches(self: Any, key_name: str) -> bool:
        if "S3Key" not in self.filters:
            return True
        rules = {f["Name"].lower(): f["Value"] or "" for f in self.filters["S3Key"]["FilterRule"]}
        return key_name.startswith(rules.get("prefix", "")) and key_name.endswith(rules.get("suffix", ""))

    S3Response._notification_config_from_body = _notification_config_from_body
    Notification._key_matches = _key_matches


# --------------------------------------------------------------------------
# RDS: gp3 baseline performance
# --------------------------------------------------------------------------
# AWS: an RDS instance on gp3 storage reports its Iops and StorageThroughput;
# without provisioned values they are the baseline (below 400 GiB: 3000 IOPS
# and 125 MiB/s; from 400 GiB: 12000 IOPS and 500 MiB/s). moto reports
# neither, and amazon.aws.rds_instance fails with KeyError 'StorageThroughput'
# when it compares an existing gp3 instance.
def gp3_baseline(allocated_gib: int) -> tuple[int, int]:
    """(IOPS, MiB/s) of RDS gp3 storage without provisioned performance."""
    return (3000, 125) if allocated_gib < 400 else (12000, 500)


@_patch
def rds_gp3_baseline_performance() -> None:
    """DescribeDBInstances reports gp3 Iops and StorageThroughput (the baseline unless provisioned)."""
    from moto.rds.models import DBInstance

    prop = DBInstance.storage_throughput

    def getter(self: Any) -> Any:
        value = prop.fget(self)
        if value is None and self.storage_type == "gp3":
            return gp3_baseline(int(self.allocated_storage or 20))[1]
        return value

    DBInstance.storage_throughput = property(getter, prop.fset)
    original_init = DBInstance.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if self.storage_type == "gp3" and not self.iops:
            self.iops = gp3_baseline(int(self.allocated_storage or 20))[0]

    DBInstance.__init__ = __init__


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
# Lambda: dead-letter configuration
# --------------------------------------------------------------------------
# AWS: CreateFunction / UpdateFunctionConfiguration take DeadLetterConfig
# (TargetArn of an SQS queue or SNS topic) and GetFunction(Configuration)
# reports it. moto drops it, so amazon.aws.lambda re-sends it on every run
# (never idempotent).
@_patch
def lambda_dead_letter_config() -> None:
    """Functions keep and report their DeadLetterConfig."""
    from moto.awslambda.models import LambdaFunction

    original_init = LambdaFunction.__init__
    original_update = LambdaFunction.update_configuration
    original_get = LambdaFunction.get_configuration

    def __init__(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original_init(self, account_id, spec, *args, **kwargs)
        self.dead_letter_config = spec.get("DeadLetterConfig") or None

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> Any:
        if "DeadLetterConfig" in config_updates:
            self.dead_letter_config = config_updates["DeadLetterConfig"] or None
        return original_update(self, config_updates)

    def get_configuration(self: Any, *args: Any, **kwargs: Any) -> Any:
        config = original_get(self, *args, **kwargs)
        target = (getattr(self, "dead_letter_config", None) or {}).get("TargetArn")
        if target:
            config["DeadLetterConfig"] = {"TargetArn": target}
        return config

    LambdaFunction.__init__ = __init__
    LambdaFunction.update_configuration = update_configuration
    LambdaFunction.get_configuration = get_configuration


# --------------------------------------------------------------------------
# Glue: crawls finish
# --------------------------------------------------------------------------
# AWS: a crawl runs for a while, then ends (SUCCEEDED unless it fails). moto's
# default state-manager transition for glue::crawl is "manual", advanced by
# nothing, so a started crawl stays RUNNING forever. The harness default is a
# crawl of CRAWL_SECONDS; tests may still set another transition and unset
# it to come back to this default.
CRAWL_SECONDS = 2


@_patch
def glue_crawls_finish() -> None:
    """Crawls end CRAWL_SECONDS after they start (unless a test sets another transition)."""
    from moto.moto_api import state_manager

    state_manager.register_default_transition(
        model_name="glue::crawl", transition={"progression": "time", "seconds": CRAWL_SECONDS}
    )


# --------------------------------------------------------------------------
# Lambda: layers published by other accounts
# --------------------------------------------------------------------------
# AWS: a function may use a layer version of another account that shares it
# publicly, such as the managed AWS SDK for pandas layer
# (arn:aws:lambda:<region>:336392948345:layer:AWSSDKPandas-Python312:<n>).
# moto only knows layers published into itself and fails CreateFunction with
# ResourceNotFoundException. Well-formed layer version ARNs of another
# account are accepted as they are (size 0); unknown layers of the caller's
# own account still fail, as on AWS.
LAYER_VERSION_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:(\d{12}):layer:[A-Za-z0-9_-]+:\d+$")


def foreign_layer_version(arn: str, own_account: str) -> bool:
    """Whether ``arn`` is a well-formed layer version ARN of an account other than ``own_account``."""
    match = LAYER_VERSION_ARN.match(arn)
    return bool(match) and match.group(1) != own_account


@_patch
def lambda_public_layers() -> None:
    """CreateFunction / UpdateFunctionConfiguration accept layer versions shared by other accounts."""
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction._get_layers_data

    def _get_layers_data(self: Any, arns: list[str]) -> Any:
        foreign = [a for a in arns if foreign_layer_version(a, self.account_id)]
        own = original(self, [a for a in arns if a not in foreign])
        by_arn = {layer["Arn"]: layer for layer in own}
        by_arn.update({a: {"Arn": a, "CodeSize": 0} for a in foreign})
        return [by_arn[a] for a in arns if a in by_arn]

    LambdaFunction._get_layers_data = _get_layers_data


_APPLIED: list[str] = []


def apply_all() -> list[str]:
    """Apply every patch once; returns their names."""
    if not _APPLIED:
        for name, patch in PATCHES.items():
            patch()
            _APPLIED.append(name)
    return list(_APPLIED)
