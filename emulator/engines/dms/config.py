"""A task's configuration, read only through the AWS API: the task, its endpoints, instance and secret.

The source's credentials come from Secrets Manager, read AS the endpoint's
SecretsManagerAccessRoleArn (keys ``username``, ``password``, ``host``,
``port``, optionally ``dbname``), or from the endpoint's own
ServerName/Port/Username and the password DMS keeps (moto's endpoint object:
AWS never returns it). The target is the Kinesis stream of KinesisSettings,
written AS its ServiceAccessRoleArn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from emulator.engines.dms.records import RecordFormat


class TaskError(Exception):
    """A fatal error of a task: it ends ``failed`` with this message (DMS's LastFailureMessage)."""

    def __init__(self, summary: str, detail: str = "", code: int = 1020401):
        super().__init__(f"{summary}: {detail}" if detail else summary)
        self.summary, self.detail, self.code = summary, detail, code

    def failure_message(self) -> str:
        """As DMS shows it: ``Last Error <summary>. Task error notification received ... Stop Reason ...``."""
        detail = f" {self.detail}" if self.detail else ""
        return (
            f"Last Error {self.summary}. Task error notification received from subtask 0, thread 0 "
            f"[reptask/replicationtask.c:2883] [{self.code}]{detail} Stop Reason FATAL_ERROR Error Level FATAL"
        )


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def _flag(settings: dict[str, Any], name: str, default: bool = False) -> bool:
    value = settings.get(name, default)
    return value if isinstance(value, bool) else str(value).lower() == "true"


class Selector:
    """Selection rules of TableMappings: include/exclude, ``%`` wildcards; an exclude wins."""

    def __init__(self, table_mappings: str | None):
        self.include: list[tuple[re.Pattern[str], re.Pattern[str]]] = []
        self.exclude: list[tuple[re.Pattern[str], re.Pattern[str]]] = []
        rules = json.loads(table_mappings or "{}").get("rules", [])
        for rule in rules:
            if rule.get("rule-type") != "selection":
                continue
            locator = rule.get("object-locator", {})
            if locator.get("table-type", "table") not in ("table", "all"):
                continue
            pattern = (self._pattern(locator.get("schema-name", "%")), self._pattern(locator.get("table-name", "%")))
            action = rule.get("rule-action", "include")
            if action in ("include", "explicit"):
                self.include.append(pattern)
            elif action == "exclude":
                self.exclude.append(pattern)
        self._cache: dict[tuple[str, str], bool] = {}

    @staticmethod
    def _pattern(text: str) -> re.Pattern[str]:
        return re.compile(".*".join(re.escape(part) for part in str(text).split("%")), re.DOTALL)

    def __call__(self, schema: str, table: str) -> bool:
        key = (schema, table)
        found = self._cache.get(key)
        if found is None:
            found = any(s.fullmatch(schema) and t.fullmatch(table) for s, t in self.include) and not any(
                s.fullmatch(schema) and t.fullmatch(table) for s, t in self.exclude
            )
            self._cache[key] = found
        return found


@dataclass
class SourceConfig:
    host: str
    port: int
    dbname: str
    user: str
    password: str = field(repr=False)
    sslmode: str = "require"
    slot_name: str | None = None
    plugin: str = "test_decoding"
    heartbeat: bool = False
    heartbeat_minutes: int = 5
    # Reads the endpoint's secret again: (username, password) as they are now (DMS reads the secret at each
    # connection, so a rotated password is used from the next one on); None without a secret.
    credentials: Callable[[], tuple[str, str]] | None = field(default=None, repr=False, compare=False)


@dataclass
class TaskConfig:
    arn: str
    identifier: str
    task_id: str
    region: str
    migration_type: str
    selector: Selector
    settings: dict[str, Any]
    source: SourceConfig
    stream_arn: str
    target_role_arn: str
    instance_id: str
    format: RecordFormat


_SSLMODES = {"none": "disable", "require": "require", "verify-ca": "verify-ca", "verify-full": "verify-full"}


def read_task_config(engine: Any, region: str, task: dict[str, Any]) -> TaskConfig:
    """Everything a run needs, from describe calls (and the secret, as the endpoint's role).

    ``engine.client(service, region, role_arn=None, session=...)`` gives the clients.
    """
    dms = engine.client("dms", region)
    arn = task["ReplicationTaskArn"]

    def endpoint(endpoint_arn: str, what: str) -> dict[str, Any]:
        try:
            found = dms.describe_endpoints(Filters=[{"Name": "endpoint-arn", "Values": [endpoint_arn]}])["Endpoints"]
        except ClientError as exc:
            raise TaskError(f"Failed to read the {what} endpoint", _error_text(exc), 1020414) from None
        if not found:
            raise TaskError(f"The {what} endpoint does not exist", endpoint_arn, 1020414)
        return found[0]

    source = endpoint(task["SourceEndpointArn"], "source")
    target = endpoint(task["TargetEndpointArn"], "target")
    if source.get("EngineName") not in ("postgres", "aurora-postgresql"):
        raise TaskError("Unsupported source engine", str(source.get("EngineName")), 1020412)
    if target.get("EngineName") != "kinesis":
        raise TaskError("Unsupported target engine", str(target.get("EngineName")), 1020412)

    instance_id = task.get("ReplicationInstanceArn", "").split(":")[-1]
    try:
        instances = dms.describe_replication_instances(
            Filters=[{"Name": "replication-instance-arn", "Values": [task["ReplicationInstanceArn"]]}]
        )["ReplicationInstances"]
        if instances:
            instance_id = instances[0]["ReplicationInstanceIdentifier"]
    except (ClientError, KeyError):
        pass

    settings = json.loads(task.get("ReplicationTaskSettings") or "{}")
    kinesis = target.get("KinesisSettings") or {}
    pg = source.get("PostgreSQLSettings") or {}
    stream_arn = kinesis.get("StreamArn")
    role_arn = kinesis.get("ServiceAccessRoleArn") or target.get("ServiceAccessRoleArn")
    if not stream_arn or not role_arn:
        raise TaskError("The Kinesis endpoint has no StreamArn or ServiceAccessRoleArn", target["EndpointArn"], 1020412)
    before = settings.get("BeforeImageSettings") or {}
    parallel = (settings.get("TargetMetadata") or {}).get("ParallelApplyThreads") or 0
    task_id = arn.split(":")[-1]
    fmt = RecordFormat(
        task_id=task_id,
        message_format=str(kinesis.get("MessageFormat", "json")).lower().replace("_", "-"),
        include_transaction_details=_flag(kinesis, "IncludeTransactionDetails"),
        include_partition_value=_flag(kinesis, "IncludePartitionValue"),
        partition_include_schema_table=_flag(kinesis, "PartitionIncludeSchemaTable"),
        include_table_alter_operations=_flag(kinesis, "IncludeTableAlterOperations"),
        include_control_details=_flag(kinesis, "IncludeControlDetails"),
        include_null_and_empty=_flag(kinesis, "IncludeNullAndEmpty"),
        no_hex_prefix=_flag(kinesis, "NoHexPrefix"),
        map_boolean=_flag(pg, "MapBooleanAsBoolean"),
        before_image=_flag(before, "EnableBeforeImage"),
        before_image_field=before.get("FieldName") or "before-image",
        before_image_filter=before.get("ColumnFilter") or "pk-only",
        cdc_partition_by_key=int(parallel) > 0,
    )
    return TaskConfig(
        arn=arn,
        identifier=task["ReplicationTaskIdentifier"],
        task_id=task_id,
        region=region,
        migration_type=task.get("MigrationType", "full-load-and-cdc"),
        selector=Selector(task.get("TableMappings")),
        settings=settings,
        source=_source(engine, region, source, pg),
        stream_arn=stream_arn,
        target_role_arn=role_arn,
        instance_id=instance_id,
        format=fmt,
    )


def _source(engine: Any, region: str, endpoint: dict[str, Any], pg: dict[str, Any]) -> SourceConfig:
    secret: dict[str, Any] = {}
    secret_id = pg.get("SecretsManagerSecretId")
    if secret_id:
        role = pg.get("SecretsManagerAccessRoleArn")
        if not role:
            raise TaskError("SecretsManagerSecretId needs SecretsManagerAccessRoleArn", secret_id, 1020912)
        try:
            client = engine.client("secretsmanager", region, role, session="dms-source-secret")
            secret = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])
        except (ClientError, BotoCoreError) as exc:
            raise TaskError(
                "Failed to retrieve the source endpoint's credentials from AWS Secrets Manager",
                f"{secret_id} as {role}: {_error_text(exc)}",
                1020912,
            ) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise TaskError(
                "The source endpoint's secret is not a JSON object", f"{secret_id}: {exc}", 1020912
            ) from None
    credentials = None
    if secret_id:

        def credentials() -> tuple[str, str]:
            client = engine.client("secretsmanager", region, role, session="dms-source-secret")
            value = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])
            return str(value["username"]), str(value["password"])

    password = secret.get("password")
    if password is None:
        password = _endpoint_password(endpoint["EndpointArn"])
    host = secret.get("host") or endpoint.get("ServerName")
    port = secret.get("port") or endpoint.get("Port") or 5432
    dbname = pg.get("DatabaseName") or endpoint.get("DatabaseName") or secret.get("dbname")
    user = secret.get("username") or endpoint.get("Username")
    missing = [n for n, v in (("host", host), ("database name", dbname), ("user name", user)) if not v]
    if missing:
        raise TaskError("The source endpoint is incomplete", f"no {', '.join(missing)}", 1020412)
    plugin = str(pg.get("PluginName") or "test_decoding").lower().replace("-", "_")
    if plugin not in ("test_decoding", "no_preference"):
        raise TaskError(
            "Failed to create the replication slot",
            f"PluginName {pg.get('PluginName')}: only test_decoding is installed (pglogical is not)",
            1020101,
        )
    return SourceConfig(
        host=str(host),
        port=int(port),
        dbname=str(dbname),
        user=str(user),
        password=str(password or ""),
        sslmode=_SSLMODES.get(str(endpoint.get("SslMode") or "none").lower(), "prefer"),
        slot_name=pg.get("SlotName") or None,
        heartbeat=_flag(pg, "HeartbeatEnable"),
        heartbeat_minutes=int(pg.get("HeartbeatFrequency") or 5),
        credentials=credentials if secret.get("password") is not None else None,
    )


def _endpoint_password(endpoint_arn: str) -> str | None:
    """The password an endpoint was created with (DMS keeps it; the API never returns it)."""
    try:
        from moto.dms.models import dms_backends
    except ImportError:  # pragma: no cover
        return None
    parts = endpoint_arn.split(":")
    try:
        backend = dms_backends[parts[4]][parts[3]]
    except (IndexError, KeyError):
        return None
    for found in backend.endpoints.values():
        if found.endpoint_arn == endpoint_arn:
            return getattr(found, "password", None)
    return None
