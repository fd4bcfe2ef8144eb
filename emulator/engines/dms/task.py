"""One run of one replication task: slot, control records, full load, then CDC until stopped.

Consistency (full load + CDC, no gap): the slot is created first
(``pg_create_logical_replication_slot`` returns once every transaction
running at that moment has ended), then the tables are read in one
REPEATABLE READ snapshot taken after it. A change committed between the
two is both in the load and in the slot: it may repeat, never be lost.

CDC: ``pg_logical_slot_peek_changes`` reads whole transactions after the
slot's confirmed position (a few thousand changes a pass); their records go
to Kinesis 500 at a time; ``pg_replication_slot_advance`` moves the
confirmed position to a transaction's commit only once Kinesis accepted
every record up to it. A failure before that leaves the position where it
was, so the next run reads those changes again.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from emulator.engines.dms.config import TaskConfig, TaskError, read_task_config
from emulator.engines.dms.decoding import UNCHANGED_TOAST, Change, parse_change, parse_commit, parse_header
from emulator.engines.dms.records import APPLY_EXCEPTIONS, Table, dms_lsn, iso_utc, lsn_int
from emulator.engines.dms.source import Source
from emulator.engines.dms.stats import TaskState, put_metrics
from emulator.engines.dms.target import Interrupted, KinesisWriter
from emulator.patches import dms as dms_patch

PEEK_CHANGES = int(os.environ.get("SMARTSTREAM_DMS_PEEK_CHANGES", "5000"))
FLUSH_RECORDS = 2000
IDLE_S = float(os.environ.get("SMARTSTREAM_DMS_IDLE_S", "0.2"))
METRICS_S = float(os.environ.get("SMARTSTREAM_DMS_METRICS_S", "30"))
TARGET_RETRY_S = float(os.environ.get("SMARTSTREAM_DMS_TARGET_RETRY_S", "120"))
DDL_CHECK_S = 5.0
_OPS = {"INSERT": "insert", "UPDATE": "update", "DELETE": "delete"}
_COUNTERS = {"insert": "inserts", "update": "updates", "delete": "deletes"}


def _now() -> str:
    return iso_utc(datetime.now(UTC))


class TaskRunner:
    """A thread doing one run (one StartReplicationTask) of a task."""

    def __init__(self, engine: Any, region: str, task: dict[str, Any], run_no: int, kind: str, state: TaskState):
        self.engine, self.ctx, self.log = engine, engine.ctx, engine.log
        self.region, self.task, self.run_no, self.kind, self.state = region, task, run_no, kind, state
        self.arn = task["ReplicationTaskArn"]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._main, name=f"dms-{task['ReplicationTaskIdentifier']}", daemon=True)
        self.tables: dict[tuple[str, str], Table] = {}
        self.aux: Any = None
        self.conns: list[Any] = []

    def start(self) -> None:
        self.thread.start()

    def request_stop(self) -> None:
        self.stop.set()

    def alive(self) -> bool:
        return self.thread.is_alive()

    # -- the run -----------------------------------------------------------------------------------
    def _main(self) -> None:
        name = self.task["ReplicationTaskIdentifier"]
        self.state.start, self.state.stop = time.time(), None
        self.log.info("task %s: run %d (%s) starts", name, self.run_no, self.kind)
        try:
            cfg = read_task_config(self.engine, self.region, self.task)
            ended = self._run(cfg)
            self.state.stop = time.time()
            self.state.report(force=True)
            if not self.engine.stopped():
                dms_patch.task_stopped(self.arn, ended)
            self.log.info("task %s: %s", name, ended)
        except Interrupted:
            self.state.stop = time.time()
            self.state.report(force=True)
            if not self.engine.stopped():
                dms_patch.task_stopped(self.arn)
            self.log.info("task %s: stopped", name)
        except TaskError as exc:
            self._fail(name, exc)
        except Exception as exc:  # a bug or the unexpected: the task fails, the emulator goes on
            self.log.exception("task %s: internal error", name)
            self._fail(name, TaskError("Internal error of the DMS emulator", f"{type(exc).__name__}: {exc}", 1020199))
        finally:
            for conn in self.conns:
                with contextlib.suppress(Exception):  # closing is best effort
                    conn.close()

    def _fail(self, name: str, exc: TaskError) -> None:
        self.state.stop = time.time()
        self.state.report(force=True)
        self.log.error("task %s failed: %s", name, exc)
        self.engine.status.error(f"task {name}: {exc}")
        self.engine.status.count("tasks_failed")
        dms_patch.task_failed(self.arn, exc.failure_message())

    def _run(self, cfg: TaskConfig) -> str:
        self.cfg, self.fmt = cfg, cfg.format
        self.writer = KinesisWriter(
            lambda: self.engine.client("kinesis", self.region, cfg.target_role_arn, session="dms-kinesis-target"),
            cfg.stream_arn,
            self.stop,
            TARGET_RETRY_S,
            self.log,
        )
        self.writer.check()
        self.source = Source(cfg.source, [self.ctx.run_dir])
        conn = self._connect()
        self.state.source = cfg.source
        tables = self.source.tables(conn, cfg.selector)
        if not tables and cfg.migration_type != "cdc":
            raise TaskError(
                "No tables were found at task initialization",
                "Either the selected table(s) or schema(s) no longer exist or no table(s)/schema(s) match the"
                " selection criteria.",
                1020431,
            )
        self.tables = {(t.schema, t.name): t for t in tables}
        fresh = self.kind in ("start-replication", "reload-target")
        if fresh:
            self.state.fresh(reload=self.kind == "reload-target")
        for table in tables:
            self.state.table(table.schema, table.name)
        cdc = cfg.migration_type in ("cdc", "full-load-and-cdc")
        slot = self._slot(conn, fresh) if cdc else None
        if fresh:
            self._control("create-table", APPLY_EXCEPTIONS)
            if cfg.migration_type == "cdc":
                for table in tables:
                    self._control("create-table", table)
        if cfg.migration_type != "cdc" and not self.state.load_finished:
            self._full_load(tables)
        self.state.report(force=True)
        if not cdc or slot is None:
            return "Stop Reason FULL_LOAD_ONLY_FINISHED"
        self._cdc(conn, slot)
        return "Stop Reason NORMAL"

    def _connect(self) -> Any:
        conn = self.source.connect()
        self.conns.append(conn)
        return conn

    def _slot(self, conn: Any, fresh: bool) -> str:
        cfg = self.cfg.source
        name = cfg.slot_name or self.state.slot_name
        existing = self.source.slot(conn, name) if name else None
        if existing is not None and self.kind == "reload-target" and not cfg.slot_name:
            self.source.drop_slot(conn, name)  # a reload starts CDC afresh from its own snapshot
            existing = None
        if existing is None:
            if not fresh and self.state.slot_name:
                raise TaskError("Failed to resume CDC", f"the replication slot {name} does not exist any more", 1020101)
            if not name:
                base = re.sub("[^a-z0-9]", "", self.cfg.task_id.lower())[:16] or "dms"
                oid = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()[0]
                name = f"{base}_{int(oid):08d}_{uuid.uuid4().hex[:24]}"
            lsn = Source.create_slot(conn, name)
            self.log.info("task %s: created slot %s (test_decoding) at %s", self.cfg.identifier, name, lsn)
        elif existing[0] != "test_decoding":
            raise TaskError("Unsupported replication slot", f"{name} uses {existing[0]}, not test_decoding", 1020101)
        self.state.slot_name = name
        return name

    def _control(self, operation: str, table: Table) -> None:
        details = self.fmt.table_def(table) if operation == "create-table" else {}
        record, key = self.fmt.control_record(operation, table.schema, table.name, _now(), details)
        self.writer.put([(self.fmt.serialize(record), key)])

    # -- full load ---------------------------------------------------------------------------------
    def _full_load(self, tables: list[Table]) -> None:
        import psycopg

        batch = int((self.cfg.settings.get("FullLoadSettings") or {}).get("CommitRate") or 10000)
        batch = max(100, min(batch, 50000))
        conn = self._connect()
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        self.state.full_load_start = self.state.full_load_start or time.time()
        fmt = self.fmt
        with conn.transaction():
            for table in tables:
                key = (table.schema, table.name)
                if key in self.state.tables_loaded:
                    continue
                stats = self.state.table(*key)
                self._control("create-table", table)
                stats.state, stats.load_start, stats.full_load_rows = "Table is being loaded", time.time(), 0
                names, types = table.names, table.types
                for rows in self.source.load(conn, table, batch):
                    if self.stop.is_set():
                        raise Interrupted()
                    now = _now()
                    out = []
                    for row in rows:
                        data = fmt.row(dict(zip(names, row, strict=True)), types, table)
                        record, pkey = fmt.data_record("load", table.schema, table.name, data, data, table, now)
                        out.append((fmt.serialize(record), pkey))
                    self.writer.put(out)
                    stats.full_load_rows += len(rows)
                    stats.last_update = time.time()
                    self.engine.status.count("full_load_rows", len(rows))
                    self.state.report()
                stats.state, stats.load_end = "Table completed", time.time()
                self.state.tables_loaded.add(key)
                self.engine.status.action(f"{self.cfg.identifier}: loaded {table.schema}.{table.name}")
        conn.close()
        self.state.load_finished = True
        self.state.full_load_finish = time.time()
        self.log.info("task %s: full load finished (%d tables)", self.cfg.identifier, len(tables))

    # -- CDC ---------------------------------------------------------------------------------------
    def _cdc(self, conn: Any, slot: str) -> None:
        last_ddl = last_heartbeat = time.monotonic()
        self.cloudwatch = self.engine.client("cloudwatch", self.region)
        while not self.stop.is_set():
            start_lsn = self.source.current_lsn(conn) if self.cfg.source.heartbeat else None
            rows = self._cdc_pass(conn, slot)
            now = time.monotonic()
            if rows < PEEK_CHANGES and start_lsn and now - last_heartbeat > 60 * self.cfg.source.heartbeat_minutes:
                # Heartbeat (HeartbeatEnable): everything before start_lsn was read; confirm it so
                # an idle slot does not hold the WAL of other databases' traffic.
                confirmed = (self.source.slot(conn, slot) or ("", None))[1]
                if confirmed and lsn_int(start_lsn) > lsn_int(confirmed):
                    self.source.advance(conn, slot, start_lsn)
                last_heartbeat = now
            if rows < PEEK_CHANGES and now - last_ddl > DDL_CHECK_S:
                self._check_dropped(conn)
                last_ddl = now
            self._metrics()
            if rows == 0:
                self.state.latency_source = 0.0
                if self.state.dirty:
                    self.state.report(force=True)
                self.stop.wait(IDLE_S)

    def _cdc_pass(self, conn: Any, slot: str) -> int:
        out: list[tuple[bytes, str]] = []
        counts: list[tuple[tuple[str, str], str]] = []
        self.prev = self.state.prev_tx
        commit_lsn: str | None = None
        last_commit: datetime | None = None
        changes: list[tuple[str, Change]] = []
        selected = self.cfg.selector
        rows = 0
        for lsn, xid, data in self.source.peek(conn, slot, PEEK_CHANGES):
            rows += 1
            if data.startswith("table "):
                schema, table, op, _ = parse_header(data)
                if not selected(schema, table):
                    continue
                if op == "TRUNCATE":
                    self.log.warning(
                        "task %s: TRUNCATE of %s.%s is not replicated (as DMS with test_decoding)",
                        self.cfg.identifier,
                        schema,
                        table,
                    )
                    continue
                changes.append((lsn, parse_change(data)))
            elif data.startswith("COMMIT"):
                txid, when = parse_commit(data)
                when = when or datetime.now(UTC)
                if changes:
                    self._emit(txid if txid is not None else xid, when, lsn, changes, out, counts)
                    changes = []
                    self.state.latency_source = max(0.0, (datetime.now(UTC) - when).total_seconds())
                    last_commit = when
                commit_lsn = lsn
                if len(out) >= FLUSH_RECORDS:
                    self._flush(out, counts, last_commit)
            elif data.startswith("BEGIN"):
                changes = []
        self.state.incoming = len(counts)
        if out:
            self._flush(out, counts, last_commit)
        if commit_lsn is not None:
            self.source.advance(conn, slot, commit_lsn)  # every record up to this commit was accepted
        self.state.incoming = 0
        return rows

    def _flush(self, out: list[tuple[bytes, str]], counts: list[tuple[tuple[str, str], str]], when: Any) -> None:
        self.writer.put(out)
        now = time.time()
        for key, op in counts:
            stats = self.state.table(*key)
            if op == "ddl":
                stats.ddls += 1
            else:
                setattr(stats, _COUNTERS[op], getattr(stats, _COUNTERS[op]) + 1)
            stats.last_update = now
        self.engine.status.count("records", len(out))
        self.engine.status.count("changes", len(counts))
        self.engine.status.action(f"{self.cfg.identifier}: {len(out)} records to Kinesis")
        self.state.prev_tx = self.prev
        if when is not None:
            self.state.latency_target = max(0.0, (datetime.now(UTC) - when).total_seconds())
        out.clear()
        counts.clear()
        self.state.report()

    def _table(self, schema: str, name: str, out: list[tuple[bytes, str]]) -> Table | None:
        """The table's definition; a table first seen in CDC gets its create-table control record."""
        key = (schema, name)
        table = self.tables.get(key)
        if table is None:
            if self.aux is None:
                self.aux = self._connect()
            table = self.source.table(self.aux, schema, name)
            if table is not None:
                self.tables[key] = table
                self.state.table(schema, name).state = "Table completed"
                record, pkey = self.fmt.control_record("create-table", schema, name, _now(), self.fmt.table_def(table))
                out.append((self.fmt.serialize(record), pkey))
        return table

    def _emit(
        self,
        xid: int,
        when: datetime,
        commit_lsn: str,
        changes: list[tuple[str, Change]],
        out: list[tuple[bytes, str]],
        counts: list[tuple[tuple[str, str], str]],
    ) -> None:
        fmt = self.fmt
        now, commit_ts, commit_pos = _now(), iso_utc(when), dms_lsn(commit_lsn)
        details = fmt.include_transaction_details
        prev = self.prev
        rid = 0
        for lsn, change in changes:
            schema, name = change.schema, change.table
            table = self._table(schema, name, out)
            op = _OPS[change.op]
            before = None
            if op == "delete":
                data = fmt.row(change.old or {}, change.types, table)
            else:
                new = change.new or {}
                if change.op == "UPDATE" and UNCHANGED_TOAST in new.values():
                    new = self._untoast(table, change)
                data = fmt.row(new, change.types, table)
                if op == "update" and fmt.before_image:
                    before = fmt.before(change.old, change.types, table)
            rid += 1
            transaction: dict[str, Any] = {"transaction-id": xid}
            if details:
                transaction["transaction-record-id"] = rid
                if prev is not None:
                    transaction["prev-transaction-id"], transaction["prev-transaction-record-id"] = prev
                transaction["commit-timestamp"] = commit_ts
                transaction["stream-position"] = f"{commit_pos}.{rid}.{dms_lsn(lsn)}"
            record, key = fmt.data_record(op, schema, name, data, data, table, now, before, transaction)
            out.append((fmt.serialize(record), key))
            counts.append(((schema, name), op))
        if rid:
            self.prev = (xid, rid)

    def _untoast(self, table: Table | None, change: Change) -> dict[str, Any]:
        """An UPDATE's unchanged TOAST values: from the old row (REPLICA IDENTITY FULL), else read by key."""
        new = dict(change.new or {})
        old = change.old or {}
        missing = [n for n, v in new.items() if v is UNCHANGED_TOAST and old.get(n, UNCHANGED_TOAST) is UNCHANGED_TOAST]
        for name, value in new.items():
            if value is UNCHANGED_TOAST and name in old and old[name] is not UNCHANGED_TOAST:
                new[name] = old[name]
        if missing and table is not None and table.primary_key:
            if self.aux is None:
                self.aux = self._connect()
            current = self.source.lookup(self.aux, table, {k: new.get(k) for k in table.primary_key}, missing)
            for name in missing:
                new[name] = current.get(name)
        return new

    def _check_dropped(self, conn: Any) -> None:
        """A table of the task that no longer exists: drop-table (with IncludeTableAlterOperations)."""
        gone = set(self.tables) - self.source.existing(conn, list(self.tables))
        for key in sorted(gone):
            table = self.tables.pop(key)
            stats = self.state.table(*key)
            stats.ddls += 1
            stats.state = "Table does not exist"
            self.log.info("task %s: table %s.%s was dropped", self.cfg.identifier, *key)
            if self.fmt.include_table_alter_operations:
                record, pkey = self.fmt.control_record("drop-table", table.schema, table.name, _now())
                self.writer.put([(self.fmt.serialize(record), pkey)])
        if gone:
            self.state.report(force=True)

    def _metrics(self) -> None:
        now = time.monotonic()
        if now - self.state.last_metrics < METRICS_S:
            return
        self.state.last_metrics = now
        try:
            put_metrics(self.cloudwatch, self.cfg.instance_id, self.cfg.task_id, self.state)
        except Exception as exc:  # a metric that does not go out is logged, not fatal
            self.log.warning("task %s: CloudWatch metrics: %s", self.cfg.identifier, exc)
