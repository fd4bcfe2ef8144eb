"""What the engine remembers of a task between runs, and what it reports: table statistics, task stats, metrics.

DescribeTableStatistics gets the counts of records Kinesis accepted (per
table: FullLoadRows, Inserts, Updates, Deletes, Ddls, TableState);
DescribeReplicationTasks' ReplicationTaskStats the load's progress; the
CloudWatch metrics CDCLatencySource (seconds from a change's commit to its
read from the slot), CDCLatencyTarget (to its acceptance by Kinesis) and
CDCIncomingChanges (changes read and not yet accepted, at the last pass)
go to namespace AWS/DMS with the dimensions ReplicationInstanceIdentifier and
ReplicationTaskIdentifier (the task ARN's last part, as the console shows it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator.engines.dms.config import SourceConfig
from emulator.patches import dms as dms_patch


@dataclass
class TableStats:
    schema: str
    table: str
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    ddls: int = 0
    full_load_rows: int = 0
    state: str = "Before load"
    load_start: float | None = None
    load_end: float | None = None
    reloaded: bool = False
    last_update: float = field(default_factory=time.time)

    def api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "SchemaName": self.schema,
            "TableName": self.table,
            "Inserts": self.inserts,
            "Deletes": self.deletes,
            "Updates": self.updates,
            "Ddls": self.ddls,
            "AppliedInserts": self.inserts,
            "AppliedDeletes": self.deletes,
            "AppliedUpdates": self.updates,
            "AppliedDdls": self.ddls,
            "FullLoadRows": self.full_load_rows,
            "FullLoadCondtnlChkFailedRows": 0,
            "FullLoadErrorRows": 0,
            "FullLoadReloaded": self.reloaded,
            "LastUpdateTime": self.last_update,
            "TableState": self.state,
            "ValidationPendingRecords": 0,
            "ValidationFailedRecords": 0,
            "ValidationSuspendedRecords": 0,
            "ValidationState": "Not enabled",
        }
        if self.load_start is not None:
            out["FullLoadStartTime"] = self.load_start
        if self.load_end is not None:
            out["FullLoadEndTime"] = self.load_end
        return out


@dataclass
class TaskState:
    """A task as the engine knows it across runs: its slot, its load, its counters."""

    arn: str
    region: str
    slot_name: str | None = None
    source: SourceConfig | None = None
    load_finished: bool = False
    tables_loaded: set[tuple[str, str]] = field(default_factory=set)
    prev_tx: tuple[int, int] | None = None
    tables: dict[tuple[str, str], TableStats] = field(default_factory=dict)
    fresh_start: float | None = None
    start: float | None = None
    stop: float | None = None
    full_load_start: float | None = None
    full_load_finish: float | None = None
    last_report: float = 0.0
    dirty: bool = False
    # CloudWatch: the latest latencies and backlog, sent every metrics interval.
    latency_source: float = 0.0
    latency_target: float = 0.0
    incoming: int = 0
    last_metrics: float = 0.0

    def table(self, schema: str, name: str) -> TableStats:
        key = (schema, name)
        found = self.tables.get(key)
        if found is None:
            found = self.tables[key] = TableStats(schema, name)
        return found

    def fresh(self, reload: bool) -> None:
        """A start-replication or reload-target: the load starts over."""
        self.load_finished = False
        self.tables_loaded = set()
        self.prev_tx = None
        self.fresh_start = time.time()
        self.full_load_start = self.full_load_finish = None
        if reload:
            self.tables = {k: TableStats(v.schema, v.table, reloaded=True) for k, v in self.tables.items()}

    def report(self, force: bool = False) -> None:
        """Hand the counts to the task (DescribeTableStatistics, ReplicationTaskStats): at most twice a second."""
        now = time.time()
        if not force and now - self.last_report < 0.5:
            self.dirty = True
            return
        self.last_report, self.dirty = now, False
        tables = list(self.tables.values())
        loaded = sum(1 for t in tables if t.state == "Table completed")
        loading = sum(1 for t in tables if t.state == "Table is being loaded")
        queued = sum(1 for t in tables if t.state == "Before load")
        errored = sum(1 for t in tables if t.state == "Table error")
        percent = 100 if self.load_finished or not tables else int(100 * loaded / len(tables))
        task_stats: dict[str, Any] = {
            "FullLoadProgressPercent": percent,
            "ElapsedTimeMillis": int(1000 * ((self.stop or now) - (self.start or now))),
            "TablesLoaded": loaded,
            "TablesLoading": loading,
            "TablesQueued": queued,
            "TablesErrored": errored,
        }
        for key, value in (
            ("FreshStartDate", self.fresh_start),
            ("StartDate", self.start),
            ("StopDate", self.stop),
            ("FullLoadStartDate", self.full_load_start),
            ("FullLoadFinishDate", self.full_load_finish),
        ):
            if value is not None:
                task_stats[key] = value
        dms_patch.report_statistics(self.arn, [t.api() for t in tables], task_stats)


def put_metrics(cloudwatch: Any, instance_id: str, task_id: str, state: TaskState) -> None:
    """CDCLatencySource, CDCLatencyTarget and CDCIncomingChanges of the task, now."""
    dimensions = [
        {"Name": "ReplicationInstanceIdentifier", "Value": instance_id},
        {"Name": "ReplicationTaskIdentifier", "Value": task_id},
    ]
    when = datetime.now(UTC)
    cloudwatch.put_metric_data(
        Namespace="AWS/DMS",
        MetricData=[
            {
                "MetricName": "CDCLatencySource",
                "Dimensions": dimensions,
                "Timestamp": when,
                "Value": round(state.latency_source, 3),
                "Unit": "Seconds",
            },
            {
                "MetricName": "CDCLatencyTarget",
                "Dimensions": dimensions,
                "Timestamp": when,
                "Value": round(state.latency_target, 3),
                "Unit": "Seconds",
            },
            {
                "MetricName": "CDCIncomingChanges",
                "Dimensions": dimensions,
                "Timestamp": when,
                "Value": float(state.incoming),
                "Unit": "Count",
            },
        ],
    )
