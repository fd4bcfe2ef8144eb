#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: s3_bucket_logging
short_description: Turn S3 server access logging of buckets on or off, without ACLs
version_added: 0.1.0
description:
  - Sets or removes the server access logging configuration (C(PutBucketLogging)) of a bucket.
  - Never touches ACLs. The target bucket must let the logging service write through its bucket policy
    (principal C(logging.s3.amazonaws.com), C(s3:PutObject) under the prefix, conditions
    C(aws:SourceArn) and C(aws:SourceAccount)), which is what AWS recommends and the only way for a
    target with ACLs disabled (object ownership C(BucketOwnerEnforced)).
  - C(community.aws.s3_logging) adds a C(LogDelivery) group grant to the target bucket's ACL, which S3
    refuses on such a bucket (C(AccessControlListNotSupported)).
  - With I(buckets), the logging of several buckets is converged in one run of the module.
author:
  - SmartStream platform team (@smartstream)
options:
  name:
    description:
      - The bucket whose requests are logged.
      - Exactly one of I(name) and I(buckets) is required.
    type: str
  buckets:
    description:
      - Several buckets, each logged into I(target_bucket) under its own prefix, instead of I(name) and
        I(target_prefix).
      - Exactly one of I(name) and I(buckets) is required.
    type: list
    elements: dict
    suboptions:
      name:
        description: The bucket whose requests are logged.
        required: true
        type: str
      target_prefix:
        description: Prefix of its log objects in I(target_bucket).
        default: ""
        type: str
  state:
    description: C(present) logs the bucket's requests to I(target_bucket), C(absent) stops logging.
    choices: [present, absent]
    default: present
    type: str
  target_bucket:
    description:
      - The bucket the logs are written to (same account and region). Required with I(state=present).
      - It must not be I(name) itself (a bucket logging into itself logs its own log deliveries).
    type: str
  target_prefix:
    description: Prefix of the log objects in I(target_bucket), e.g. C(s3-access-logs/<bucket>/).
    default: ""
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Log the data lake's requests into the logs bucket
  smartstream.pipeline.s3_bucket_logging:
    name: smartstream-dev-datalake-123456789012-eu-north-1
    target_bucket: smartstream-dev-s3logs-123456789012-eu-north-1
    target_prefix: s3-access-logs/smartstream-dev-datalake-123456789012-eu-north-1/

- name: Log two buckets' requests in one task
  smartstream.pipeline.s3_bucket_logging:
    target_bucket: smartstream-dev-s3logs-123456789012-eu-north-1
    buckets:
      - name: smartstream-dev-datalake-123456789012-eu-north-1
        target_prefix: s3-access-logs/smartstream-dev-datalake-123456789012-eu-north-1/
      - name: smartstream-dev-athena-123456789012-eu-north-1
        target_prefix: s3-access-logs/smartstream-dev-athena-123456789012-eu-north-1/

- name: Stop logging (before the logs bucket is removed)
  smartstream.pipeline.s3_bucket_logging:
    name: smartstream-dev-datalake-123456789012-eu-north-1
    state: absent
"""

RETURN = r"""
buckets:
  description: With I(buckets), each bucket's C(name), C(logging) after the change (as I(logging) below) and C(changed).
  returned: with I(buckets)
  type: list
  elements: dict
  sample: [{"name": "smartstream-dev-datalake-123456789012-eu-north-1", "changed": false, "logging": {}}]
logging:
  description: The bucket's logging configuration after the change (empty when logging is off).
  returned: with I(name)
  type: dict
  contains:
    target_bucket:
      description: Bucket the logs go to.
      returned: when logging is on
      type: str
      sample: smartstream-dev-s3logs-123456789012-eu-north-1
    target_prefix:
      description: Prefix of the log objects.
      returned: when logging is on
      type: str
      sample: s3-access-logs/smartstream-dev-datalake-123456789012-eu-north-1/
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import list_form_items


def current_logging(client, bucket):
    """The bucket's logging as {target_bucket, target_prefix}, {} when off, None when the bucket is missing."""
    try:
        enabled = client.get_bucket_logging(aws_retry=True, Bucket=bucket).get("LoggingEnabled")
    except is_boto3_error_code("NoSuchBucket"):
        return None
    if not enabled:
        return {}
    return {"target_bucket": enabled.get("TargetBucket"), "target_prefix": enabled.get("TargetPrefix", "")}


def desired_logging(params):
    if params["state"] == "absent":
        return {}
    return {"target_bucket": params["target_bucket"], "target_prefix": params["target_prefix"]}


def apply(client, bucket, desired):
    status = {}
    if desired:
        status = {
            "LoggingEnabled": {"TargetBucket": desired["target_bucket"], "TargetPrefix": desired["target_prefix"]}
        }
    client.put_bucket_logging(aws_retry=True, Bucket=bucket, BucketLoggingStatus=status)


def converge(module, client, bucket, params):
    """Bring one bucket's logging to ``params`` (state, target_bucket, target_prefix): (changed, before, after)."""
    desired = desired_logging(params)
    try:
        before = current_logging(client, bucket)
        if before is None:
            if params["state"] == "absent":
                return False, {}, {}
            module.fail_json(msg=f"Bucket {bucket} not found: create it before turning its logging on")
        changed = before != desired
        if changed and not module.check_mode:
            apply(client, bucket, desired)
    except is_boto3_error_code("InvalidTargetBucketForLogging") as e:
        module.fail_json_aws(
            e,
            msg=(
                f"S3 refused {params['target_bucket']} as the log target of {bucket}: it must exist in the same"
                " account and region, and its bucket policy must let logging.s3.amazonaws.com PutObject under"
                f" '{params['target_prefix']}' for this source bucket"
            ),
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Logging of bucket {bucket}: the AWS request failed")
    return changed, before, desired


def main():
    argument_spec = dict(
        name=dict(type="str"),
        buckets=dict(
            type="list",
            elements="dict",
            options=dict(name=dict(type="str", required=True), target_prefix=dict(type="str", default="")),
        ),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        target_bucket=dict(type="str"),
        target_prefix=dict(type="str", default=""),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_one_of=[("name", "buckets")],
        mutually_exclusive=[("name", "buckets")],
        required_if=[("state", "present", ["target_bucket"])],
        supports_check_mode=True,
    )
    p = module.params
    given = list_form_items(module, "buckets")
    names = [b["name"] for b in given]
    for bucket in names:
        if p["state"] == "present" and p["target_bucket"] == bucket:
            module.fail_json(msg=f"Bucket {bucket} cannot log into itself: name a separate target_bucket")
    client = module.client("s3", retry_decorator=AWSRetry.jittered_backoff())
    results, diff = [], {"before": {}, "after": {}}
    for bucket in given:
        changed, before, after = converge(module, client, bucket["name"], bucket)
        results.append({"name": bucket["name"], "changed": changed, "logging": after})
        diff["before"][bucket["name"]], diff["after"][bucket["name"]] = before, after

    if p["buckets"] is None:
        result = {"changed": results[0]["changed"], "logging": results[0]["logging"]}
        diff = {"before": diff["before"][names[0]], "after": diff["after"][names[0]]}
    else:
        result = {"changed": any(r["changed"] for r in results), "buckets": results}
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
