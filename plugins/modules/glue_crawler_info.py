#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: glue_crawler_info
short_description: Read AWS Glue crawlers, their state and their last crawl
version_added: 0.1.0
description:
  - Describes Glue crawlers by name without changing anything, with their state (READY, RUNNING,
    STOPPING), schedule and the result of the last crawl, for health reports.
  - No module of amazon.aws or community.aws reads Glue crawlers.
author:
  - SmartStream platform team (@smartstream)
options:
  names:
    description: Names of the crawlers. Crawlers that do not exist are listed in RV(missing).
    required: true
    type: list
    elements: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Last crawl of each crawler
  smartstream.pipeline.glue_crawler_info:
    names: [smartstream-dev-trusted, smartstream-dev-trusted-analytics]
  register: crawlers
"""

RETURN = r"""
crawlers:
  description: The crawlers found, as GetCrawler returns them, in snake case.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "smartstream-dev-trusted", "state": "READY", "last_crawl": {"status": "SUCCEEDED"}}]
missing:
  description: Names given that no crawler has.
  returned: always
  type: list
  elements: str
  sample: []
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(names=dict(type="list", elements="str", required=True)), supports_check_mode=True
    )
    names = module.params["names"]
    client = module.client("glue", retry_decorator=AWSRetry.jittered_backoff())
    found = []
    try:
        for start in range(0, len(names), 100):
            found.extend(client.batch_get_crawlers(aws_retry=True, CrawlerNames=names[start : start + 100])["Crawlers"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Glue crawlers {', '.join(names)}: the AWS request failed")
    by_name = {c["Name"]: c for c in found}
    module.exit_json(
        changed=False,
        crawlers=[camel_dict_to_snake_dict(by_name[n]) for n in names if n in by_name],
        missing=[n for n in names if n not in by_name],
    )


if __name__ == "__main__":
    main()
