#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ec2_vpc_endpoint_policy
short_description: Set the policy of existing VPC endpoints
version_added: 0.1.0
description:
  - Sets the endpoint policy of an existing gateway or interface VPC endpoint, comparing the policy as a
    JSON document (key order, white space and a one-element list against its single value do not count).
  - C(amazon.aws.ec2_vpc_endpoint) takes a policy only when it creates an endpoint and never updates the
    policy of one that exists; this module closes that gap.
  - With I(endpoints), the policies of several endpoints are set in one run of the module, from one
    C(DescribeVpcEndpoints) of them all.
author:
  - SmartStream platform team (@smartstream)
options:
  vpc_endpoint_id:
    description:
      - Id of the VPC endpoint. Required (with I(policy)) unless I(endpoints) is given.
    type: str
  policy:
    description:
      - The endpoint policy, a JSON document (string or dictionary). It must have a C(Principal) element.
    type: json
  endpoints:
    description:
      - Several endpoints and their policies, instead of I(vpc_endpoint_id) and I(policy).
    type: list
    elements: dict
    suboptions:
      vpc_endpoint_id:
        description: Id of the VPC endpoint.
        required: true
        type: str
      policy:
        description: The endpoint policy, as I(policy).
        required: true
        type: json
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Only this account's principals on this account's resources
  smartstream.pipeline.ec2_vpc_endpoint_policy:
    vpc_endpoint_id: vpce-0123456789abcdef0
    policy: "{{ lookup('ansible.builtin.template', 'endpoint_policy.json.j2') }}"

- name: The policies of several endpoints in one task
  smartstream.pipeline.ec2_vpc_endpoint_policy:
    endpoints:
      - vpc_endpoint_id: vpce-0123456789abcdef0
        policy: "{{ lookup('ansible.builtin.template', 's3_policy.json.j2') }}"
      - vpc_endpoint_id: vpce-0fedcba9876543210
        policy: "{{ lookup('ansible.builtin.template', 'kms_policy.json.j2') }}"
"""

RETURN = r"""
vpc_endpoint_id:
  description: Id of the endpoint.
  returned: with I(vpc_endpoint_id)
  type: str
  sample: vpce-0123456789abcdef0
policy:
  description: The endpoint's policy after the change.
  returned: with I(vpc_endpoint_id)
  type: dict
  sample: {"Version": "2012-10-17", "Statement": []}
endpoints:
  description: With I(endpoints), each endpoint's id, policy after the change and whether it changed, in order.
  returned: with I(endpoints)
  type: list
  elements: dict
  sample: [{"vpc_endpoint_id": "vpce-0123456789abcdef0", "policy": {"Statement": []}, "changed": false}]
"""

import json

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import list_form_items


def normalized(value):
    """A policy in a form where equal documents compare equal: one-element lists as their element, lists sorted."""
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [normalized(v) for v in value]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def wanted_policy(module, endpoint_id, text):
    """The policy document asked for ``endpoint_id``; fails clearly on bad input."""
    try:
        wanted = json.loads(text)
    except ValueError as e:
        module.fail_json(msg=f"policy of {endpoint_id} is not valid JSON: {e}")
    if not isinstance(wanted, dict) or not wanted.get("Statement"):
        module.fail_json(msg=f"policy of {endpoint_id} must be a JSON object with a Statement")
    return wanted


def current_policies(module, client, endpoint_ids):
    """The policy document of each endpoint, by id, in one request; fails clearly when one does not exist."""
    label = ", ".join(endpoint_ids)
    try:
        found = client.describe_vpc_endpoints(aws_retry=True, VpcEndpointIds=endpoint_ids)["VpcEndpoints"]
    except is_boto3_error_code(["InvalidVpcEndpointId.NotFound", "InvalidVpcEndpointId.Malformed"]) as e:
        module.fail_json_aws(e, msg=f"VPC endpoint {label} does not exist")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"VPC endpoint {label}: describing it failed")
    policies = {}
    for endpoint in found:
        text = endpoint.get("PolicyDocument") or "{}"
        try:
            policies[endpoint["VpcEndpointId"]] = json.loads(text)
        except ValueError:
            policies[endpoint["VpcEndpointId"]] = {"unparsed": text}
    missing = [e for e in endpoint_ids if e not in policies]
    if missing:
        module.fail_json(msg=f"VPC endpoint {', '.join(missing)} does not exist")
    return policies


def set_policy(module, client, endpoint_id, current, wanted):
    """Set ``wanted`` on the endpoint when it differs from ``current``: (changed, policy after)."""
    changed = normalized(current) != normalized(wanted)
    if not changed:
        return False, current
    if module.check_mode:
        return True, wanted
    try:
        client.modify_vpc_endpoint(aws_retry=True, VpcEndpointId=endpoint_id, PolicyDocument=json.dumps(wanted))
        after = client.describe_vpc_endpoints(aws_retry=True, VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"VPC endpoint {endpoint_id}: setting its policy failed")
    return True, json.loads(after.get("PolicyDocument") or "{}")


def main():
    argument_spec = dict(
        vpc_endpoint_id=dict(type="str"),
        policy=dict(type="json"),
        endpoints=dict(
            type="list",
            elements="dict",
            options=dict(vpc_endpoint_id=dict(type="str", required=True), policy=dict(type="json", required=True)),
        ),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_one_of=[("vpc_endpoint_id", "endpoints")],
        mutually_exclusive=[("vpc_endpoint_id", "endpoints"), ("policy", "endpoints")],
        required_together=[("vpc_endpoint_id", "policy")],
        supports_check_mode=True,
    )
    p = module.params
    given = list_form_items(module, "endpoints", key="vpc_endpoint_id", merge=False)
    ids = [e["vpc_endpoint_id"] for e in given]
    if not ids:
        module.exit_json(changed=False, endpoints=[])
    wanted = {e["vpc_endpoint_id"]: wanted_policy(module, e["vpc_endpoint_id"], e["policy"]) for e in given}

    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    current = current_policies(module, client, ids)
    results, diff = [], {"before": {}, "after": {}}
    for endpoint_id in ids:
        changed, after = set_policy(module, client, endpoint_id, current[endpoint_id], wanted[endpoint_id])
        results.append({"vpc_endpoint_id": endpoint_id, "policy": after, "changed": changed})
        diff["before"][endpoint_id], diff["after"][endpoint_id] = current[endpoint_id], after

    if p["endpoints"] is None:
        result = {"changed": results[0]["changed"], "vpc_endpoint_id": ids[0], "policy": results[0]["policy"]}
        diff = {"before": diff["before"][ids[0]], "after": diff["after"][ids[0]]}
    else:
        result = {"changed": any(r["changed"] for r in results), "endpoints": results}
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
