"""Athena engine: StartQueryExecution runs the query (Trino SQL -> sqlglot -> DuckDB over the Glue tables).

AWS behaviour imitated: a query runs asynchronously in its work group
(QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED; StopQueryExecution
cancels), with the work group's ResultConfiguration when
EnforceWorkGroupConfiguration is true (else the request's over the work
group's): the result goes to ``<OutputLocation><QueryExecutionId>.csv`` plus
``.csv.metadata`` (DDL results: ``.txt``), put with the configured
encryption (SSE_S3 / SSE_KMS + key), expected owner and ACL; no output
location at all is refused as Athena refuses it. BytesScannedCutoffPerQuery:
a query that would scan more is CANCELLED with "Bytes scanned limit was
exceeded" (what Athena engine v3 reports), DataScannedInBytes = the cutoff.
The SQL (Athena engine v3 = Trino) is parsed and translated by sqlglot
(``unsupported_level=RAISE``: a gap fails as NOT_SUPPORTED; a parse error as
SYNTAX_ERROR line:col); tables resolve through Glue (context database or
``db.table``, ``awsdatacatalog`` catalog), views expand from their Presto view
text, data is read from S3 AS THE CALLER (the credentials of the
StartQueryExecution request: an assumed role's or IAM user's keys as moto
knows them, else the emulator's base identity), with partition pruning
(``catalog``): Parquet objects are fetched whole into a scratch folder laid out
as Hive partitions and read by DuckDB's own Parquet reader, columns read as
their Glue types; each object is authorised in this process as the
emulator's S3 decides the caller's GetObject (bucket policy, identity
policies, kms:Decrypt of SSE-KMS objects: ``authorise``) and its bytes come
from moto's S3 in this process (no HTTP request per object), kept across
queries by ETag (``storage``); what is not served so is a GetObject over
HTTP, which S3 fails as it refuses it;
JSON / CSV tables and tables over 1 GiB go through pyarrow datasets on
``pyarrow.fs.S3FileSystem``. A result of 1 MiB or more is put in-process too,
once a conditional PutObject as the caller has been authorised. GetQueryResults pages the
result (header row first for SELECT, MaxResults <= 1000, NextToken) with
ColumnInfo in Athena's type names; GetQueryExecution has the Status
(StateChangeReason, AthenaError) and Statistics (DataScannedInBytes,
EngineExecutionTimeInMillis, TotalExecutionTimeInMillis...). DDL: see ``ddl``.

How it hooks moto: AthenaResponse.start_query_execution / get_query_execution
/ get_query_results / stop_query_execution are replaced; the moto Execution
carries the engine's run (``execution.engine``). Queries run on 2 worker
threads. moto's canned-results queue (``/moto-api/static/athena/query-results``)
still wins: a query started while results are queued is not run, as in moto.

Known gaps: DataScannedInBytes counts whole files (Athena counts the Parquet
columns read); the cutoff is checked before the scan, not during it; Parquet
objects read are kept on local disk (2 GiB at most, least recently used out);
``.csv.metadata`` is JSON (Athena's is binary); the hidden columns of Hive
tables (``"$path"``...) are not read (NOT_SUPPORTED); INSERT INTO / CTAS / EXPLAIN /
UNLOAD / prepared statements are not run (NOT_SUPPORTED); Parquet column
names must match the Glue names in case; timestamps are read at microsecond
precision; Trino semantics DuckDB differs on (integer division...) follow
sqlglot, except the result types of ``trino_types`` and the functions of
``trino_functions`` (``format``); no CloudWatch metrics.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from emulator.engines.athena.execution import Run, execute, statement_type
from emulator.engines.host import EngineHost

NAME = "athena"
_WORKERS = 2
_TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
_state: dict[str, Any] = {"host": None, "pool": None}
_lock = threading.Lock()


def caller_credentials(account: str, access_key: str) -> dict[str, Any] | None:
    """The caller's full credentials from the access key of its request (None: the base identity)."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    try:
        for backend in sts_backends[account].values():
            role = backend.get_assumed_role_from_access_key(access_key)
            if role is not None:
                return {
                    "AccessKeyId": role.access_key_id,
                    "SecretAccessKey": role.secret_access_key,
                    "SessionToken": role.session_token,
                }
        for backend in iam_backends[account].values():
            user = backend.get_user_from_access_key_id(access_key)
            if user is not None:
                key = next(k for k in backend.list_access_keys(user.name) if k.access_key_id == access_key)
                return {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}
    except Exception:  # moto internals moved: fall back to the base identity
        return None
    return None


def _effective_config(group: Any, request: dict[str, Any] | None) -> dict[str, Any]:
    configuration = group.configuration if group else {}
    group_result = dict(configuration.get("ResultConfiguration") or {})
    if group and configuration.get("EnforceWorkGroupConfiguration", True):
        return group_result
    return {**group_result, **(request or {})}


def _execution_dict(execution: Any, run: Run) -> dict[str, Any]:
    status: dict[str, Any] = {"State": run.state, "SubmissionDateTime": run.submitted}
    if run.completed:
        status["CompletionDateTime"] = run.completed
    if run.reason:
        status["StateChangeReason"] = run.reason
    if run.error:
        status["AthenaError"] = run.error
    group = execution.workgroup
    engine = (group.configuration.get("EngineVersion") if group else None) or {
        "SelectedEngineVersion": "AUTO",
        "EffectiveEngineVersion": "Athena engine version 3",
    }
    return {
        "QueryExecutionId": execution.id,
        "Query": execution.query,
        "StatementType": statement_type(execution.query),
        "ResultConfiguration": {**run.result_config, "OutputLocation": run.output},
        "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
        "QueryExecutionContext": execution.context or {},
        "Status": status,
        "Statistics": run.statistics(),
        "WorkGroup": group.name if group else "primary",
        "EngineVersion": engine,
        **({"ExecutionParameters": execution.execution_parameters} if execution.execution_parameters else {}),
    }


def _run(execution: Any) -> None:
    host = _state["host"]
    run: Run = execution.engine
    log, status = host.logger(NAME), host.status(NAME)
    execute(host, run, log)
    execution.status = run.state
    status.count(f"queries_{run.state.lower()}")
    status.action(f"query {execution.id} {run.state} ({run.scanned} bytes scanned, {run.phases})")
    if run.state == "FAILED":
        status.error(f"query {execution.id}: {run.reason}")
    host.write_status(NAME)


def _hook_moto() -> None:
    from moto.athena.models import Execution
    from moto.athena.responses import AthenaResponse

    if getattr(AthenaResponse.start_query_execution, "_smartstream", False):
        return
    original_start = AthenaResponse.start_query_execution
    original_get = AthenaResponse.get_query_execution
    original_results = AthenaResponse.get_query_results
    original_stop = AthenaResponse.stop_query_execution

    def engine_on() -> bool:
        host = _state["host"]
        return host is not None and not host._stop.is_set()

    def start_query_execution(self: Any) -> Any:
        backend = self.athena_backend
        if not engine_on() or backend.query_results_queue:
            return original_start(self)
        name = self._get_param("WorkGroup") or "primary"
        group = backend.work_groups.get(name)
        if group is None:
            return self.error(f"WorkGroup {name} is not found.", 400)
        if group.state == "DISABLED":
            return self.error(f"WorkGroup {name} is disabled.", 400)
        config = _effective_config(group, self._get_param("ResultConfiguration"))
        if not config.get("OutputLocation"):
            return self.error(
                "No output location provided. An output location is required either through the "
                "Workgroup result configuration setting or as an API input.",
                400,
            )
        query, context = self._get_param("QueryString"), self._get_param("QueryExecutionContext") or {}
        exec_id = backend.start_query_execution(
            query=query,
            context=context,
            config=None,
            workgroup=name,
            execution_parameters=self._get_param("ExecutionParameters"),
        )
        execution = backend.executions[exec_id]
        suffix = ".csv" if statement_type(query) != "DDL" else ".txt"
        execution.engine = Run(
            query=query,
            database=(context.get("Database") or "default").lower(),
            output=config["OutputLocation"].rstrip("/") + f"/{exec_id}{suffix}",
            result_config=config,
            cutoff=group.configuration.get("BytesScannedCutoffPerQuery"),
            credentials=caller_credentials(backend.account_id, self.get_access_key()),
            region=backend.region_name,
            account=backend.account_id,
        )
        execution.config = {**config, "OutputLocation": execution.engine.output}
        _state["pool"].submit(_run, execution)
        return json.dumps({"QueryExecutionId": exec_id})

    def get_query_execution(self: Any) -> Any:
        exec_id = self._get_param("QueryExecutionId")
        execution = self.athena_backend.executions.get(exec_id)
        if execution is None:
            return self.error(f"QueryExecution {exec_id} was not found", 400)
        if getattr(execution, "engine", None) is None:
            return original_get(self)
        return json.dumps({"QueryExecution": _execution_dict(execution, execution.engine)})

    def get_query_results(self: Any) -> Any:
        exec_id = self._get_param("QueryExecutionId")
        execution = self.athena_backend.executions.get(exec_id)
        run = getattr(execution, "engine", None) if execution else None
        if run is None:
            return original_results(self)
        if run.state in ("QUEUED", "RUNNING"):
            return self.error(f"Query has not yet finished. Current state: {run.state}", 400)
        if run.state != "SUCCEEDED":
            return self.error(f"Query did not finish successfully. Final query state: {run.state}\n{run.reason}", 400)
        max_results = self._get_param("MaxResults")
        if max_results is not None and not 1 <= int(max_results) <= 1000:
            return self.error("MaxResults must be between 1 and 1000", 400)
        if run.result is None:
            return json.dumps({"ResultSet": {"Rows": [], "ResultSetMetadata": {"ColumnInfo": []}}, "UpdateCount": 0})
        return json.dumps(run.result.page(self._get_param("NextToken"), max_results))

    def stop_query_execution(self: Any) -> Any:
        exec_id = self._get_param("QueryExecutionId")
        execution = self.athena_backend.executions.get(exec_id)
        run = getattr(execution, "engine", None) if execution else None
        if run is None:
            return original_stop(self)
        if run.state not in _TERMINAL:
            run.state, run.reason = "CANCELLED", "Query cancelled by user"
            execution.status = "CANCELLED"
            connection = run.connection
            if connection is not None:
                connection.interrupt()
        return "{}"

    start_query_execution._smartstream = True  # type: ignore[attr-defined]
    AthenaResponse.start_query_execution = start_query_execution
    AthenaResponse.get_query_execution = get_query_execution
    AthenaResponse.get_query_results = get_query_results
    AthenaResponse.stop_query_execution = stop_query_execution

    base = Execution.status

    def get_status(self: Any) -> str | None:
        run = getattr(self, "engine", None)
        return run.state if run is not None else base.fget(self)

    def set_status(self: Any, value: str) -> None:
        run = getattr(self, "engine", None)
        if run is not None:
            run.state = value
        base.fset(self, value)

    Execution.status = property(get_status, set_status)


def install(host: EngineHost) -> None:
    """Hook moto's Athena: queries run on worker threads of this process."""
    with _lock:
        _state["host"] = host
        if _state["pool"] is None:
            _state["pool"] = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="athena-query")
        _hook_moto()
