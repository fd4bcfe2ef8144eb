"""Production settings against moto: enhanced monitoring and RDS event subscriptions pass as the roles make them
and fail on each fault."""

from __future__ import annotations

import json

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks import database, monitoring

from .conftest import ACCOUNT, NAMES, PREFIX, client
from .test_data_layers import make_instance

DB = NAMES["db_instance"]
ROLE = f"{PREFIX}-rds-monitoring"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:{NAMES['alert_topic']}"
MONITORED = {"database": {"monitoring_interval": 60, "monitoring_role_name": ROLE}}
INSTANCE_CATEGORIES = ["failover", "failure", "maintenance", "notification"]
EVENTS = {
    "monitoring": {
        "rds_instance_event_categories": INSTANCE_CATEGORIES,
        "rds_parameter_group_event_categories": ["configuration change"],
    }
}


def monitoring_role(condition: dict | None = None) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "monitoring.rds.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    if condition is not None:
        statement["Condition"] = condition
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return client("iam").create_role(RoleName=ROLE, AssumeRolePolicyDocument=document)["Role"]["Arn"]


def test_enhanced_monitoring_through_a_role_of_this_account_passes(check):
    arn = monitoring_role({"StringEquals": {"aws:SourceAccount": ACCOUNT}})
    make_instance(MonitoringInterval=60, MonitoringRoleArn=arn)
    result = check(database.enhanced_monitoring, MONITORED)
    assert result["ok"], result


def test_enhanced_monitoring_off_or_a_role_without_the_account_condition_fails(check):
    make_instance()
    result = check(database.enhanced_monitoring, MONITORED)
    assert not result["ok"] and result["detail"]["interval"] == {"want": 60, "got": 0}
    assert check(database.enhanced_monitoring, {"database": {"monitoring_interval": 0}})["ok"]


def test_a_monitoring_role_any_account_may_use_fails(check):
    arn = monitoring_role()
    make_instance(MonitoringInterval=60, MonitoringRoleArn=arn)
    detail = check(database.enhanced_monitoring, MONITORED)["detail"]
    assert detail == {
        "trust": {"want": [("monitoring.rds.amazonaws.com", ACCOUNT)], "got": [("monitoring.rds.amazonaws.com", None)]}
    }


def subscribe(kind: str, source: str, categories: list[str], enabled: bool = True, topic: str = TOPIC) -> None:
    client("rds").create_event_subscription(
        SubscriptionName=f"{PREFIX}-{kind}-events",
        SnsTopicArn=topic,
        SourceType=kind,
        SourceIds=[source],
        EventCategories=categories,
        Enabled=enabled,
    )


def test_event_subscriptions_as_the_monitoring_role_makes_them_pass(check):
    subscribe("db-instance", DB, INSTANCE_CATEGORIES)
    subscribe("db-parameter-group", f"{DB}-postgres15", ["configuration change"])
    result = check(monitoring.rds_events, EVENTS)
    assert result["ok"], result


def test_a_missing_disabled_or_misdirected_subscription_fails(check):
    subscribe("db-instance", DB, ["failure"], enabled=False, topic=TOPIC + "-other")
    detail = check(monitoring.rds_events, EVENTS)["detail"]
    instance = detail[f"{PREFIX}-db-instance-events"]
    assert instance["got"]["enabled"] is False and instance["got"]["topic"] == TOPIC + "-other"
    assert instance["got"]["categories"] == ["failure"]
    assert detail[f"{PREFIX}-db-parameter-group-events"]["got"]["topic"] is None


def test_a_topic_rds_may_not_publish_to_fails(check):
    sns = client("sns")
    arn = sns.create_topic(Name=NAMES["alert_topic"])["TopicArn"]
    statements = [
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": arn,
        },
        {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish", "Resource": arn},
    ]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps({"Statement": statements}))
    result = check(monitoring.topic, {})
    assert not result["ok"] and result["detail"] == {"rds_events": {"want": True, "got": False}}
    rds = {
        "Effect": "Allow",
        "Principal": {"Service": "events.rds.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": arn,
    }
    policy = json.dumps({"Statement": [*statements, rds]})
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=policy)
    assert check(monitoring.topic, {})["ok"]
