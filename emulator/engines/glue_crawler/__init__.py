"""Glue crawler engine: StartCrawler (or the crawler's schedule) crawls the Parquet under its S3 targets.

AWS behaviour imitated: a crawl reads, AS THE CRAWLER'S ROLE, the objects
under each S3 target (minus its Exclusions), takes each Parquet file's schema
from its footer, groups the files into tables (``layout``: table roots by
compatibility and the 70 % schema-similarity rule, ``Grouping.
TableGroupingPolicy`` and ``Grouping.TableLevelConfiguration``; ``key=value``
folders as string partition columns, other folders ``partition_<i>``;
TablePrefix; names lower-cased with non-alphanumerics as ``_``), and writes
them into the crawler's database (``catalog``: CreateTable / UpdateTable /
BatchCreatePartition with the Parquet StorageDescriptor, SchemaChangePolicy,
``CrawlerOutput`` Tables MergeNewColumns and Partitions InheritFromTable,
DeleteBehavior for tables whose data is gone). RecrawlPolicy
CRAWL_NEW_FOLDERS_ONLY reads only folders the catalog does not know yet.
``LastCrawl`` ends SUCCEEDED, or FAILED with ``ErrorMessage`` when a read is
denied, an object named ``.parquet`` is not readable Parquet, or the database
is missing; GetCrawlerMetrics (patch ``glue_crawler_metrics``) reports
TablesCreated / TablesUpdated / TablesDeleted and LastRuntimeSeconds.

How it hooks moto: ``GlueBackend.start_crawler`` starts the crawl in a
thread; the crawl (moto's FakeCrawl, whose end the state manager times,
2 s by default: patch ``glue_crawls_finish``) is held RUNNING until the work
is done, so a crawl lasts max(work, state-manager time); tests that set
another transition keep it. StopCrawler: the work stops before writing.
Schedules: a loop every 30 s starts crawlers whose ``cron(...)`` fired.

Known gaps: only Parquet is classified (other objects are skipped: no
JSON/CSV/custom classifiers); similarity is computed on (name, type) sets,
AWS's exact measure is not published; a crawl reads each file's footer with
one ranged GetObject (the last 64 KiB; a second one for bigger footers) and
CRAWL_EVERYTHING re-reads them all every crawl; no crawler CloudWatch logs;
partitions whose folders vanished are not deleted; LastCrawl messages are
Glue-like, not byte-identical; S3 "no such bucket" under a target crawls
nothing and succeeds.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

from emulator.engines.glue_crawler.catalog import CrawlCounts, retire_tables, write_table
from emulator.engines.glue_crawler.layout import group
from emulator.engines.glue_crawler.scan import (
    CrawlError,
    client,
    list_target,
    read_footers,
    split_s3_url,
)
from emulator.engines.host import EngineHost

NAME = "glue_crawler"
SCHEDULE_SECONDS = 30.0


def role_arn(role: str, account: str) -> str:
    """Glue accepts a role name (with an optional path) or an ARN."""
    return role if role.startswith("arn:") else f"arn:aws:iam::{account}:role/{role}"


def _known_folders(glue: Any, database: str, crawler: str) -> set[str]:
    """Locations (tables and partitions) this crawler already catalogued: CRAWL_NEW_FOLDERS_ONLY skips them."""
    known: set[str] = set()
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
        for table in page["TableList"]:
            if (table.get("Parameters") or {}).get("UPDATED_BY_CRAWLER") != crawler:
                continue
            if not table.get("PartitionKeys"):
                known.add(table["StorageDescriptor"]["Location"])
                continue
            for part_page in glue.get_paginator("get_partitions").paginate(
                DatabaseName=database, TableName=table["Name"]
            ):
                known.update(p["StorageDescriptor"]["Location"] for p in part_page["Partitions"])
    return known


def run_crawl(host: EngineHost, account: str, region: str, name: str, stopping: Any) -> tuple[CrawlCounts, int]:
    """One crawl of crawler ``name``; returns its counts and the S3 calls it made. Raises CrawlError."""
    log = host.logger(NAME)
    config_reader = client(host.ctx, "glue", region)
    crawler = config_reader.get_crawler(Name=name)["Crawler"]
    creds = host.ctx.assume(role_arn(crawler["Role"], account), "AWS-Crawler", region)
    glue = client(host.ctx, "glue", region, creds)
    s3 = client(host.ctx, "s3", region, creds)
    database = crawler.get("DatabaseName") or ""
    try:
        glue.get_database(Name=database)
    except Exception as exc:
        raise CrawlError(
            f"Database does not exist or principal is not authorized to create tables. (Database name: {database})"
        ) from exc
    config = json.loads(crawler.get("Configuration") or "{}")
    grouping = config.get("Grouping") or {}
    merge_new = ((config.get("CrawlerOutput") or {}).get("Tables") or {}).get(
        "AddOrUpdateBehavior"
    ) == "MergeNewColumns"
    policy = crawler.get("SchemaChangePolicy") or {}
    new_only = (crawler.get("RecrawlPolicy") or {}).get("RecrawlBehavior") == "CRAWL_NEW_FOLDERS_ONLY"
    known = _known_folders(glue, database, name) if new_only else set()
    counts, s3_calls = CrawlCounts(), 0
    found: set[str] = set()
    targets = (crawler.get("Targets") or {}).get("S3Targets") or []
    for target in targets:
        files, calls = list_target(s3, target["Path"], target.get("Exclusions") or [])
        s3_calls += calls
        if new_only:
            files = [f for f in files if f"s3://{f.bucket}/{f.key.rsplit('/', 1)[0]}/" not in known]
        files, calls = read_footers(s3, files, account)
        s3_calls += calls
        bucket, prefix = split_s3_url(target["Path"])
        tables = group(
            files,
            bucket,
            prefix,
            crawler.get("TablePrefix") or "",
            grouping.get("TableLevelConfiguration"),
            grouping.get("TableGroupingPolicy") == "CombineCompatibleSchemas",
        )
        if stopping():
            log.info("crawler %s: stopped before writing", name)
            return counts, s3_calls
        for spec in tables:
            write_table(glue, database, spec, name, policy, merge_new, counts, log)
            found.add(spec.name)
    if not new_only:
        locations = [f"s3://{b}/{p}" for b, p in (split_s3_url(t["Path"]) for t in targets)]
        retire_tables(glue, database, found, locations, name, policy, counts, log)
    return counts, s3_calls


def _crawl_thread(host: EngineHost, backend: Any, fake_crawler: Any, crawl: Any) -> None:
    log, status = host.logger(NAME), host.status(NAME)
    started = time.monotonic()
    name = fake_crawler.name
    try:
        counts, s3_calls = run_crawl(
            host, backend.account_id, backend.region_name, name, lambda: crawl._status == "STOPPING"
        )
        elapsed = time.monotonic() - started
        fake_crawler.metrics = {
            "TablesCreated": counts.tables_created,
            "TablesUpdated": counts.tables_updated,
            "TablesDeleted": counts.tables_deleted,
            "LastRuntimeSeconds": round(elapsed, 3),
        }
        status.action(
            f"crawl {name}: {counts.tables_created} created, {counts.tables_updated} updated, "
            f"{counts.partitions_created} partitions added ({elapsed:.2f} s)"
        )
        status.count("crawls")
        status.count("glue_calls", counts.glue_calls)
        status.count("s3_calls", s3_calls)
        crawl.engine_counts = {**counts.__dict__, "s3_calls": s3_calls, "seconds": elapsed}
        log.info("crawl %s succeeded: %s, %d S3 calls", name, counts, s3_calls)
    except Exception as exc:  # the crawl fails visibly, never the emulator
        message = (
            str(exc) if isinstance(exc, CrawlError) else f"Internal Service Exception: {type(exc).__name__}: {exc}"
        )
        crawl.error_message = message
        fake_crawler.metrics = {
            **getattr(fake_crawler, "metrics", {}),
            "LastRuntimeSeconds": round(time.monotonic() - started, 3),
        }
        status.error(f"crawl {name}: {message}")
        log.warning("crawl %s failed: %s", name, message)
    finally:
        crawl.engine_busy = False
        host.write_status(NAME)


def _hook_moto(host: EngineHost) -> None:
    from moto.core.utils import utcnow
    from moto.glue.models import FakeCrawl, FakeCrawler, GlueBackend

    if getattr(GlueBackend.start_crawler, "_smartstream", False):
        GlueBackend.start_crawler._smartstream_host[0] = host  # type: ignore[attr-defined]
        return
    hosts = [host]
    original_start = GlueBackend.start_crawler

    def start_crawler(self: Any, name: str) -> None:
        original_start(self, name)
        if hosts[0]._stop.is_set():  # the engine host was stopped (tests): moto alone
            return
        fake_crawler = self.crawlers[name]
        crawl = fake_crawler.crawls[-1]
        crawl.engine_busy = True
        threading.Thread(
            target=_crawl_thread, args=(hosts[0], self, fake_crawler, crawl), name=f"crawl-{name}", daemon=True
        ).start()

    start_crawler._smartstream = True  # type: ignore[attr-defined]
    start_crawler._smartstream_host = hosts  # type: ignore[attr-defined]
    GlueBackend.start_crawler = start_crawler

    base = FakeCrawl.status

    def get_status(self: Any) -> str | None:
        if getattr(self, "engine_busy", False) and self._status == "RUNNING":
            return "RUNNING"  # the work is not done: hold the crawl whatever the state manager says
        value = base.fget(self)
        if value == "COMPLETED" and getattr(self, "error_message", None):
            self._status = value = "FAILED"
        if value in ("COMPLETED", "FAILED", "STOPPED") and self.end_time is None:
            self.end_time = utcnow()
        return value

    FakeCrawl.status = property(get_status, base.fset)

    original_as_dict = FakeCrawler.as_dict

    def as_dict(self: Any) -> dict[str, Any]:
        data = original_as_dict(self)
        if self.crawls and data.get("LastCrawl", {}).get("Status") == "FAILED":
            data["LastCrawl"]["ErrorMessage"] = getattr(self.crawls[-1], "error_message", "") or ""
        return data

    FakeCrawler.as_dict = as_dict


def aws_cron_to_croniter(expression: str) -> str | None:
    """``cron(M H DoM Mon DoW Y)`` -> a 5-field cron (AWS day-of-week 1-7 = SUN-SAT); None if unsupported."""
    inner = expression.strip()
    if not (inner.startswith("cron(") and inner.endswith(")")):
        return None
    fields = inner[5:-1].split()
    if len(fields) != 6 or any(c in " ".join(fields) for c in "LW#"):
        return None

    def dow(field: str) -> str:
        return "".join(str(int(tok) - 1) if tok.isdigit() else tok for tok in re.split(r"([,\-/])", field))

    minute, hour, dom, month, weekday, _year = fields
    return " ".join([minute, hour, dom.replace("?", "*"), month, dow(weekday.replace("?", "*"))])


def _schedule_tick(host: EngineHost, last_seen: dict[tuple[str, str], datetime]) -> None:
    from croniter import croniter

    now = datetime.now(UTC)
    alive = set()
    for region in host.ctx.regions:
        glue = client(host.ctx, "glue", region)
        for crawler in glue.get_crawlers().get("Crawlers", []):
            schedule = crawler.get("Schedule") or {}
            cron = aws_cron_to_croniter(schedule.get("ScheduleExpression", ""))
            key = (region, crawler["Name"])
            if schedule.get("State") != "SCHEDULED" or cron is None:
                continue
            alive.add(key)
            since = last_seen.setdefault(key, now)
            last_seen[key] = now
            if croniter(cron, since).get_next(datetime) <= now and crawler.get("State") == "READY":
                glue.start_crawler(Name=crawler["Name"])
                host.status(NAME).action(f"schedule started crawler {crawler['Name']}")
    for key in set(last_seen) - alive:
        del last_seen[key]


def install(host: EngineHost) -> None:
    """Hook StartCrawler and run the crawler schedules."""
    _hook_moto(host)
    last_seen: dict[tuple[str, str], datetime] = {}
    host.every(NAME, SCHEDULE_SECONDS, lambda: _schedule_tick(host, last_seen))
