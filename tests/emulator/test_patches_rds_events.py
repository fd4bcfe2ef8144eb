"""The RDS event-subscription patch behaves as AWS: modify in place, source identifiers added and removed."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from emulator import patches

patches.apply_all()
REGION = "us-east-1"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"


@pytest.fixture
def rds(in_process_aws):
    return in_process_aws("rds", REGION)


def test_modify_event_subscription_changes_it_in_place(rds):
    rds.create_event_subscription(
        SubscriptionName="db-events",
        SnsTopicArn=TOPIC,
        SourceType="db-instance",
        EventCategories=["failure"],
        SourceIds=["db-1"],
        Enabled=True,
    )
    changed = rds.modify_event_subscription(
        SubscriptionName="db-events", EventCategories=["failure", "failover"], Enabled=False
    )["EventSubscription"]
    got = rds.describe_event_subscriptions(SubscriptionName="db-events")["EventSubscriptionsList"][0]
    assert changed["EventCategoriesList"] == got["EventCategoriesList"] == ["failure", "failover"]
    assert got["Enabled"] is False
    assert got["SnsTopicArn"] == TOPIC and got["SourceIdsList"] == ["db-1"]


def test_source_identifiers_are_added_and_removed(rds):
    rds.create_event_subscription(SubscriptionName="db-events", SnsTopicArn=TOPIC, SourceType="db-instance")
    rds.add_source_identifier_to_subscription(SubscriptionName="db-events", SourceIdentifier="db-1")
    rds.add_source_identifier_to_subscription(SubscriptionName="db-events", SourceIdentifier="db-2")
    rds.remove_source_identifier_from_subscription(SubscriptionName="db-events", SourceIdentifier="db-1")
    got = rds.describe_event_subscriptions(SubscriptionName="db-events")["EventSubscriptionsList"][0]
    assert got["SourceIdsList"] == ["db-2"]


def test_modifying_an_unknown_subscription_is_not_found(rds):
    with pytest.raises(ClientError) as err:
        rds.modify_event_subscription(SubscriptionName="nope", Enabled=True)
    assert err.value.response["Error"]["Code"] == "SubscriptionNotFound"
