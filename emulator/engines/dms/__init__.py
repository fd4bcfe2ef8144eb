"""DMS engine: a running replication task replicates its PostgreSQL source into its Kinesis stream.

What it imitates (AWS DMS, PostgreSQL source without pglogical, Kinesis target):
- A task whose status is ``starting``/``running`` runs: its endpoints, instance
  and settings are read through the DMS API; the source's credentials from
  Secrets Manager AS SecretsManagerAccessRoleArn; records go to the stream AS
  the Kinesis endpoint's ServiceAccessRoleArn (DescribeStream at start,
  PutRecords, 500 records / 5 MB a call, failed records retried).
- TLS to PostgreSQL per the endpoint's SslMode (verify-ca/verify-full trust the
  local server's certificate, ``$SMARTSTREAM_RUN_DIR/tls/cert.pem``).
- Selection rules (include/exclude/explicit, ``%`` wildcards, exclude wins).
- A logical slot with ``test_decoding``: PostgreSQLSettings.SlotName, or a
  DMS-like generated name ``<task id>_<database oid>_<random>``; PluginName
  only ``test-decoding`` (pglogical is not installed: another plugin fails the task).
- MigrationType full-load (ends ``stopped``, FULL_LOAD_ONLY_FINISHED), cdc, and
  full-load-and-cdc with no gap (see ``task``): at least once, the slot's
  position confirmed only after Kinesis accepted the records.
- start-replication: a new slot, control records (``awsdms_apply_exceptions``,
  then create-table per table), full load, CDC. resume-processing: CDC from the
  slot's confirmed position (an unfinished load is finished first: its
  unfinished tables are loaded again). reload-target: a new slot (a named
  SlotName is kept), everything loaded again, then CDC. Stop: the run ends
  after its current batch; ``stopped`` once it has. Deleting a task (or a
  ``/moto-api/reset``) drops the slot it created.
- Records as DMS writes them (``records``), DescribeTableStatistics and
  ReplicationTaskStats with the real counts, CloudWatch metrics
  CDCLatencySource / CDCLatencyTarget / CDCIncomingChanges (``stats``).
- Failures (source unreachable, secret or stream denied, stream missing,
  retries exhausted, slot lost): the task goes ``failed`` with StopReason
  ``Stop Reason FATAL_ERROR`` and a LastFailureMessage in DMS's words.

Known gaps: no pglogical, no CdcStartPosition/CdcStartTime/CdcStopPosition, no
transformation or object-mapping rules (selection only), no LOB truncation
(LimitedSizeLobMode), no validation, no task logs in CloudWatch Logs;
unbounded NUMERIC is not rounded to NUMERIC(28,6); TRUNCATE is not replicated
(as DMS with test_decoding); DDL: create-table for a table first seen in CDC,
drop-table (IncludeTableAlterOperations) when a table of the task disappears
from the catalog, no add/drop/rename-column records; a transaction is held in
memory until its commit; partitioned tables are read as their leaf partitions. A full load whose
selection matches no table fails ("No tables were found at task initialization").
Tunables (environment): SMARTSTREAM_DMS_POLL_S (task discovery, 1 s),
SMARTSTREAM_DMS_IDLE_S (0.2 s), SMARTSTREAM_DMS_PEEK_CHANGES (5000),
SMARTSTREAM_DMS_METRICS_S (30 s), SMARTSTREAM_DMS_TARGET_RETRY_S (120 s).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from emulator.engines.dms.source import Source
from emulator.engines.dms.stats import TaskState
from emulator.engines.dms.task import TaskRunner
from emulator.engines.host import EngineHost
from emulator.patches import dms as dms_patch

ENGINE = "dms"
_CLIENT_TTL_S = 600
# One botocore session for all clients of the engine (and of its instances in one process).
_SESSION = boto3.session.Session()
_CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)


class DmsEngine:
    """Finds the running tasks and keeps one runner per task run."""

    def __init__(self, host: EngineHost):
        self.host, self.ctx = host, host.ctx
        self.log = host.logger(ENGINE)
        self.status = host.status(ENGINE)
        self.runners: dict[str, TaskRunner] = {}
        self.states: dict[str, TaskState] = {}
        self._opted_out: dict[str, bool] = {}
        self._stop: threading.Event = getattr(host, "_stop", None) or threading.Event()
        self._clients: dict[tuple[str, str, str | None], tuple[float, Any]] = {}
        self._clients_lock = threading.Lock()
        threading.Thread(target=self._watch, name="dms-watch", daemon=True).start()

    def client(self, service: str, region: str, role_arn: str | None = None, session: str = "dms") -> Any:
        """A client of the emulator (as ``role_arn`` if given), reused for ten minutes (making one is slow)."""
        key = (service, region, role_arn)
        with self._clients_lock:
            found = self._clients.get(key)
            if found is not None and time.monotonic() - found[0] < _CLIENT_TTL_S:
                return found[1]
        ctx = self.ctx
        creds = (
            ctx.assume(role_arn, session, region)  # AssumeRole, as the service does with the role it was given
            if role_arn
            else {"AccessKeyId": ctx.access_key, "SecretAccessKey": ctx.secret_key}
        )
        with self._clients_lock:
            # EngineContext.client makes a new session (parsing the service model again, ~0.5 s) per client.
            client = _SESSION.client(
                service,
                region_name=region,
                endpoint_url=ctx.endpoint_url,
                verify=ctx.ca_bundle if ctx.ca_bundle else False,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds.get("SessionToken"),
                config=_CLIENT_CONFIG,
            )
            self._clients[key] = (time.monotonic(), client)
        return client

    def stopped(self) -> bool:
        return self._stop.is_set()

    def alive(self) -> bool:
        return not self._stop.is_set()

    def _watch(self) -> None:
        self._stop.wait()
        for runner in list(self.runners.values()):
            runner.request_stop()

    def tick(self) -> None:
        for region in self.ctx.regions:
            try:
                tasks = []
                paginator = self.client("dms", region).get_paginator("describe_replication_tasks")
                for page in paginator.paginate():
                    tasks.extend(page.get("ReplicationTasks", []))
            except (ClientError, BotoCoreError) as exc:
                self.log.warning("describe_replication_tasks in %s: %s", region, exc)
                continue
            self._reconcile(region, tasks)

    def _reconcile(self, region: str, tasks: list[dict[str, Any]]) -> None:
        seen = set()
        for task in tasks:
            arn, status = task["ReplicationTaskArn"], task["Status"]
            seen.add(arn)
            runner = self.runners.get(arn)
            alive = runner is not None and runner.alive()
            runs, kind = dms_patch.run_request(arn)
            if status in ("starting", "running"):
                if runner is not None and runner.run_no == runs:
                    continue  # this run goes on, or has ended and said so
                if not self._serves(region, arn):
                    continue
                if alive:
                    runner.request_stop()  # an older run still winding down
                    continue
                with self._clients_lock:
                    self._clients.clear()  # a new run gets new clients (roles or credentials may have changed)
                state = self.states.setdefault(arn, TaskState(arn, region))
                runner = TaskRunner(self, region, task, runs, kind or "start-replication", state)
                self.runners[arn] = runner
                runner.start()
                self.status.action(f"started {task['ReplicationTaskIdentifier']} ({runner.kind})")
            elif status == "stopping":
                if alive:
                    runner.request_stop()
                else:
                    dms_patch.task_stopped(arn)
            elif alive:
                runner.request_stop()
        for arn in [a for a, s in self.states.items() if s.region == region and a not in seen]:
            self._forget(arn)
        for arn in [a for a in self._opted_out if a not in seen]:
            del self._opted_out[arn]

    def _serves(self, region: str, arn: str) -> bool:
        """Whether the engine replicates this task: not when the lifecycle patch's opt-out tag says so."""
        if arn not in self._opted_out:
            try:
                tags = self.client("dms", region).list_tags_for_resource(ResourceArn=arn).get("TagList", [])
            except (ClientError, BotoCoreError):
                return True
            self._opted_out[arn] = dms_patch.opted_out(tags)
        return not self._opted_out[arn]

    def _forget(self, arn: str) -> None:
        """A task that is gone (deleted, or the emulator was reset): stop it and drop its slot."""
        runner = self.runners.pop(arn, None)
        state = self.states.pop(arn)
        if runner is not None:
            runner.request_stop()
        threading.Thread(target=self._drop_slot, args=(runner, state), name="dms-drop-slot", daemon=True).start()

    def _drop_slot(self, runner: TaskRunner | None, state: TaskState) -> None:
        if runner is not None:
            runner.thread.join(30)
        if not state.slot_name or state.source is None or state.source.slot_name:
            return  # no slot, or one the endpoint named (SlotName): not ours to drop
        try:
            source = Source(state.source, [self.ctx.run_dir])
            with source.connect() as conn:
                dropped = source.drop_slot(conn, state.slot_name)
            self.log.info("task %s is gone: slot %s %s", state.arn, state.slot_name, "dropped" if dropped else "gone")
        except Exception as exc:  # the source may be gone too
            self.log.warning("task %s is gone: could not drop slot %s: %s", state.arn, state.slot_name, exc)


def install(host: EngineHost) -> None:
    engine = DmsEngine(host)
    dms_patch.attach_engine(engine.alive)
    host.every(ENGINE, float(os.environ.get("SMARTSTREAM_DMS_POLL_S", "1")), engine.tick)
