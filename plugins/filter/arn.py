# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
name: arn
short_description: The ARN of a resource, in the partition of its region
version_added: 0.2.0
description:
  - Builds C(arn:<partition>:<service>:<region>:<account>:<resource>), the one way the roles build an ARN
    when no module returns it.
  - The partition follows from the region (C(cn-*) is C(aws-cn), C(us-gov-*) is C(aws-us-gov), the ISO regions
    their own partitions, every other region C(aws)) unless I(partition) is given.
  - Services whose ARNs carry no region (C(iam), C(s3), C(route53), C(cloudfront), C(organizations)) get an empty
    region field, and C(s3) (buckets and objects) an empty account field too; I(region) still picks their partition.
author:
  - SmartStream platform team (@smartstream)
options:
  _input:
    description:
      - The resource part of the ARN, with the separator its service uses, for example C(stream/<name>),
        C(role/<name>), C(function:<name>), C(log-group:<name>), or a bucket name (C(s3)).
    type: str
    required: true
  service:
    description: The service namespace (C(kinesis), C(iam), C(s3), C(logs)...).
    type: str
    required: true
  region:
    description: The region of the resource (C(smartstream_region)); empty gives the C(aws) partition unless I(partition) says otherwise.
    type: str
    default: ""
  account:
    description: The 12-digit account of the resource (C(smartstream_account_id)), C(aws) for AWS managed policies, or empty.
    type: str
    default: ""
  partition:
    description: The partition (C(aws), C(aws-cn), C(aws-us-gov)...); empty follows from I(region). A partition that contradicts the region fails.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: The stream's ARN (arn:aws:kinesis:eu-north-1:123456789012:stream/smartstream-prod-cdc)
  ansible.builtin.debug:
    msg: "{{ ('stream/' ~ streaming_stream_name) | smartstream.pipeline.arn('kinesis', smartstream_region, smartstream_account_id) }}"

- name: A bucket (arn:aws-cn:s3:::my-bucket in cn-north-1; no region, no account)
  ansible.builtin.debug:
    msg: "{{ 'my-bucket' | smartstream.pipeline.arn('s3', smartstream_region) }}"

- name: An AWS managed policy (arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess in us-gov-west-1)
  ansible.builtin.debug:
    msg: "{{ 'policy/ReadOnlyAccess' | smartstream.pipeline.arn('iam', smartstream_region, 'aws') }}"
"""

RETURN = r"""
_value:
  description: The ARN.
  type: str
  sample: arn:aws:kinesis:eu-north-1:123456789012:stream/smartstream-prod-cdc
"""

import re  # noqa: E402 (documentation first, as in modules)

from ansible.errors import AnsibleFilterError  # noqa: E402

# Region name prefixes of the partitions other than aws (botocore's endpoints.json).
PARTITION_OF_REGION_PREFIX = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("eu-isoe-", "aws-iso-e"),
    ("us-iso-", "aws-iso"),
)
PARTITIONS = {"aws"} | {partition for prefix, partition in PARTITION_OF_REGION_PREFIX}
# Services whose ARNs have an empty region field; s3 (buckets, objects) an empty account field too.
NO_REGION = {"iam", "s3", "route53", "cloudfront", "organizations"}
NO_ACCOUNT = {"s3"}

_SERVICE = re.compile(r"^[a-z][a-z0-9-]*$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
_ACCOUNT = re.compile(r"^([0-9]{12}|aws)$")


def partition_of(region):
    """The partition a region belongs to ('aws' for an empty region)."""
    for prefix, partition in PARTITION_OF_REGION_PREFIX:
        if region.startswith(prefix):
            return partition
    return "aws"


def arn(resource, service, region="", account="", partition=""):
    """arn:<partition>:<service>:<region>:<account>:<resource>, partition from the region unless given."""
    resource, service = str(resource or ""), str(service or "")
    region, account, partition = str(region or ""), str(account or ""), str(partition or "")
    if not resource:
        raise AnsibleFilterError("arn: the resource is empty")
    if not _SERVICE.match(service):
        raise AnsibleFilterError(f"arn: bad service {service!r}")
    if region and not _REGION.match(region):
        raise AnsibleFilterError(f"arn: bad region {region!r}")
    if account and not _ACCOUNT.match(account):
        raise AnsibleFilterError(f"arn: bad account {account!r} (12 digits, or aws)")
    if partition and partition not in PARTITIONS:
        raise AnsibleFilterError(f"arn: unknown partition {partition!r} (one of {', '.join(sorted(PARTITIONS))})")
    if partition and region and partition != partition_of(region):
        raise AnsibleFilterError(f"arn: region {region} is in partition {partition_of(region)}, not {partition}")
    partition = partition or partition_of(region)
    if service in NO_REGION:
        region = ""
    if service in NO_ACCOUNT:
        account = ""
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


class FilterModule:
    def filters(self):
        return {"arn": arn}
