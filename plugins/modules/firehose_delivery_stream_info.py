#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: firehose_delivery_stream_info
short_description: Read an Amazon Data Firehose delivery stream's status and configuration
version_added: 0.1.0
description:
  - Describes one delivery stream without changing anything, for checks such as "Firehose is ACTIVE before
    DMS starts writing to its Kinesis source" and health reports.
author:
  - SmartStream platform team (@smartstream)
options:
  name:
    description: Name of the delivery stream.
    required: true
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Is Firehose ready to read the stream?
  smartstream.pipeline.firehose_delivery_stream_info:
    name: smartstream-dev-raw
  register: firehose
  failed_when: firehose.delivery_stream.delivery_stream_status | default('') != 'ACTIVE'
"""

RETURN = r"""
exists:
  description: Whether the delivery stream exists.
  returned: always
  type: bool
  sample: true
delivery_stream:
  description: DescribeDeliveryStream's description in snake case (empty when it does not exist).
  returned: always
  type: dict
  sample: {"delivery_stream_name": "smartstream-dev-raw", "delivery_stream_status": "ACTIVE"}
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main():
    module = AnsibleAWSModule(argument_spec=dict(name=dict(type="str", required=True)), supports_check_mode=True)
    name = module.params["name"]
    client = module.client("firehose", retry_decorator=AWSRetry.jittered_backoff())
    try:
        description = client.describe_delivery_stream(aws_retry=True, DeliveryStreamName=name)[
            "DeliveryStreamDescription"
        ]
    except is_boto3_error_code("ResourceNotFoundException"):
        description = None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Delivery stream {name}: the AWS request failed")
    module.exit_json(
        changed=False,
        exists=description is not None,
        delivery_stream=camel_dict_to_snake_dict(description) if description else {},
    )


if __name__ == "__main__":
    main()
