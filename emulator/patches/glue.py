"""Patches of moto's Glue for the local emulator (see emulator/README.md)."""

from __future__ import annotations

from typing import Any

from emulator.patches.registry import patch as _patch

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
# Glue: GetCrawlerMetrics
# --------------------------------------------------------------------------
# AWS: GetCrawlerMetrics returns, per crawler (CrawlerNameList, or all),
# CrawlerName, TimeLeftSeconds, StillEstimating, LastRuntimeSeconds,
# MedianRuntimeSeconds, TablesCreated, TablesUpdated, TablesDeleted (API
# reference "GetCrawlerMetrics" / "CrawlerMetrics"). moto does not implement
# it. The figures are those of the last crawl, which the glue_crawler engine
# records on the crawler (``metrics``); zero before any crawl.
@_patch
def glue_crawler_metrics() -> None:
    """GetCrawlerMetrics with the counts of each crawler's last crawl."""
    import json

    from moto.glue.exceptions import EntityNotFoundException
    from moto.glue.responses import GlueResponse

    def get_crawler_metrics(self: Any) -> Any:
        names = self._get_param("CrawlerNameList")
        crawlers = self.glue_backend.crawlers
        selected = names if names else list(crawlers)
        metrics = []
        for name in selected:
            crawler = crawlers.get(name)
            if crawler is None:
                raise EntityNotFoundException(f"Crawler with name {name} does not exist")
            last = getattr(crawler, "metrics", {})
            runtime = float(last.get("LastRuntimeSeconds", 0.0))
            metrics.append(
                {
                    "CrawlerName": name,
                    "TimeLeftSeconds": 0.0,
                    "StillEstimating": crawler.status == "RUNNING",
                    "LastRuntimeSeconds": runtime,
                    "MedianRuntimeSeconds": runtime,
                    "TablesCreated": int(last.get("TablesCreated", 0)),
                    "TablesUpdated": int(last.get("TablesUpdated", 0)),
                    "TablesDeleted": int(last.get("TablesDeleted", 0)),
                }
            )
        return json.dumps({"CrawlerMetricsList": metrics})

    GlueResponse.get_crawler_metrics = get_crawler_metrics
