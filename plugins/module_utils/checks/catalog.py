# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Catalog: the Glue database and one crawler per trusted zone."""

from __future__ import annotations

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    HEALTH,
    check,
    compare,
)


def _crawlers(ctx):
    """{crawler name: zone prefix} from names.crawlers."""
    return dict(ctx.name("crawlers"))


@check("database and one crawler per trusted zone on the inventory's schedule")
def crawlers(ctx):
    glue, database, lake = ctx.client("glue"), ctx.name("glue_database"), ctx.name("data_lake_bucket")
    glue.get_database(Name=database)
    got, want = {}, {}
    for name, prefix in _crawlers(ctx).items():
        c = glue.get_crawler(Name=name)["Crawler"]
        got[name] = {
            "schedule": c.get("Schedule", {}).get("ScheduleExpression"),
            "paths": [t["Path"] for t in c.get("Targets", {}).get("S3Targets", [])],
            "database": c.get("DatabaseName"),
        }
        want[name] = {
            "schedule": ctx.want("crawler_schedule"),
            "paths": [f"s3://{lake}/{prefix}"],
            "database": database,
        }
    return compare(want, got)


@check("crawlers' last crawl did not fail", HEALTH)
def crawlers_health(ctx):
    glue, ok, details = ctx.client("glue"), True, []
    for name in _crawlers(ctx):
        c = glue.get_crawler(Name=name)["Crawler"]
        last = c.get("LastCrawl", {})
        status = last.get("Status", "never ran")
        ok = ok and status != "FAILED"
        error = f" {last['ErrorMessage']}" if last.get("ErrorMessage") else ""
        details.append(f"{name} {c.get('State')}, last crawl {status}{error}")
    return ok, "; ".join(details)


CHECKS = (crawlers, crawlers_health)
