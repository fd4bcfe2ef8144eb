#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: sns_topic_encryption
short_description: Server-side encryption of an SNS topic with a KMS key
version_added: 0.1.0
description:
  - Sets the C(KmsMasterKeyId) attribute of an existing SNS topic (server-side encryption of its messages),
    or removes it (I(kms_master_key_id) empty), only when it differs.
  - C(community.aws.sns_topic) has no option for the topic's encryption.
  - A topic encrypted with a customer-managed key accepts messages from AWS services (CloudWatch alarms,
    EventBridge) only when the key policy lets those services use the key.
author:
  - SmartStream platform team (@smartstream)
options:
  topic_arn:
    description: ARN of the topic.
    required: true
    type: str
  kms_master_key_id:
    description:
      - The KMS key (ARN, id or alias) that encrypts the topic's messages.
      - An empty string turns server-side encryption off.
    required: true
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Encrypt the alert topic with the environment's key
  smartstream.pipeline.sns_topic_encryption:
    topic_arn: arn:aws:sns:eu-north-1:123456789012:smartstream-dev-alerts
    kms_master_key_id: arn:aws:kms:eu-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
"""

RETURN = r"""
kms_master_key_id:
  description: The topic's key after the change (empty when the topic is not encrypted).
  returned: always
  type: str
  sample: arn:aws:kms:eu-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def current_key(client, topic_arn):
    attributes = client.get_topic_attributes(aws_retry=True, TopicArn=topic_arn)["Attributes"]
    return attributes.get("KmsMasterKeyId", "")


def main():
    argument_spec = dict(
        topic_arn=dict(type="str", required=True),
        kms_master_key_id=dict(type="str", required=True, no_log=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    topic_arn, wanted = module.params["topic_arn"], module.params["kms_master_key_id"]
    client = module.client("sns", retry_decorator=AWSRetry.jittered_backoff())
    try:
        before = current_key(client, topic_arn)
        changed = before != wanted
        if changed and not module.check_mode:
            client.set_topic_attributes(
                aws_retry=True, TopicArn=topic_arn, AttributeName="KmsMasterKeyId", AttributeValue=wanted
            )
    except is_boto3_error_code("NotFound") as e:
        module.fail_json_aws(e, msg=f"SNS topic {topic_arn} does not exist")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"SNS topic {topic_arn}: the AWS request failed")
    result = {"changed": changed, "kms_master_key_id": wanted}
    if module._diff:
        result["diff"] = {"before": {"kms_master_key_id": before}, "after": {"kms_master_key_id": wanted}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
