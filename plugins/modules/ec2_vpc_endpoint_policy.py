#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ec2_vpc_endpoint_policy
short_description: Set the policy of an existing VPC endpoint
version_added: 0.1.0
description:
  - Sets the endpoint policy of an existing gateway or interface VPC endpoint, comparing the policy as a
    JSON document (key order, white space and a one-element list against its single value do not count).
  - C(amazon.aws.ec2_vpc_endpoint) takes a policy only when it creates an endpoint and never updates the
    policy of one that exists; this module closes that gap.
author:
  - SmartStream platform team (@smartstream)
options:
  vpc_endpoint_id:
    description:
      - Id of the VPC endpoint.
    required: true
    type: str
  policy:
    description:
      - The endpoint policy, a JSON document (string or dictionary). It must have a C(Principal) element.
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
"""

RETURN = r"""
vpc_endpoint_id:
  description: Id of the endpoint.
  returned: always
  type: str
  sample: vpce-0123456789abcdef0
policy:
  description: The endpoint's policy after the change.
  returned: always
  type: dict
  sample: {"Version": "2012-10-17", "Statement": []}
"""

import json

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


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


def main():
    argument_spec = dict(
        vpc_endpoint_id=dict(type="str", required=True),
        policy=dict(type="json", required=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    endpoint_id = module.params["vpc_endpoint_id"]
    try:
        wanted = json.loads(module.params["policy"])
    except ValueError as e:
        module.fail_json(msg=f"policy of {endpoint_id} is not valid JSON: {e}")
    if not isinstance(wanted, dict) or not wanted.get("Statement"):
        module.fail_json(msg=f"policy of {endpoint_id} must be a JSON object with a Statement")

    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        found = client.describe_vpc_endpoints(aws_retry=True, VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    except is_boto3_error_code(["InvalidVpcEndpointId.NotFound", "InvalidVpcEndpointId.Malformed"]) as e:
        module.fail_json_aws(e, msg=f"VPC endpoint {endpoint_id} does not exist")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"VPC endpoint {endpoint_id}: describing it failed")
    if not found:
        module.fail_json(msg=f"VPC endpoint {endpoint_id} does not exist")
    current_text = found[0].get("PolicyDocument") or "{}"
    try:
        current = json.loads(current_text)
    except ValueError:
        current = {"unparsed": current_text}

    changed = normalized(current) != normalized(wanted)
    after = current
    if changed and not module.check_mode:
        try:
            client.modify_vpc_endpoint(aws_retry=True, VpcEndpointId=endpoint_id, PolicyDocument=json.dumps(wanted))
            after = json.loads(
                client.describe_vpc_endpoints(aws_retry=True, VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0].get(
                    "PolicyDocument"
                )
                or "{}"
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"VPC endpoint {endpoint_id}: setting its policy failed")
    elif changed:
        after = wanted

    result = {"changed": changed, "vpc_endpoint_id": endpoint_id, "policy": after}
    if module._diff:
        result["diff"] = {"before": current, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
