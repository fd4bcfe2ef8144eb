#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cloudwatch_dashboard
short_description: Manage a CloudWatch dashboard
version_added: 0.1.0
description:
  - Create, replace or delete a CloudWatch dashboard.
  - The body is given as a dictionary and compared with the current one semantically (key order and
    formatting do not count), so an unchanged dashboard reports no change.
  - No module of amazon.aws or community.aws manages CloudWatch dashboards.
author:
  - SmartStream platform team (@smartstream)
options:
  name:
    description: Name of the dashboard (letters, digits, C(-) and C(_); 1-255 characters).
    required: true
    type: str
  state:
    description: C(present) creates or replaces the dashboard, C(absent) deletes it.
    choices: [present, absent]
    default: present
    type: str
  body:
    description:
      - The dashboard body (C(widgets), optional C(start), C(end), C(periodOverride)) as a dictionary.
      - Required with I(state=present).
    type: dict
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Dashboard of the data flow
  smartstream.pipeline.cloudwatch_dashboard:
    name: smartstream-dev-pipeline
    body:
      widgets:
        - type: metric
          x: 0
          y: 0
          width: 12
          height: 6
          properties:
            title: Kinesis iterator age
            region: eu-north-1
            metrics:
              - [AWS/Kinesis, GetRecords.IteratorAgeMilliseconds, StreamName, smartstream-dev-cdc]

- name: Remove it
  smartstream.pipeline.cloudwatch_dashboard:
    name: smartstream-dev-pipeline
    state: absent
"""

RETURN = r"""
dashboard:
  description: The dashboard after the change (empty when absent).
  returned: always
  type: dict
  contains:
    name:
      description: Name.
      returned: when present
      type: str
      sample: smartstream-dev-pipeline
    arn:
      description: ARN of the dashboard.
      returned: when present
      type: str
      sample: arn:aws:cloudwatch::123456789012:dashboard/smartstream-dev-pipeline
    body:
      description: The body.
      returned: when present
      type: dict
      sample: {"widgets": []}
    url:
      description: Console address of the dashboard.
      returned: when present
      type: str
      sample: https://eu-north-1.console.aws.amazon.com/cloudwatch/home?region=eu-north-1#dashboards:name=smartstream-dev-pipeline
validation_messages:
  description: Messages CloudWatch returned about the body (a body with warnings is still saved).
  returned: when the dashboard was written
  type: list
  elements: dict
  sample: []
"""

import json
import re

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import canonical

NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def get_dashboard(client, name):
    try:
        return client.get_dashboard(aws_retry=True, DashboardName=name)
    except is_boto3_error_code("ResourceNotFound"):
        return None


def view(client, name, body, arn=None):
    region = client.meta.region_name
    return {
        "name": name,
        "arn": arn or f"arn:{client.meta.partition}:cloudwatch::unknown:dashboard/{name}",
        "body": body,
        "url": f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={name}",
    }


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        body=dict(type="dict"),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec, required_if=[("state", "present", ["body"])], supports_check_mode=True
    )
    name = module.params["name"]
    if not NAME.match(name):
        module.fail_json(msg=f"name '{name}': letters, digits, '-' and '_', 1-255 characters")
    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    result = {"changed": False, "dashboard": {}}
    try:
        current = get_dashboard(client, name)
        before = (
            view(client, name, json.loads(current["DashboardBody"]), current.get("DashboardArn")) if current else {}
        )
        if module.params["state"] == "absent":
            if current is not None:
                result["changed"] = True
                if not module.check_mode:
                    client.delete_dashboards(aws_retry=True, DashboardNames=[name])
            after = {}
        else:
            desired = canonical(module.params["body"])
            after = view(client, name, desired, before.get("arn"))
            if not current or canonical(before["body"]) != desired:
                result["changed"] = True
                if not module.check_mode:
                    response = client.put_dashboard(
                        aws_retry=True, DashboardName=name, DashboardBody=json.dumps(desired, sort_keys=True)
                    )
                    result["validation_messages"] = response.get("DashboardValidationMessages", [])
                    stored = get_dashboard(client, name)
                    after = view(client, name, json.loads(stored["DashboardBody"]), stored.get("DashboardArn"))
    except is_boto3_error_code(("InvalidParameterInput", "DashboardInvalidInputError")) as e:
        module.fail_json_aws(e, msg=f"CloudWatch refused the body of dashboard {name}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"CloudWatch dashboard {name}: the AWS request failed")
    result["dashboard"] = after
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
