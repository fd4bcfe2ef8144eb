#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: s3_bucket_lifecycle
short_description: Converge the whole lifecycle configuration of S3 buckets, one request per bucket
version_added: 0.1.0
description:
  - Reads the bucket's lifecycle configuration once, compares it with I(rules) and, when they differ,
    writes the whole configuration in one C(PutBucketLifecycleConfiguration).
  - C(community.aws.s3_lifecycle) converges one rule per task, as a read-modify-write of the whole
    configuration; two tasks on one bucket can then overwrite each other while S3 still serves the older
    configuration, which is why its I(wait) reads the rules back six times five seconds apart after every
    change (30 seconds per changed rule). Writing every rule of a bucket at once has no such race; this
    module waits only until one read returns what it wrote.
  - Rules are compared by I(id); their order does not matter.
  - With I(buckets), several buckets' configurations are converged in one run of the module, each as if given
    alone with I(name) and I(rules).
author:
  - SmartStream platform team (@smartstream)
options:
  name:
    description:
      - The bucket.
      - Exactly one of I(name) and I(buckets) is required.
    type: str
  state:
    description: C(present) makes the configuration hold I(rules); C(absent) deletes the whole configuration.
    choices: [present, absent]
    default: present
    type: str
  purge_rules:
    description: Remove the rules of the bucket that I(rules) does not name. With C(false), they are kept.
    default: true
    type: bool
  rules:
    description: The rules. At least one action per rule.
    type: list
    elements: dict
    default: []
    suboptions: &rule_options
      id:
        description: Unique identifier of the rule in the bucket.
        required: true
        type: str
      prefix:
        description: Key prefix the rule applies to (the rule's C(Filter)); C("") is the whole bucket.
        default: ""
        type: str
      status:
        description: Whether the rule is applied.
        choices: [enabled, disabled]
        default: enabled
        type: str
      expiration_days:
        description: Days after creation when current versions expire.
        type: int
      transitions:
        description: Transitions of current versions to other storage classes.
        type: list
        elements: dict
        default: []
        suboptions:
          days:
            description: Days after creation.
            required: true
            type: int
          storage_class:
            description: Target storage class, e.g. C(STANDARD_IA), C(GLACIER_IR), C(GLACIER).
            required: true
            type: str
      noncurrent_version_expiration_days:
        description: Days after an object version becomes noncurrent when it is deleted.
        type: int
      abort_incomplete_multipart_upload_days:
        description: Days after an incomplete multipart upload starts when its parts are deleted.
        type: int
  buckets:
    description:
      - Several buckets and the rules of each, instead of I(name) and I(rules). I(state) and I(purge_rules)
        apply to each.
      - Exactly one of I(name) and I(buckets) is required.
    type: list
    elements: dict
    suboptions:
      name:
        description: The bucket.
        required: true
        type: str
      rules:
        description: The bucket's rules, as I(rules).
        type: list
        elements: dict
        default: []
        suboptions: *rule_options
  wait_timeout:
    description:
      - Seconds to wait after a change until a read of the configuration returns what was written
        (S3 propagates lifecycle configuration eventually). C(0) does not wait.
    default: 60
    type: int
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Lifecycle of the data lake (every rule in one task)
  smartstream.pipeline.s3_bucket_lifecycle:
    name: smartstream-dev-datalake-123456789012-eu-north-1
    rules:
      - id: raw-tiering
        prefix: raw/
        transitions:
          - {days: 30, storage_class: STANDARD_IA}
        expiration_days: 180
      - id: quarantine-expiry
        prefix: quarantine/
        expiration_days: 30
      - id: noncurrent-and-multipart
        noncurrent_version_expiration_days: 7
        abort_incomplete_multipart_upload_days: 7

- name: The lifecycle of two buckets in one task
  smartstream.pipeline.s3_bucket_lifecycle:
    buckets:
      - name: smartstream-dev-athena-123456789012-eu-north-1
        rules:
          - {id: results-expiry, expiration_days: 30}
      - name: smartstream-dev-access-logs-123456789012-eu-north-1
        rules:
          - {id: access-logs-expiry, expiration_days: 90}

- name: No lifecycle at all
  smartstream.pipeline.s3_bucket_lifecycle:
    name: smartstream-dev-datalake-123456789012-eu-north-1
    state: absent
"""

RETURN = r"""
buckets:
  description: With I(buckets), each bucket's C(name), C(rules) after the run (as I(rules) below) and C(changed).
  returned: with I(buckets)
  type: list
  elements: dict
  sample: [{"name": "smartstream-dev-athena-123456789012-eu-north-1", "changed": false, "rules": []}]
rules:
  description: The bucket's rules after the run, in the S3 API's shape, sorted by ID (empty when none).
  returned: with I(name)
  type: list
  elements: dict
  sample:
    - ID: quarantine-expiry
      Filter: {Prefix: quarantine/}
      Status: Enabled
      Expiration: {Days: 30}
"""

import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import list_form_items

POLL_INTERVAL_S = 2


def api_rule(rule):
    """One rule of the options in the S3 API's shape."""
    out = {"ID": rule["id"], "Filter": {"Prefix": rule["prefix"]}, "Status": rule["status"].capitalize()}
    if rule.get("expiration_days") is not None:
        out["Expiration"] = {"Days": rule["expiration_days"]}
    if rule.get("transitions"):
        out["Transitions"] = [{"Days": t["days"], "StorageClass": t["storage_class"]} for t in rule["transitions"]]
    if rule.get("noncurrent_version_expiration_days") is not None:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": rule["noncurrent_version_expiration_days"]}
    if rule.get("abort_incomplete_multipart_upload_days") is not None:
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": rule["abort_incomplete_multipart_upload_days"]}
    return out


def normalized(rule):
    """A rule as S3 returns it, reduced to what this module sets, so equal rules compare equal.

    S3 may return a top-level Prefix instead of a Filter (rules written by older clients), an empty
    Filter for the whole bucket, and optional fields (NewerNoncurrentVersions, ExpiredObjectDeleteMarker)
    this module does not manage; they are kept so a foreign rule never compares equal to ours.
    """
    out = dict(rule)
    prefix = out.pop("Prefix", None)
    rule_filter = out.get("Filter")
    if rule_filter is None or rule_filter == {}:
        out["Filter"] = {"Prefix": prefix or ""}
    if "Transitions" in out:
        out["Transitions"] = sorted(out["Transitions"], key=lambda t: (t.get("Days", 0), t.get("StorageClass", "")))
    return out


def by_id(rules):
    return {rule["ID"]: normalized(rule) for rule in rules}


def read_rules(client, bucket):
    """The bucket's rules by ID; None when the bucket does not exist."""
    try:
        return by_id(client.get_bucket_lifecycle_configuration(aws_retry=True, Bucket=bucket)["Rules"])
    except is_boto3_error_code("NoSuchLifecycleConfiguration"):
        return {}
    except is_boto3_error_code("NoSuchBucket"):  # pylint: disable=duplicate-except
        return None


def desired_rules(params, before):
    if params["state"] == "absent":
        return {}
    wanted = by_id(api_rule(rule) for rule in params["rules"])
    if not params["purge_rules"]:
        return {**before, **wanted}
    return wanted


def validate(module, bucket, rules):
    ids = [rule["id"] for rule in rules]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        module.fail_json(msg=f"Rule IDs must be unique in a bucket ({bucket}): {', '.join(duplicates)} repeated")
    for rule in rules:
        actions = ("expiration_days", "transitions", "noncurrent_version_expiration_days")
        if not any(rule.get(a) for a in actions) and rule.get("abort_incomplete_multipart_upload_days") is None:
            module.fail_json(msg=f"Rule {rule['id']} has no action: set an expiration, a transition or an abort")


def write(client, bucket, rules):
    if rules:
        configuration = {"Rules": [rules[i] for i in sorted(rules)]}
        client.put_bucket_lifecycle_configuration(aws_retry=True, Bucket=bucket, LifecycleConfiguration=configuration)
    else:
        client.delete_bucket_lifecycle(aws_retry=True, Bucket=bucket)


def wait_until_read_back(module, client, bucket, rules):
    deadline = time.monotonic() + module.params["wait_timeout"]
    while time.monotonic() < deadline:
        if read_rules(client, bucket) == rules:
            return
        time.sleep(POLL_INTERVAL_S)
    if module.params["wait_timeout"] > 0:
        module.fail_json(
            msg=f"Lifecycle of bucket {bucket}: written, but not read back within {module.params['wait_timeout']} s"
        )


def converge(module, client, bucket, params):
    """Bring one bucket's lifecycle to ``params`` (state, rules, purge_rules): (changed, rules before, after)."""
    before = read_rules(client, bucket)
    if before is None:
        if params["state"] == "absent":
            return False, {}, {}
        module.fail_json(msg=f"Bucket {bucket} not found: create it before its lifecycle")
    after = desired_rules(params, before)
    changed = after != before
    if changed and not module.check_mode:
        write(client, bucket, after)
        wait_until_read_back(module, client, bucket, after)
    return changed, before, after


def main():
    transition = dict(days=dict(type="int", required=True), storage_class=dict(type="str", required=True))
    rule = dict(
        id=dict(type="str", required=True),
        prefix=dict(type="str", default=""),
        status=dict(type="str", default="enabled", choices=["enabled", "disabled"]),
        expiration_days=dict(type="int"),
        transitions=dict(type="list", elements="dict", default=[], options=transition),
        noncurrent_version_expiration_days=dict(type="int"),
        abort_incomplete_multipart_upload_days=dict(type="int"),
    )
    argument_spec = dict(
        name=dict(type="str"),
        buckets=dict(
            type="list",
            elements="dict",
            options=dict(
                name=dict(type="str", required=True),
                rules=dict(type="list", elements="dict", default=[], options=rule),
            ),
        ),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        purge_rules=dict(type="bool", default=True),
        rules=dict(type="list", elements="dict", default=[], options=rule),
        wait_timeout=dict(type="int", default=60),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_one_of=[("name", "buckets")],
        mutually_exclusive=[("name", "buckets")],
        supports_check_mode=True,
    )
    p = module.params
    if p["buckets"] is not None and p["rules"]:
        module.fail_json(msg="rules: give each bucket's rules in buckets, not beside them")
    given = list_form_items(module, "buckets")
    names = [b["name"] for b in given]
    for bucket in given:
        validate(module, bucket["name"], bucket["rules"])

    client = module.client("s3", retry_decorator=AWSRetry.jittered_backoff())
    results, diff = [], {"before": {}, "after": {}}
    for bucket in given:
        try:
            changed, before, after = converge(module, client, bucket["name"], bucket)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"Lifecycle of bucket {bucket['name']}: the AWS request failed")
        results.append({"name": bucket["name"], "changed": changed, "rules": [after[i] for i in sorted(after)]})
        diff["before"][bucket["name"]] = {"rules": [before[i] for i in sorted(before)]}
        diff["after"][bucket["name"]] = {"rules": results[-1]["rules"]}

    if p["buckets"] is None:
        result = {"changed": results[0]["changed"], "rules": results[0]["rules"]}
        diff = {"before": diff["before"][names[0]], "after": diff["after"][names[0]]}
    else:
        result = {"changed": any(r["changed"] for r in results), "buckets": results}
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
