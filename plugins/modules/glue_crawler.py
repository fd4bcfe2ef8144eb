#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: glue_crawler
short_description: Manage AWS Glue crawlers of S3 paths, with their schedule
version_added: 0.1.0
description:
  - Create, update or delete a Glue crawler of S3 paths, with its schedule, schema change and recrawl
    policies, crawler configuration and tags.
  - C(community.aws.glue_crawler) has no schedule and no crawler configuration; this module manages both.
  - A crawler cannot be updated while it runs; the module waits (up to I(wait_timeout)) for a running crawl
    to end before updating or deleting it.
  - With I(crawlers), several crawlers are converged in one run of the module, read in one
    C(BatchGetCrawlers); each entry's settings override the module's for that crawler.
author:
  - SmartStream platform team (@smartstream)
options:
  name:
    description:
      - Name of the crawler.
      - Exactly one of I(name) and I(crawlers) is required.
    type: str
  crawlers:
    description:
      - Several crawlers, instead of I(name). What an entry leaves out is taken from the module's options
        (I(role), I(database_name), I(description), I(s3_targets), I(schedule), I(table_prefix),
        I(configuration), the behaviours, I(tags) and I(purge_tags) apply to every crawler).
      - Exactly one of I(name) and I(crawlers) is required.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the crawler.
        required: true
        type: str
      description:
        description: Description of the crawler; I(description) when left out.
        type: str
      s3_targets:
        description: S3 paths crawled, as I(s3_targets); I(s3_targets) when left out.
        type: list
        elements: dict
        suboptions:
          path:
            description: S3 path.
            type: str
            required: true
          exclusions:
            description: Glob patterns excluded from the crawl.
            type: list
            elements: str
            default: []
      schedule:
        description: Schedule, as I(schedule); I(schedule) when left out.
        type: str
      table_prefix:
        description: Prefix of the tables the crawler creates; I(table_prefix) when left out.
        type: str
      configuration:
        description: Crawler configuration, as I(configuration); I(configuration) when left out.
        type: dict
  state:
    description: C(present) creates or updates the crawler, C(absent) deletes it.
    choices: [present, absent]
    default: present
    type: str
  role:
    description: IAM role (name or ARN) the crawler uses. Required with C(state=present).
    type: str
  database_name:
    description: Glue database the tables are written to. Required with C(state=present).
    type: str
  description:
    description: Description of the crawler.
    type: str
    default: ""
  s3_targets:
    description: S3 paths crawled. Required with C(state=present).
    type: list
    elements: dict
    suboptions:
      path:
        description: S3 path, for example C(s3://bucket/trusted/).
        type: str
        required: true
      exclusions:
        description: Glob patterns excluded from the crawl.
        type: list
        elements: str
        default: []
  schedule:
    description:
      - Schedule as a Glue cron expression, for example C(cron(0 2 * * ? *)). An empty string removes the
        schedule (the crawler then runs on demand only).
    type: str
    default: ""
  table_prefix:
    description: Prefix of the tables the crawler creates.
    type: str
    default: ""
  update_behavior:
    description: What the crawler does when a schema changes.
    choices: [UPDATE_IN_DATABASE, LOG]
    default: UPDATE_IN_DATABASE
    type: str
  delete_behavior:
    description: What the crawler does when data of a table is gone.
    choices: [LOG, DELETE_FROM_DATABASE, DEPRECATE_IN_DATABASE]
    default: DEPRECATE_IN_DATABASE
    type: str
  recrawl_behavior:
    description: Crawl every folder, or only folders added since the last crawl (needs both behaviours C(LOG)).
    choices: [CRAWL_EVERYTHING, CRAWL_NEW_FOLDERS_ONLY]
    default: CRAWL_EVERYTHING
    type: str
  configuration:
    description: Crawler configuration (the JSON Glue calls C(Configuration)), as a dictionary.
    type: dict
  wait_timeout:
    description: Seconds to wait for a running crawl to end before an update or deletion.
    type: int
    default: 900
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Two crawlers of the lake in one task, one configuration each
  smartstream.pipeline.glue_crawler:
    role: smartstream-dev-glue-crawler
    database_name: smartstream_dev
    schedule: cron(0 2 * * ? *)
    crawlers:
      - name: smartstream-dev-trusted
        s3_targets: [{path: "s3://smartstream-dev-datalake/trusted/"}]
        configuration: {Version: 1.0, Grouping: {TableLevelConfiguration: 2}}
      - name: smartstream-dev-trusted-analytics
        s3_targets: [{path: "s3://smartstream-dev-datalake/trusted-analytics/"}]
        configuration: {Version: 1.0, Grouping: {TableLevelConfiguration: 3}}

- name: Crawl the trusted zone every night
  smartstream.pipeline.glue_crawler:
    name: smartstream-dev-trusted
    role: smartstream-dev-glue-crawler
    database_name: smartstream_dev
    s3_targets:
      - path: s3://smartstream-dev-datalake/trusted/
    schedule: cron(0 2 * * ? *)
    configuration:
      Version: 1.0
      Grouping: {TableGroupingPolicy: CombineCompatibleSchemas}
    tags:
      Project: smartstream
"""

RETURN = r"""
crawlers:
  description: With I(crawlers), each crawler after the change (as I(crawler) below), in the order of I(crawlers).
  returned: with I(crawlers)
  type: list
  elements: dict
  sample: [{"name": "smartstream-dev-trusted", "state": "READY"}]
crawler:
  description: The crawler after the change (empty when absent), as GetCrawler returns it, in snake case.
  returned: with I(name)
  type: dict
  sample: {"name": "smartstream-dev-trusted", "state": "READY", "schedule": {"schedule_expression": "cron(0 2 * * ? *)"}}
"""

import json
import re

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.glue import get_crawler
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import (
    WaitFailed,
    WaitTimeout,
    list_form_items,
    tag_changes,
    wait_for,
)

CRON = re.compile(r"^cron\((\S+ ){5}\S+\)$")


def crawler_arn(client, name, account):
    return f"arn:{client.meta.partition}:glue:{client.meta.region_name}:{account}:crawler/{name}"


def desired(params):
    """The crawler's settings in the API's shape."""
    want = {
        "Role": params["role"],
        "DatabaseName": params["database_name"],
        "Description": params["description"],
        "Targets": {
            "S3Targets": [{"Path": t["path"], "Exclusions": t.get("exclusions") or []} for t in params["s3_targets"]]
        },
        "TablePrefix": params["table_prefix"],
        "SchemaChangePolicy": {
            "UpdateBehavior": params["update_behavior"],
            "DeleteBehavior": params["delete_behavior"],
        },
        "RecrawlPolicy": {"RecrawlBehavior": params["recrawl_behavior"]},
        "Schedule": params["schedule"],
    }
    if params["configuration"] is not None:
        want["Configuration"] = json.dumps(params["configuration"], sort_keys=True, separators=(",", ":"))
    return want


def current_settings(crawler):
    """An existing crawler's settings in the shape of ``desired``."""
    targets = crawler.get("Targets", {}).get("S3Targets", [])
    settings = {
        "Role": crawler.get("Role"),
        "DatabaseName": crawler.get("DatabaseName"),
        "Description": crawler.get("Description", ""),
        "Targets": {"S3Targets": [{"Path": t["Path"], "Exclusions": t.get("Exclusions") or []} for t in targets]},
        "TablePrefix": crawler.get("TablePrefix", ""),
        "SchemaChangePolicy": {
            "UpdateBehavior": crawler.get("SchemaChangePolicy", {}).get("UpdateBehavior", "UPDATE_IN_DATABASE"),
            "DeleteBehavior": crawler.get("SchemaChangePolicy", {}).get("DeleteBehavior", "DEPRECATE_IN_DATABASE"),
        },
        "RecrawlPolicy": {
            "RecrawlBehavior": crawler.get("RecrawlPolicy", {}).get("RecrawlBehavior", "CRAWL_EVERYTHING")
        },
        "Schedule": (crawler.get("Schedule") or {}).get("ScheduleExpression", ""),
    }
    if crawler.get("Configuration"):
        settings["Configuration"] = json.dumps(
            json.loads(crawler["Configuration"]), sort_keys=True, separators=(",", ":")
        )
    return settings


def role_matches(current, wanted):
    """Glue may report the role as a name or an ARN: compare the role names."""
    return (current or "").split("/")[-1] == (wanted or "").split("/")[-1]


def differences(current, want):
    keys = []
    for key, value in want.items():
        if key == "Role":
            if not role_matches(current.get("Role"), value):
                keys.append(key)
        elif current.get(key) != value:
            keys.append(key)
    return keys


def wait_idle(module, client, name):
    return wait_for(
        lambda: get_crawler(client, name) or {"State": "GONE"},
        lambda c: c["State"] in ("READY", "GONE"),
        f"crawler {name} to finish its crawl",
        timeout=module.params["wait_timeout"],
        delay=5,
    )


def view(crawler, tags=None):
    if not crawler:
        return {}
    out = camel_dict_to_snake_dict({k: v for k, v in crawler.items() if k not in ("CreationTime", "LastUpdated")})
    if tags is not None:
        out["tags"] = tags
    return out


def check(module, p):
    """Fail with a clear message on bad settings of one crawler."""
    name = p["name"]
    if p["state"] != "present":
        return
    if not (p["role"] and p["database_name"]):
        module.fail_json(msg=f"crawler {name}: role and database_name are required with state=present")
    if p["schedule"] and not CRON.match(p["schedule"]):
        module.fail_json(
            msg=f"crawler {name}: schedule '{p['schedule']}': a six-field Glue cron expression such as cron(0 2 * * ? *)"
        )
    if not p["s3_targets"]:
        module.fail_json(msg=f"crawler {name}: s3_targets: at least one S3 path")
    bad = [t["path"] for t in p["s3_targets"] if not t["path"].startswith("s3://")]
    if bad:
        module.fail_json(msg=f"crawler {name}: s3_targets: not an S3 path: {', '.join(bad)}")
    if p["recrawl_behavior"] == "CRAWL_NEW_FOLDERS_ONLY" and (p["update_behavior"], p["delete_behavior"]) != (
        "LOG",
        "LOG",
    ):
        module.fail_json(msg="recrawl_behavior CRAWL_NEW_FOLDERS_ONLY needs update_behavior and delete_behavior LOG")


def get_crawlers(client, names):
    """The crawlers called ``names`` as BatchGetCrawlers returns them, by name (missing ones left out)."""
    found = {}
    for start in range(0, len(names), 100):  # BatchGetCrawlers takes 100 names at most
        page = client.batch_get_crawlers(aws_retry=True, CrawlerNames=names[start : start + 100])
        found.update((crawler["Name"], crawler) for crawler in page.get("Crawlers", []))
    return found


def converge(module, client, p, crawler, account):
    """Bring the crawler ``p['name']`` (currently ``crawler``, None when missing) to ``p``: (changed, before, after)."""
    name = p["name"]
    changed = False
    arn = crawler_arn(client, name, account)
    tags = client.get_tags(aws_retry=True, ResourceArn=arn).get("Tags", {}) if crawler else {}
    before = view(crawler, tags)
    if p["state"] == "absent":
        if crawler:
            changed = True
            if not module.check_mode:
                wait_idle(module, client, name)
                try:
                    client.delete_crawler(aws_retry=True, Name=name)
                except is_boto3_error_code("EntityNotFoundException"):
                    pass
        return changed, before, {}
    want = desired(p)
    if crawler is None:
        changed = True
        if not module.check_mode:
            create = {k: v for k, v in want.items() if v != "" or k in ("Role", "DatabaseName")}
            client.create_crawler(aws_retry=True, Name=name, Tags=p["tags"] or {}, **create)
        tags = {}
    else:
        keys = differences(current_settings(crawler), want)
        if keys:
            changed = True
            if not module.check_mode:
                wait_idle(module, client, name)
                client.update_crawler(aws_retry=True, Name=name, **want)
        to_set, to_remove = tag_changes(tags, p["tags"], p["purge_tags"])
        if to_set or to_remove:
            changed = True
            if not module.check_mode:
                if to_set:
                    client.tag_resource(aws_retry=True, ResourceArn=arn, TagsToAdd=to_set)
                if to_remove:
                    client.untag_resource(aws_retry=True, ResourceArn=arn, TagsToRemove=to_remove)
    if not changed:
        return False, before, before
    if module.check_mode:
        after = {**before, **view({**want, "Name": name})}
        if p["tags"] is not None:
            after["tags"] = dict(p["tags"]) if p["purge_tags"] else {**tags, **p["tags"]}
        return True, before, after
    final = get_crawler(client, name)
    return True, before, view(final, client.get_tags(aws_retry=True, ResourceArn=arn).get("Tags", {}))


def main():
    s3_target = dict(path=dict(type="str", required=True), exclusions=dict(type="list", elements="str", default=[]))
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str"),
            crawlers=dict(
                type="list",
                elements="dict",
                options=dict(
                    name=dict(type="str", required=True),
                    description=dict(type="str"),
                    s3_targets=dict(type="list", elements="dict", options=s3_target),
                    schedule=dict(type="str"),
                    table_prefix=dict(type="str"),
                    configuration=dict(type="dict"),
                ),
            ),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            role=dict(type="str"),
            database_name=dict(type="str"),
            description=dict(type="str", default=""),
            s3_targets=dict(type="list", elements="dict", options=s3_target),
            schedule=dict(type="str", default=""),
            table_prefix=dict(type="str", default=""),
            update_behavior=dict(type="str", default="UPDATE_IN_DATABASE", choices=["UPDATE_IN_DATABASE", "LOG"]),
            delete_behavior=dict(
                type="str",
                default="DEPRECATE_IN_DATABASE",
                choices=["LOG", "DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE"],
            ),
            recrawl_behavior=dict(
                type="str", default="CRAWL_EVERYTHING", choices=["CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY"]
            ),
            configuration=dict(type="dict"),
            wait_timeout=dict(type="int", default=900),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
        ),
        required_one_of=[("name", "crawlers")],
        mutually_exclusive=[("name", "crawlers")],
        supports_check_mode=True,
    )
    p = module.params
    given = list_form_items(module, "crawlers", skip_none=True)
    names = [c["name"] for c in given]
    for crawler in given:
        check(module, crawler)

    client = module.client("glue", retry_decorator=AWSRetry.jittered_backoff())
    results, diff = [], {"before": {}, "after": {}}
    name = names[0] if p["crawlers"] is None else ", ".join(names)
    try:
        # One crawler: GetCrawler; several: one BatchGetCrawlers.
        current = {name: get_crawler(client, name)} if p["crawlers"] is None else get_crawlers(client, names)
        needs_account = p["state"] == "present" or any(current.get(n) for n in names)
        account = module.client("sts").get_caller_identity()["Account"] if needs_account else ""
        for crawler in given:
            name = crawler["name"]
            changed, before, after = converge(module, client, crawler, current.get(name), account)
            results.append((changed, after))
            diff["before"][name], diff["after"][name] = before, after
    except (WaitTimeout, WaitFailed) as e:
        module.fail_json(msg=f"Crawler {name}: {e}")
    except is_boto3_error_code("CrawlerRunningException") as e:
        module.fail_json_aws(e, msg=f"Crawler {name} started a crawl during the change; run again when it ends")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Crawler {name}: the AWS request failed")

    if p["crawlers"] is None:
        result = {"changed": results[0][0], "crawler": results[0][1]}
        diff = {"before": diff["before"][names[0]], "after": diff["after"][names[0]]}
    else:
        result = {
            "changed": any(changed for changed, after in results),
            "crawlers": [after for changed, after in results],
        }
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
