#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: firehose_delivery_stream
short_description: Manage an Amazon Data Firehose delivery stream to S3
version_added: 0.1.0
description:
  - Create, update or delete a Firehose delivery stream that reads a Kinesis data stream
    (C(KinesisStreamAsSource)) or takes records directly (C(DirectPut)), and delivers them to S3
    (extended S3 destination) with prefix, error-output prefix, buffering, compression, encryption,
    CloudWatch logging and record processors such as C(AppendDelimiterToRecord).
  - Creation is asynchronous; with I(wait=true) the module waits for C(ACTIVE) (and fails with AWS's
    reason on C(CREATING_FAILED)), and after deletion for the stream to be gone.
  - The destination is updated in place through C(UpdateDestination) with the current version id.
    The source (type, stream, role) cannot be changed in place; a change to it is reported as requiring
    replacement (delete and create again).
  - No module of amazon.aws or community.aws manages Firehose delivery streams.
author:
  - SmartStream platform team (@smartstream)
options:
  name:
    description: Name of the delivery stream (letters, digits, C(_), C(.), C(-); 1-64 characters).
    required: true
    type: str
  state:
    description: C(present) creates or updates, C(absent) deletes.
    choices: [present, absent]
    default: present
    type: str
  source:
    description: Where records come from.
    choices: [kinesis_stream, direct_put]
    default: kinesis_stream
    type: str
  kinesis_stream_arn:
    description: ARN of the Kinesis data stream to read (with I(source=kinesis_stream)).
    type: str
  source_role_arn:
    description: Role Firehose assumes to read the Kinesis data stream (with I(source=kinesis_stream)).
    type: str
  role_arn:
    description: Role Firehose assumes to write to S3 (and to log to CloudWatch). Required with I(state=present).
    type: str
  bucket_arn:
    description: ARN of the destination bucket. Required with I(state=present).
    type: str
  prefix:
    description: Key prefix of delivered objects, for example C(raw/).
    type: str
    default: ""
  error_output_prefix:
    description: Key prefix of records Firehose could not deliver or process.
    type: str
    default: ""
  buffering_size_mb:
    description: Size of the buffer before delivery, in MiB (1-128).
    type: int
    default: 5
  buffering_interval_seconds:
    description: Time before delivery, in seconds (0-900).
    type: int
    default: 300
  compression:
    description: Compression of delivered objects.
    choices: [UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]
    default: UNCOMPRESSED
    type: str
  kms_key_arn:
    description: KMS key to encrypt delivered objects with; omitted uses the bucket's default encryption.
    type: str
  cloudwatch_logging:
    description: CloudWatch Logs of delivery errors.
    type: dict
    suboptions:
      enabled:
        description: Whether delivery errors are logged.
        type: bool
        default: true
      log_group:
        description: Log group name.
        type: str
      log_stream:
        description:
          - Log stream name. Created in I(log_group) when missing (Firehose does not create it when the
            stream is made through the API; the log group must exist).
        type: str
  processors:
    description:
      - Record processors, in order. Each has a C(type) and C(parameters) (name to value).
      - An empty list disables processing.
    type: list
    elements: dict
    default: []
    suboptions:
      type:
        description: Processor type, for example C(AppendDelimiterToRecord), C(Lambda), C(MetadataExtraction).
        type: str
        required: true
      parameters:
        description: Parameters of the processor (C(ParameterName) to C(ParameterValue)).
        type: dict
        default: {}
  wait:
    description:
      - Wait for C(ACTIVE) after a change, or for the stream to be gone after deletion.
      - With I(state=absent), a stream already C(DELETING) is only waited for (reported unchanged);
        a run that started the deletion without waiting can wait for it later.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 900
  poll_interval:
    description: Longest pause between two looks while waiting (the first looks come after 1, 2, 4... seconds).
    type: int
    default: 5
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Kinesis stream to raw/ in GZIP, one record per line
  smartstream.pipeline.firehose_delivery_stream:
    name: smartstream-dev-raw
    source: kinesis_stream
    kinesis_stream_arn: arn:aws:kinesis:eu-north-1:123456789012:stream/smartstream-dev-cdc
    source_role_arn: arn:aws:iam::123456789012:role/smartstream-dev-firehose
    role_arn: arn:aws:iam::123456789012:role/smartstream-dev-firehose
    bucket_arn: arn:aws:s3:::smartstream-dev-datalake-123456789012-eu-north-1
    prefix: raw/
    error_output_prefix: "errors/!{firehose:error-output-type}/"
    buffering_size_mb: 5
    buffering_interval_seconds: 60
    compression: GZIP
    cloudwatch_logging:
      log_group: /aws/kinesisfirehose/smartstream-dev-raw
      log_stream: S3Delivery
    processors:
      - type: AppendDelimiterToRecord
        parameters:
          Delimiter: "\\n"
    tags:
      Project: smartstream
"""

RETURN = r"""
delivery_stream:
  description: The delivery stream after the change (empty when absent), as DescribeDeliveryStream returns it, in snake case.
  returned: always
  type: dict
  contains:
    delivery_stream_name:
      description: Name.
      returned: when present
      type: str
      sample: smartstream-dev-raw
    delivery_stream_arn:
      description: ARN.
      returned: when present
      type: str
      sample: arn:aws:firehose:eu-north-1:123456789012:deliverystream/smartstream-dev-raw
    delivery_stream_status:
      description: Status (CREATING, ACTIVE, CREATING_FAILED, DELETING ...).
      returned: when present
      type: str
      sample: ACTIVE
    delivery_stream_type:
      description: KinesisStreamAsSource or DirectPut.
      returned: when present
      type: str
      sample: KinesisStreamAsSource
    version_id:
      description: Version of the configuration.
      returned: when present
      type: str
      sample: "2"
    destinations:
      description: The destinations with their settings.
      returned: when present
      type: list
      elements: dict
      sample: []
    tags:
      description: Tags.
      returned: when present
      type: dict
      sample: {"Project": "smartstream"}
"""

import re

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.firehose import ensure_absent, ensure_present
from ansible_collections.smartstream.pipeline.plugins.module_utils.firehose_kinesis_source import SOURCE_TYPES
from ansible_collections.smartstream.pipeline.plugins.module_utils.firehose_s3_destination import ensure_log_stream
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import WaitFailed, WaitTimeout

NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")


def validate(module, params):
    if not NAME.match(params["name"]):
        module.fail_json(msg=f"name '{params['name']}': letters, digits, '_', '.', '-'; 1-64 characters")
    if params["state"] == "absent":
        return
    missing = [k for k in ("role_arn", "bucket_arn") if not params[k]]
    if params["source"] == "kinesis_stream":
        missing += [k for k in ("kinesis_stream_arn", "source_role_arn") if not params[k]]
    if missing:
        module.fail_json(msg=f"state=present with source={params['source']} needs: {', '.join(missing)}")
    if not 1 <= params["buffering_size_mb"] <= 128:
        module.fail_json(msg=f"buffering_size_mb {params['buffering_size_mb']}: 1-128")
    if not 0 <= params["buffering_interval_seconds"] <= 900:
        module.fail_json(msg=f"buffering_interval_seconds {params['buffering_interval_seconds']}: 0-900")
    if "!{" in params["prefix"] and not params["error_output_prefix"]:
        module.fail_json(msg="a prefix with expressions (!{...}) needs error_output_prefix, as Firehose requires")


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        source=dict(type="str", default="kinesis_stream", choices=list(SOURCE_TYPES)),
        kinesis_stream_arn=dict(type="str"),
        source_role_arn=dict(type="str"),
        role_arn=dict(type="str"),
        bucket_arn=dict(type="str"),
        prefix=dict(type="str", default=""),
        error_output_prefix=dict(type="str", default=""),
        buffering_size_mb=dict(type="int", default=5),
        buffering_interval_seconds=dict(type="int", default=300),
        compression=dict(
            type="str", default="UNCOMPRESSED", choices=["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"]
        ),
        kms_key_arn=dict(type="str", no_log=False),
        cloudwatch_logging=dict(
            type="dict",
            options=dict(
                enabled=dict(type="bool", default=True),
                log_group=dict(type="str"),
                log_stream=dict(type="str"),
            ),
        ),
        processors=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(type=dict(type="str", required=True), parameters=dict(type="dict", default={})),
        ),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=900),
        poll_interval=dict(type="int", default=5),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    validate(module, params)
    client = module.client("firehose", retry_decorator=AWSRetry.jittered_backoff())
    try:
        if params["state"] == "present":
            stream_created = ensure_log_stream(module, params)
            changed, before, after = ensure_present(module, client, params)
            changed = changed or stream_created
        else:
            changed, before, after = ensure_absent(module, client, params)
    except (WaitTimeout, WaitFailed) as e:
        module.fail_json(msg=f"Delivery stream {params['name']}: {e}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Delivery stream {params['name']}: the AWS request failed")
    result = {"changed": changed, "delivery_stream": after}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
