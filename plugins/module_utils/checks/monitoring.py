# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Monitoring: alarms of every stage, the alert topic, the DMS failure rule and the dashboard."""

from __future__ import annotations

import json

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    HEALTH,
    check,
    compare,
    statements,
)

# Every stage has an alarm on at least these metrics.
COVERED_METRICS = (
    "GetRecords.IteratorAgeMilliseconds",
    "DeliveryToS3.DataFreshness",
    "DeliveryToS3.Success",
    "Errors",
    "Throttles",
    "CDCLatencySource",
    "CDCLatencyTarget",
    "CPUUtilization",
    "FreeStorageSpace",
    "OldestReplicationSlotLag",
    "ApproximateNumberOfMessagesVisible",
)


def _alarms(ctx):
    cw, found, request = ctx.client("cloudwatch"), [], {"AlarmNamePrefix": f"{ctx.name('prefix')}-"}
    while True:
        page = cw.describe_alarms(**request)
        found += page["MetricAlarms"]
        if not page.get("NextToken"):
            return found
        request["NextToken"] = page["NextToken"]


def _topic_arn(ctx):
    return f"arn:aws:sns:{ctx.name('region')}:{ctx.name('account_id')}:{ctx.name('alert_topic')}"


@check("alarms for every stage, each notifying the topic")
def alarms(ctx):
    found = {a["AlarmName"]: a for a in _alarms(ctx)}
    topic = _topic_arn(ctx)
    got = {
        "missing": sorted(set(ctx.want("alarm_names", [])) - set(found)),
        "unwired": sorted(n for n, a in found.items() if a.get("AlarmActions") != [topic]),
        "uncovered_metrics": sorted(set(COVERED_METRICS) - {a.get("MetricName") for a in found.values()}),
    }
    return compare({"missing": [], "unwired": [], "uncovered_metrics": []}, got)


@check("alert topic: TLS only; CloudWatch, EventBridge and RDS event subscriptions may publish")
def topic(ctx):
    attrs = ctx.client("sns").get_topic_attributes(TopicArn=_topic_arn(ctx))["Attributes"]
    policy = statements(attrs["Policy"])
    principals = " ".join(json.dumps(s.get("Principal")) for s in policy if s.get("Effect") == "Allow")
    got = {
        "tls_only": any(
            s.get("Effect") == "Deny" and "aws:SecureTransport" in json.dumps(s.get("Condition", {})) for s in policy
        ),
        "cloudwatch": "cloudwatch.amazonaws.com" in principals,
        "eventbridge": "events.amazonaws.com" in principals,
        "rds_events": "events.rds.amazonaws.com" in principals,
    }
    return compare({"tls_only": True, "cloudwatch": True, "eventbridge": True, "rds_events": True}, got)


@check("RDS events of the database instance and its parameter group go to the topic")
def rds_events(ctx):
    rds, prefix, db = ctx.client("rds"), ctx.name("prefix"), ctx.name("db_instance")
    want, got = {}, {}
    for kind, source, categories in (
        ("db-instance", db, ctx.want("rds_instance_event_categories")),
        ("db-parameter-group", f"{db}-postgres15", ctx.want("rds_parameter_group_event_categories")),
    ):
        name = f"{prefix}-{kind}-events"
        want[name] = {"topic": _topic_arn(ctx), "source": [kind, [source]], "categories": sorted(categories)}
        want[name]["enabled"] = True
        found = [
            s for s in rds.describe_event_subscriptions()["EventSubscriptionsList"] if s["CustSubscriptionId"] == name
        ]
        s = found[0] if found else {}
        got[name] = {
            "topic": s.get("SnsTopicArn"),
            "source": [s.get("SourceType"), sorted(s.get("SourceIdsList", []))],
            "categories": sorted(s.get("EventCategoriesList", [])),
            "enabled": s.get("Enabled"),
        }
    return compare(want, got)


@check("DMS task failures go to the topic at once")
def failure_rule(ctx):
    events, name = ctx.client("events"), ctx.name("task_failure_rule")
    pattern = json.loads(events.describe_rule(Name=name)["EventPattern"])
    got = {
        "source": pattern.get("source"),
        "event_type": pattern.get("detail", {}).get("eventType"),
        "targets": [t["Arn"] for t in events.list_targets_by_rule(Rule=name)["Targets"]],
    }
    return compare(
        {"source": ["aws.dms"], "event_type": ["REPLICATION_TASK_FAILED"], "targets": [_topic_arn(ctx)]}, got
    )


@check("dashboard of the whole flow, stage by stage")
def dashboard(ctx):
    body = json.loads(ctx.client("cloudwatch").get_dashboard(DashboardName=ctx.name("dashboard"))["DashboardBody"])
    titles = [w.get("properties", {}).get("title") for w in body.get("widgets", [])]
    return len(titles) == ctx.want("dashboard_widgets", 6), titles


@check("no alarm in ALARM", HEALTH)
def alarms_health(ctx):
    found = _alarms(ctx)
    firing = sorted(a["AlarmName"] for a in found if a["StateValue"] == "ALARM")
    return not firing, f"{len(found)} alarm(s), " + (f"in ALARM: {', '.join(firing)}" if firing else "none in ALARM")


CHECKS = (alarms, topic, rds_events, failure_rule, dashboard, alarms_health)
