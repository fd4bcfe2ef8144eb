#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: s3_prefix_markers
short_description: Keep empty marker objects (folders) for several prefixes of an S3 bucket
version_added: 0.1.0
description:
  - Makes sure that, for each of I(prefixes), the bucket holds the zero-byte object whose key is the prefix
    itself (C(raw/)), the "folder" the S3 console shows, so that a prefix exists before any data is under it.
  - Looks at each marker with C(HeadObject) and writes only the missing ones (C(PutObject) of an empty body;
    the bucket's default encryption applies). With I(state=absent) deletes the markers (only the marker
    objects, never what is under the prefix).
  - C(amazon.aws.s3_object) with C(mode=create) does the same for one prefix per run, with three requests
    each (C(HeadBucket), C(GetBucketOwnershipControls), C(HeadObject)); this module converges every prefix of
    a bucket in one run.
author:
  - SmartStream platform team (@smartstream)
options:
  bucket:
    description: The bucket.
    required: true
    type: str
  prefixes:
    description:
      - The prefixes, each ending in C(/) (one is added when missing), for example C(raw/) or C(trusted/).
    required: true
    type: list
    elements: str
  state:
    description: C(present) creates the missing markers, C(absent) deletes the markers that exist.
    choices: [present, absent]
    default: present
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Needs C(s3:GetObject) (C(HeadObject)) on the markers, and C(s3:PutObject) or C(s3:DeleteObject) to change them.
"""

EXAMPLES = r"""
- name: The zones of the data lake exist before any data lands in them
  smartstream.pipeline.s3_prefix_markers:
    bucket: smartstream-dev-datalake-123456789012-eu-north-1
    prefixes: [raw, trusted, trusted-analytics, quarantine]
"""

RETURN = r"""
markers:
  description: The marker keys of I(prefixes) that exist after the run (or would, in check mode).
  returned: always
  type: list
  elements: str
  sample: [raw/, trusted/]
created:
  description: The marker keys the run created (or would create, in check mode).
  returned: always
  type: list
  elements: str
  sample: [quarantine/]
deleted:
  description: The marker keys the run deleted (or would delete, in check mode).
  returned: always
  type: list
  elements: str
  sample: []
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def marker_keys(prefixes):
    """The marker key of each prefix (with its trailing slash), in order, without repeats."""
    keys = []
    for prefix in prefixes:
        key = prefix if prefix.endswith("/") else f"{prefix}/"
        if key not in keys:
            keys.append(key)
    return keys


def exists(client, bucket, key):
    try:
        client.head_object(aws_retry=True, Bucket=bucket, Key=key)
        return True
    except is_boto3_error_code(["404", "NoSuchKey", "NotFound", "NoSuchBucket"]):
        return False


def plan(state, existing, keys):
    """The keys to create and to delete to bring the markers ``existing`` (a set) to ``state``."""
    if state == "absent":
        return [], [k for k in keys if k in existing]
    return [k for k in keys if k not in existing], []


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            bucket=dict(type="str", required=True),
            prefixes=dict(type="list", elements="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    bad = [prefix for prefix in p["prefixes"] if not prefix.strip("/") or prefix.startswith("/")]
    if bad:
        module.fail_json(msg=f"prefixes: not a key prefix (empty, or starting with /): {bad}")
    keys = marker_keys(p["prefixes"])
    bucket = p["bucket"]

    client = module.client("s3", retry_decorator=AWSRetry.jittered_backoff())
    # HeadObject answers 404 for a missing bucket as for a missing key: a missing bucket has no markers (in
    # check mode an earlier task of the run would create it); creating them in it fails clearly below.
    try:
        existing = {key for key in keys if exists(client, bucket, key)}
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Markers of bucket {bucket}: reading them failed")

    create, delete = plan(p["state"], existing, keys)
    if not module.check_mode:
        try:
            for key in create:
                client.put_object(aws_retry=True, Bucket=bucket, Key=key, Body=b"")
            for key in delete:
                client.delete_object(aws_retry=True, Bucket=bucket, Key=key)
        except is_boto3_error_code("NoSuchBucket") as e:
            module.fail_json_aws(e, msg=f"Bucket {bucket} not found: create it before its markers")
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            module.fail_json_aws(e, msg=f"Markers of bucket {bucket}: writing them failed")

    after = sorted((existing | set(create)) - set(delete))
    result = {"changed": bool(create or delete), "markers": after, "created": create, "deleted": delete}
    if module._diff:
        result["diff"] = {"before": {"markers": sorted(existing)}, "after": {"markers": after}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
