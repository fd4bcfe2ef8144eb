#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: glue_crawler_run
short_description: Run an AWS Glue crawler and wait for its result
version_added: 0.1.0
description:
  - Starts a Glue crawler and, with I(wait=true), waits until it is C(READY) again, then reports the
    crawl's status, duration and error.
  - A crawler that is already running is not an error - its current crawl is waited on instead (and the
    task reports no change, since it started nothing).
  - A crawl that ends C(FAILED) or C(CANCELLED) fails the task with the crawl's error message.
  - C(community.aws.glue_crawler) creates crawlers but cannot run them.
  - Each run starts a new crawl, so the module reports a change whenever it starts one; in check mode it
    reports the crawl it would start.
author:
  - SmartStream platform team (@smartstream)
options:
  name:
    description: Name of the crawler.
    required: true
    type: str
  wait:
    description: Wait for the crawl to end; C(false) only starts it.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the crawl to end.
    type: int
    default: 3600
  poll_interval:
    description: Longest pause between two looks at the crawler while waiting (the first looks come after 1, 2, 4... seconds).
    type: int
    default: 15
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Crawl the trusted zone and wait for the catalog to be updated
  smartstream.pipeline.glue_crawler_run:
    name: smartstream-dev-trusted
    wait_timeout: 1800
  register: crawl

- name: Start the analytics crawler without waiting
  smartstream.pipeline.glue_crawler_run:
    name: smartstream-dev-analytics
    wait: false
"""

RETURN = r"""
crawler:
  description: Name and state of the crawler after the run.
  returned: always
  type: dict
  contains:
    name:
      description: Name.
      returned: always
      type: str
      sample: smartstream-dev-trusted
    state:
      description: READY, RUNNING or STOPPING.
      returned: always
      type: str
      sample: READY
started:
  description: Whether this task started a crawl (false when it waited on one already running).
  returned: always
  type: bool
  sample: true
last_crawl:
  description: The crawl that ended (when waiting), as C(LastCrawl) of GetCrawler, in snake case.
  returned: when I(wait=true) and not in check mode
  type: dict
  contains:
    status:
      description: SUCCEEDED, CANCELLED or FAILED.
      returned: always
      type: str
      sample: SUCCEEDED
    error_message:
      description: Why the crawl failed.
      returned: when the crawl failed
      type: str
      sample: Insufficient Lake Formation permission(s)
    start_time:
      description: When the crawl started.
      returned: always
      type: str
      sample: "2026-11-24T02:00:04+00:00"
    log_group:
      description: CloudWatch log group of the crawl.
      returned: always
      type: str
      sample: /aws-glue/crawlers
duration_seconds:
  description: How long the task waited for the crawl to end.
  returned: when I(wait=true) and not in check mode
  type: float
  sample: 74.2
"""

import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.glue import get_crawler
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import WaitTimeout, wait_for

TERMINAL = ("SUCCEEDED", "CANCELLED", "FAILED")


def run(module, client, params):
    name = params["name"]
    crawler = get_crawler(client, name)
    if crawler is None:
        module.fail_json(msg=f"Glue crawler {name} does not exist")
    result = {"changed": False, "started": False, "crawler": {"name": name, "state": crawler["State"]}}
    if crawler["State"] == "READY":
        result["changed"] = result["started"] = True
        if module.check_mode:
            return result
        try:
            client.start_crawler(aws_retry=True, Name=name)
        except is_boto3_error_code("CrawlerRunningException"):
            result["changed"] = result["started"] = False  # started by someone else meanwhile: wait on it
    elif module.check_mode:
        return result
    if not params["wait"]:
        result["crawler"]["state"] = get_crawler(client, name)["State"]
        return result

    began = time.monotonic()
    # Right after StartCrawler the crawler may still read READY with the previous
    # crawl: the crawl is over only once it was seen running, or LastCrawl is a new one.
    previous_start = (crawler.get("LastCrawl") or {}).get("StartTime")
    seen = {"running": crawler["State"] != "READY"}

    def finished(current):
        if current["State"] != "READY":
            seen["running"] = True
            return False
        last = current.get("LastCrawl") or {}
        if last.get("Status") not in TERMINAL:
            return False
        return seen["running"] or last.get("StartTime") != previous_start

    final = wait_for(
        lambda: get_crawler(client, name),
        finished,
        f"crawler {name} to finish its crawl",
        timeout=params["wait_timeout"],
        delay=params["poll_interval"],
    )
    result["duration_seconds"] = round(time.monotonic() - began, 1)
    result["crawler"]["state"] = final["State"]
    last = camel_dict_to_snake_dict(final.get("LastCrawl", {}))
    result["last_crawl"] = last
    if last.get("status") in ("FAILED", "CANCELLED"):
        module.fail_json(
            msg=f"Glue crawler {name}: the crawl ended {last['status']}: {last.get('error_message', 'no message')}",
            **result,
        )
    return result


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=3600),
        poll_interval=dict(type="int", default=15),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    if module.params["poll_interval"] < 1 or module.params["wait_timeout"] < 1:
        module.fail_json(msg="poll_interval and wait_timeout: at least 1 second")
    client = module.client("glue", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = run(module, client, module.params)
    except WaitTimeout as e:
        module.fail_json(msg=f"Glue crawler {module.params['name']}: {e}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Glue crawler {module.params['name']}: the AWS request failed")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
