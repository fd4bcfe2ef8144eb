#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: rds_event_subscription
short_description: Manage an RDS event subscription (RDS events to an SNS topic)
version_added: 0.1.0
description:
  - Create, update or delete an RDS event notification subscription, which publishes the events of the
    chosen sources (instances, parameter groups...) and categories (failure, failover, maintenance...)
    to an SNS topic.
  - Updates in place (C(ModifyEventSubscription)); source identifiers are added and removed one by one,
    as the API wants.
  - The topic's policy must let C(events.rds.amazonaws.com) publish, or RDS reports the subscription
    C(no-permission) and delivers nothing (returned in RV(event_subscription.status)).
  - No module of amazon.aws or community.aws manages RDS event subscriptions.
  - Several subscriptions can be managed in one run with I(subscriptions) (each as with I(name) and
    the settings below, which they default to).
author:
  - SmartStream platform team (@smartstream)
options:
  name:
    description:
      - Name of the subscription (letters, digits and hyphens, 1-255 characters, starting with a letter).
      - Exactly one of I(name) and I(subscriptions) is required.
    type: str
  subscriptions:
    description:
      - Several subscriptions managed in one run, in this order, all with I(state), I(tags) and
        I(purge_tags). Each entry's settings default to the module's options of the same name.
      - The results are listed in RV(event_subscriptions).
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the subscription, as I(name).
        required: true
        type: str
      sns_topic_arn:
        description: The topic, as I(sns_topic_arn).
        type: str
      source_type:
        description: Kind of source, as I(source_type).
        type: str
      event_categories:
        description: Event categories, as I(event_categories).
        type: list
        elements: str
      source_ids:
        description: Sources, as I(source_ids).
        type: list
        elements: str
      enabled:
        description: Whether it sends events, as I(enabled).
        type: bool
  state:
    description: C(present) creates or updates the subscription, C(absent) deletes it.
    choices: [present, absent]
    default: present
    type: str
  sns_topic_arn:
    description: ARN of the SNS topic the events go to. Required with I(state=present).
    type: str
  source_type:
    description: Kind of source whose events are sent; omitted, the events of every source of the account.
    choices: [db-instance, db-cluster, db-parameter-group, db-security-group, db-snapshot, db-cluster-snapshot,
              db-proxy, blue-green-deployment, custom-engine-version]
    type: str
  event_categories:
    description:
      - Event categories sent (for C(db-instance) e.g. C(failure), C(failover), C(maintenance), C(notification));
        an empty list sends every category.
    type: list
    elements: str
    default: []
  source_ids:
    description: Identifiers of the sources (of I(source_type)) whose events are sent; empty, every source of that type.
    type: list
    elements: str
    default: []
  enabled:
    description: Whether the subscription sends events.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Failures, failovers and maintenance of the database instance to the alerts topic
  smartstream.pipeline.rds_event_subscription:
    name: smartstream-prod-db-events
    sns_topic_arn: arn:aws:sns:eu-north-1:123456789012:smartstream-prod-alerts
    source_type: db-instance
    source_ids: [smartstream-prod-db]
    event_categories: [availability, failover, failure, low storage, maintenance, notification]
    tags:
      Environment: prod

- name: Remove it
  smartstream.pipeline.rds_event_subscription:
    name: smartstream-prod-db-events
    state: absent

- name: The database instance's events and its parameter group's configuration changes, in one run
  smartstream.pipeline.rds_event_subscription:
    sns_topic_arn: arn:aws:sns:eu-north-1:123456789012:smartstream-prod-alerts
    subscriptions:
      - name: smartstream-prod-db-instance-events
        source_type: db-instance
        source_ids: [smartstream-prod-db]
      - name: smartstream-prod-db-parameter-group-events
        source_type: db-parameter-group
        source_ids: [smartstream-prod-db-postgres15]
        event_categories: [configuration change]
    tags:
      Environment: prod
"""

RETURN = r"""
event_subscriptions:
  description:
    - With I(subscriptions), each subscription after the change, in the order given, as RV(event_subscription).
  returned: with I(subscriptions)
  type: list
  elements: dict
  sample: [{"cust_subscription_id": "smartstream-prod-db-instance-events", "enabled": true, "status": "active"}]
event_subscription:
  description: The subscription after the change (empty when absent; the desired one in check mode).
  returned: with I(name)
  type: dict
  contains:
    cust_subscription_id:
      description: Name of the subscription.
      returned: when present
      type: str
      sample: smartstream-prod-db-events
    event_subscription_arn:
      description: ARN of the subscription.
      returned: when present and not created in check mode
      type: str
      sample: arn:aws:rds:eu-north-1:123456789012:es:smartstream-prod-db-events
    sns_topic_arn:
      description: The topic.
      returned: when present
      type: str
      sample: arn:aws:sns:eu-north-1:123456789012:smartstream-prod-alerts
    source_type:
      description: Kind of source.
      returned: when present and set
      type: str
      sample: db-instance
    event_categories_list:
      description: Categories sent (empty means all).
      returned: when present
      type: list
      elements: str
      sample: [failover, failure]
    source_ids_list:
      description: Sources (empty means all of the type).
      returned: when present
      type: list
      elements: str
      sample: [smartstream-prod-db]
    enabled:
      description: Whether it sends events.
      returned: when present
      type: bool
      sample: true
    status:
      description: C(creating), C(modifying), C(deleting), C(active), C(no-permission) or C(topic-not-exist).
      returned: when present and not created in check mode
      type: str
      sample: active
    tags:
      description: Tags of the subscription.
      returned: when present
      type: dict
      sample: {"Environment": "prod"}
"""

import re

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,254}$")
SOURCE_TYPES = [
    "db-instance",
    "db-cluster",
    "db-parameter-group",
    "db-security-group",
    "db-snapshot",
    "db-cluster-snapshot",
    "db-proxy",
    "blue-green-deployment",
    "custom-engine-version",
]


def describe(client, name):
    try:
        found = client.describe_event_subscriptions(aws_retry=True, SubscriptionName=name)["EventSubscriptionsList"]
    except is_boto3_error_code("SubscriptionNotFound"):
        return None
    return found[0] if found else None


def tags_of(client, arn):
    return boto3_tag_list_to_ansible_dict(client.list_tags_for_resource(aws_retry=True, ResourceName=arn)["TagList"])


def settings(subscription):
    """The comparable settings of a described subscription (or of the desired one)."""
    return {
        "sns_topic_arn": subscription.get("SnsTopicArn"),
        "source_type": subscription.get("SourceType"),
        "event_categories": sorted(subscription.get("EventCategoriesList") or []),
        "source_ids": sorted(subscription.get("SourceIdsList") or []),
        "enabled": bool(subscription.get("Enabled")),
    }


def desired_subscription(params):
    return {
        "CustSubscriptionId": params["name"],
        "SnsTopicArn": params["sns_topic_arn"],
        "SourceType": params["source_type"],
        "EventCategoriesList": sorted(set(params["event_categories"])),
        "SourceIdsList": sorted(set(params["source_ids"])),
        "Enabled": params["enabled"],
    }


def create(client, desired, tags):
    kwargs = {
        "SubscriptionName": desired["CustSubscriptionId"],
        "SnsTopicArn": desired["SnsTopicArn"],
        "EventCategories": desired["EventCategoriesList"],
        "SourceIds": desired["SourceIdsList"],
        "Enabled": desired["Enabled"],
        "Tags": ansible_dict_to_boto3_tag_list(tags or {}),
    }
    if desired["SourceType"]:
        kwargs["SourceType"] = desired["SourceType"]
    client.create_event_subscription(aws_retry=True, **kwargs)


def plan_update(current, desired):
    """(modify, add, remove, name): what ModifyEventSubscription and the source-identifier calls must change."""
    have, want = settings(current), settings(desired)
    name = desired["CustSubscriptionId"]
    modify = {}
    if have["sns_topic_arn"] != want["sns_topic_arn"]:
        modify["SnsTopicArn"] = want["sns_topic_arn"]
    if want["source_type"] and have["source_type"] != want["source_type"]:
        modify["SourceType"] = want["source_type"]
    if have["event_categories"] != want["event_categories"]:
        modify["EventCategories"] = want["event_categories"]
    if have["enabled"] != want["enabled"]:
        modify["Enabled"] = want["enabled"]
    add = sorted(set(want["source_ids"]) - set(have["source_ids"]))
    remove = sorted(set(have["source_ids"]) - set(want["source_ids"]))
    return modify, add, remove, name


def apply_update(client, plan):
    modify, add, remove, name = plan
    if modify:
        client.modify_event_subscription(aws_retry=True, SubscriptionName=name, **modify)
    for source in add:
        client.add_source_identifier_to_subscription(aws_retry=True, SubscriptionName=name, SourceIdentifier=source)
    for source in remove:
        client.remove_source_identifier_from_subscription(
            aws_retry=True, SubscriptionName=name, SourceIdentifier=source
        )


def sync_tags(client, arn, current, wanted, purge, check_mode):
    if wanted is None:
        return False
    to_add, to_remove = compare_aws_tags(current, wanted, purge_tags=purge)
    if (to_add or to_remove) and not check_mode:
        if to_remove:
            client.remove_tags_from_resource(aws_retry=True, ResourceName=arn, TagKeys=to_remove)
        if to_add:
            client.add_tags_to_resource(aws_retry=True, ResourceName=arn, Tags=ansible_dict_to_boto3_tag_list(to_add))
    return bool(to_add or to_remove)


def view(subscription, tags):
    if not subscription:
        return {}
    result = camel_dict_to_snake_dict({k: v for k, v in subscription.items() if k != "ResponseMetadata"})
    result["tags"] = tags or {}
    return result


def run(module, client, params):
    name = params["name"]
    current = describe(client, name)
    current_tags = tags_of(client, current["EventSubscriptionArn"]) if current else {}
    before = view(current, current_tags)
    if params["state"] == "absent":
        if current is None:
            return False, {}, before
        if not module.check_mode:
            client.delete_event_subscription(aws_retry=True, SubscriptionName=name)
        return True, {}, before

    desired = desired_subscription(params)
    if current is None:
        if not module.check_mode:
            create(client, desired, params["tags"])
            created = describe(client, name)
            return True, view(created, tags_of(client, created["EventSubscriptionArn"])), before
        return True, view(desired, params["tags"]), before

    plan = plan_update(current, desired)
    changed = bool(plan[0] or plan[1] or plan[2])
    if changed and not module.check_mode:
        apply_update(client, plan)
    arn = current["EventSubscriptionArn"]
    changed |= sync_tags(client, arn, current_tags, params["tags"], params["purge_tags"], module.check_mode)
    if not changed:
        return False, before, before
    if module.check_mode:
        wanted_tags = current_tags if params["tags"] is None else params["tags"]
        if params["tags"] is not None and not params["purge_tags"]:
            wanted_tags = dict(current_tags, **params["tags"])
        return True, view(dict(current, **desired), wanted_tags), before
    after = describe(client, name)
    return True, view(after, tags_of(client, arn)), before


def validate(module, params):
    name = params["name"]
    if not NAME.match(name) or "--" in name or name.endswith("-"):
        module.fail_json(msg=f"name '{name}': a letter, then letters, digits and single hyphens (1-255 characters)")
    if params["state"] == "present" and not params["sns_topic_arn"]:
        module.fail_json(msg=f"RDS event subscription {name}: sns_topic_arn is required with state=present")
    if params["source_ids"] and not params["source_type"]:
        module.fail_json(
            msg=f"RDS event subscription {name}: source_ids need source_type (the kind of source they name)"
        )
    if params["source_type"] and params["source_type"] not in SOURCE_TYPES:
        module.fail_json(msg=f"RDS event subscription {name}: source_type must be one of {', '.join(SOURCE_TYPES)}")


def converge(module, client, params):
    """(changed, after, before) of one subscription, with a clear message on an AWS error."""
    name = params["name"]
    try:
        return run(module, client, params)
    except is_boto3_error_code(("SNSInvalidTopic", "SNSNoAuthorization", "SNSTopicArnNotFound")) as e:
        module.fail_json_aws(
            e, msg=f"RDS event subscription {name}: the SNS topic {params['sns_topic_arn']} cannot be used"
        )
    except is_boto3_error_code(("SourceNotFound", "SubscriptionCategoryNotFound", "InvalidParameterValue")) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"RDS event subscription {name}: RDS refused the sources or categories")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"RDS event subscription {name}: the AWS request failed")


def main():
    argument_spec = dict(
        name=dict(type="str"),
        subscriptions=dict(
            type="list",
            elements="dict",
            options=dict(
                name=dict(type="str", required=True),
                sns_topic_arn=dict(type="str"),
                source_type=dict(type="str"),
                event_categories=dict(type="list", elements="str"),
                source_ids=dict(type="list", elements="str"),
                enabled=dict(type="bool"),
            ),
        ),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        sns_topic_arn=dict(type="str"),
        source_type=dict(type="str", choices=SOURCE_TYPES),
        event_categories=dict(type="list", elements="str", default=[]),
        source_ids=dict(type="list", elements="str", default=[]),
        enabled=dict(type="bool", default=True),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("name", "subscriptions")],
        required_one_of=[("name", "subscriptions")],
        supports_check_mode=True,
    )
    if module.params["subscriptions"] is None:
        items = [module.params]
    else:
        items = [
            dict(module.params, **{k: v for k, v in sub.items() if v is not None})
            for sub in module.params["subscriptions"]
        ]
    for params in items:
        validate(module, params)
    client = module.client("rds", retry_decorator=AWSRetry.jittered_backoff())
    results = [converge(module, client, params) for params in items]

    if module.params["subscriptions"] is None:
        changed, after, before = results[0]
        result = {"changed": changed, "event_subscription": after}
        if module._diff:
            result["diff"] = {"before": before, "after": after}
        module.exit_json(**result)
    result = {"changed": any(r[0] for r in results), "event_subscriptions": [r[1] for r in results]}
    if module._diff:
        result["diff"] = {"before": [r[2] for r in results], "after": [r[1] for r in results]}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
