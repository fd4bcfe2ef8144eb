#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ec2_vpc_endpoints
short_description: Converge a list of interface VPC endpoints of one VPC in one call
version_added: 0.2.0
description:
  - Creates, updates or deletes several interface VPC endpoints of one VPC at once. The VPC's endpoints are
    read with one C(DescribeVpcEndpoints) filtered by VPC, and only what differs is written, so an unchanged
    list reports no change.
  - An endpoint is known by its service name (one interface endpoint per service and VPC). Its subnets,
    security groups and private DNS are changed in place (C(ModifyVpcEndpoint)), where
    M(amazon.aws.ec2_vpc_endpoint) leaves an existing endpoint's as they are.
  - The policy is set only when an endpoint is created, never compared or changed afterwards (nor reset);
    M(smartstream.pipeline.ec2_vpc_endpoint_policy) keeps the policy of existing endpoints.
  - One process for the whole list instead of one per endpoint, as a loop over M(amazon.aws.ec2_vpc_endpoint)
    needs.
author:
  - SmartStream platform team (@smartstream)
options:
  vpc_id:
    description: Id of the VPC.
    type: str
    required: true
  endpoints:
    description:
      - The interface endpoints. Each entry's unset options take the module's options of the same name.
      - Endpoints of the VPC not in the list are left alone unless I(purge_endpoints=true).
    type: list
    elements: dict
    required: true
    suboptions:
      service:
        description:
          - Service name, C(com.amazonaws.<region>.<name>), or its short form C(<name>) (for example
            C(kinesis-streams)), completed with the module's region. A name that starts with C(com.amazonaws.)
            or C(aws.) is used as it is.
        type: str
        required: true
      subnet_ids:
        description: As the module's I(subnet_ids).
        type: list
        elements: str
      security_group_ids:
        description: As the module's I(security_group_ids).
        type: list
        elements: str
      private_dns_enabled:
        description: As the module's I(private_dns_enabled).
        type: bool
      policy:
        description: As the module's I(policy).
        type: json
      tags:
        description: As the module's I(tags).
        type: dict
      purge_tags:
        description: As the module's I(purge_tags).
        type: bool
      state:
        description: As the module's I(state).
        type: str
        choices: [present, absent]
  subnet_ids:
    description: Subnets of the endpoint (one per availability zone); left alone on an existing endpoint when unset.
    type: list
    elements: str
  security_group_ids:
    description: Security groups of the endpoint's network interfaces; left alone on an existing endpoint when unset.
    type: list
    elements: str
  private_dns_enabled:
    description: Whether the service's public DNS name resolves to the endpoint in the VPC.
    type: bool
    default: true
  policy:
    description:
      - Endpoint policy (JSON) given when the endpoint is created; AWS's full-access default when unset.
        Never compared or changed on an existing endpoint.
    type: json
  tags:
    description: Tags of the endpoint. Left alone when unset.
    type: dict
  purge_tags:
    description: Remove the tags not in I(tags) (C(aws:) tags are never touched).
    type: bool
    default: true
  state:
    description: C(present) creates or updates the endpoint, C(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  purge_endpoints:
    description:
      - Delete every endpoint of the VPC (of any type) that is not in I(endpoints). With an empty I(endpoints)
        this deletes all the VPC's endpoints (a teardown).
    type: bool
    default: false
  wait:
    description:
      - Wait until the endpoints of the list are C(available), and until deleted ones are gone.
      - Off by default, as M(amazon.aws.ec2_vpc_endpoint); an endpoint takes a minute or two on AWS, which can
        be waited for later (M(amazon.aws.ec2_vpc_endpoint_info)).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait (for all the endpoints together).
    type: int
    default: 600
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Interface endpoints in the private subnets
  smartstream.pipeline.ec2_vpc_endpoints:
    vpc_id: vpc-0123456789abcdef0
    subnet_ids: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
    security_group_ids: [sg-0123456789abcdef0]
    endpoints:
      - service: secretsmanager
        tags: {Name: dev-secretsmanager}
      - service: kinesis-streams
        tags: {Name: dev-kinesis-streams}
        policy: "{{ lookup('ansible.builtin.template', 'kinesis_policy.json.j2') }}"
  register: endpoints

- name: Delete every endpoint of the VPC (without waiting)
  smartstream.pipeline.ec2_vpc_endpoints:
    vpc_id: vpc-0123456789abcdef0
    endpoints: []
    purge_endpoints: true
"""

RETURN = r"""
endpoints:
  description:
    - The endpoints of the list with C(state=present), in the order given. In check mode an endpoint that would
      be created has no C(vpc_endpoint_id) nor C(state).
  returned: always
  type: list
  elements: dict
  sample:
    - service: kinesis-streams
      service_name: com.amazonaws.eu-north-1.kinesis-streams
      vpc_endpoint_id: vpce-0123456789abcdef0
      vpc_endpoint_type: Interface
      state: available
      subnet_ids: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
      security_group_ids: [sg-0123456789abcdef0]
      private_dns_enabled: true
      tags: {Name: dev-kinesis-streams}
changed_endpoints:
  description: Service names of the endpoints created, updated or deleted (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [com.amazonaws.eu-north-1.kinesis-streams]
"""

import uuid

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import (
    WaitFailed,
    WaitTimeout,
    list_form_items,
    set_ec2_tags,
    tag_changes,
    wait_for,
)

# States of an endpoint that is going or cannot serve (not matched; a new one is created instead).
GONE = {"deleting", "deleted", "failed", "rejected", "expired"}


def service_name(name, region):
    """The full service name of ``name`` (its short form completed with ``region``)."""
    if name.startswith(("com.amazonaws.", "aws.")):
        return name
    return f"com.amazonaws.{region}.{name}"


def state_of(endpoint):
    return (endpoint.get("State") or "").lower()


def view(endpoint, service=None):
    """A described endpoint as the module returns it."""
    return {
        "service": service or endpoint["ServiceName"],
        "service_name": endpoint["ServiceName"],
        "vpc_endpoint_id": endpoint["VpcEndpointId"],
        "vpc_endpoint_type": endpoint.get("VpcEndpointType"),
        "state": state_of(endpoint),
        "subnet_ids": sorted(endpoint.get("SubnetIds") or []),
        "security_group_ids": sorted(g["GroupId"] for g in endpoint.get("Groups") or []),
        "private_dns_enabled": bool(endpoint.get("PrivateDnsEnabled")),
        "tags": boto3_tag_list_to_ansible_dict(endpoint.get("Tags", [])),
    }


def matching(endpoints, name):
    """The live interface endpoint of service ``name`` (the oldest, when there are several), or None."""
    found = [
        e
        for e in endpoints
        if e["ServiceName"] == name and e.get("VpcEndpointType") == "Interface" and state_of(e) not in GONE
    ]
    found.sort(key=lambda e: (str(e.get("CreationTimestamp", "")), e["VpcEndpointId"]))
    return found[0] if found else None


def modification(item, endpoint):
    """The ModifyVpcEndpoint parameters that bring ``endpoint`` to ``item`` (never its policy); {} when none."""
    mod = {}
    for option, key, add, remove in (
        ("subnet_ids", "SubnetIds", "AddSubnetIds", "RemoveSubnetIds"),
        ("security_group_ids", "Groups", "AddSecurityGroupIds", "RemoveSecurityGroupIds"),
    ):
        if item.get(option) is None:
            continue
        have = endpoint.get(key) or []
        have = {g["GroupId"] for g in have} if key == "Groups" else set(have)
        want = set(item[option])
        if want - have:
            mod[add] = sorted(want - have)
        if have - want:
            mod[remove] = sorted(have - want)
    if (
        item.get("private_dns_enabled") is not None
        and bool(endpoint.get("PrivateDnsEnabled")) != item["private_dns_enabled"]
    ):
        mod["PrivateDnsEnabled"] = item["private_dns_enabled"]
    return mod


def wanted_view(item, endpoint):
    """The view of an endpoint after the change (check mode and diff)."""
    if endpoint:
        after = view(endpoint, item["service"])
    else:
        after = {"service": item["service"], "service_name": item["name"], "vpc_endpoint_type": "Interface", "tags": {}}
    for option in ("subnet_ids", "security_group_ids"):
        if item.get(option) is not None:
            after[option] = sorted(item[option])
    if item.get("private_dns_enabled") is not None:
        after["private_dns_enabled"] = item["private_dns_enabled"]
    if item.get("tags") is not None:
        tags = {k: v for k, v in after["tags"].items() if not item["purge_tags"] or k.startswith("aws:")}
        tags.update(item["tags"])
        after["tags"] = tags
    return after


def plan(items, endpoints, purge):
    """(to create, to update {name: (endpoint, modification, tags to set, tag keys to remove)}, ids to delete)."""
    create, update, delete = [], {}, []
    for item in items:
        endpoint = matching(endpoints, item["name"])
        if item["state"] == "absent":
            if endpoint:
                delete.append(endpoint["VpcEndpointId"])
            continue
        if endpoint is None:
            create.append(item)
            continue
        mod = modification(item, endpoint)
        current_tags = boto3_tag_list_to_ansible_dict(endpoint.get("Tags", []))
        to_set, to_remove = tag_changes(current_tags, item.get("tags"), item["purge_tags"])
        if mod or to_set or to_remove:
            update[item["name"]] = (endpoint, mod, to_set, to_remove)
    if purge:
        kept = {matching(endpoints, i["name"])["VpcEndpointId"] for i in items if matching(endpoints, i["name"])}
        kept -= set(delete)
        delete += [
            e["VpcEndpointId"]
            for e in endpoints
            if e["VpcEndpointId"] not in kept
            and e["VpcEndpointId"] not in delete
            and state_of(e) not in ("deleting", "deleted")
        ]
    return create, update, delete


def describe(client, vpc_id):
    pages = client.get_paginator("describe_vpc_endpoints").paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return pages.build_full_result()["VpcEndpoints"]


def create(client, item, vpc_id):
    kwargs = {
        "VpcEndpointType": "Interface",
        "VpcId": vpc_id,
        "ServiceName": item["name"],
        # The same token on a retried request: one endpoint, not two.
        "ClientToken": str(uuid.uuid4()),
    }
    for option, key in (("subnet_ids", "SubnetIds"), ("security_group_ids", "SecurityGroupIds")):
        if item.get(option):
            kwargs[key] = item[option]
    if item.get("private_dns_enabled") is not None:
        kwargs["PrivateDnsEnabled"] = item["private_dns_enabled"]
    if item.get("policy"):
        kwargs["PolicyDocument"] = item["policy"]
    if item.get("tags"):
        kwargs["TagSpecifications"] = [
            {"ResourceType": "vpc-endpoint", "Tags": [{"Key": k, "Value": str(v)} for k, v in item["tags"].items()]}
        ]
    return client.create_vpc_endpoint(aws_retry=True, **kwargs)["VpcEndpoint"]


class DeleteRefused(Exception):
    """DeleteVpcEndpoints answered, but left endpoints (its Unsuccessful list says why)."""


def delete(client, endpoint_ids):
    problems = client.delete_vpc_endpoints(aws_retry=True, VpcEndpointIds=endpoint_ids).get("Unsuccessful") or []
    problems = [p for p in problems if "NotFound" not in p.get("Error", {}).get("Code", "")]
    if problems:
        raise DeleteRefused(
            "; ".join(f"{p.get('ResourceId')}: {p['Error'].get('Code')}: {p['Error'].get('Message')}" for p in problems)
        )


def converge(module, client, items):
    p = module.params
    current = describe(client, p["vpc_id"])
    to_create, to_update, to_delete = plan(items, current, p["purge_endpoints"])
    by_id = {e["VpcEndpointId"]: e for e in current}
    changed = [i["name"] for i in to_create] + list(to_update) + [by_id[d]["ServiceName"] for d in to_delete]
    present = [i for i in items if i["state"] == "present"]
    before = {name: view(update[0]) for name, update in to_update.items()}
    before.update({by_id[d]["ServiceName"]: view(by_id[d]) for d in to_delete})
    after = {i["name"]: wanted_view(i, matching(current, i["name"])) for i in present if i["name"] in changed}
    if module.check_mode or not changed:
        views = [after.get(i["name"]) or view(matching(current, i["name"]), i["service"]) for i in present]
        return changed, views, before, after

    # The endpoint of each present item, by id (waited for below).
    watched = {}
    for item in present:
        endpoint = matching(current, item["name"])
        if endpoint:
            watched[endpoint["VpcEndpointId"]] = item["name"]
    # CreateVpcEndpoint's answers, for an endpoint a describe does not show yet (eventual consistency).
    created = [create(client, item, p["vpc_id"]) for item in to_create]
    watched.update({e["VpcEndpointId"]: e["ServiceName"] for e in created})
    for endpoint, mod, to_set, to_remove in to_update.values():
        endpoint_id = endpoint["VpcEndpointId"]
        if mod:
            client.modify_vpc_endpoint(aws_retry=True, VpcEndpointId=endpoint_id, **mod)
        set_ec2_tags(client, endpoint_id, to_set, to_remove, aws_retry=True)
    if to_delete:
        delete(client, to_delete)

    def settled(found):
        states = {e["VpcEndpointId"]: state_of(e) for e in found}
        ready = all(states.get(endpoint_id) == "available" for endpoint_id in watched)
        return ready and not any(states.get(d, "deleted") != "deleted" for d in to_delete)

    def failed(found):
        return "; ".join(
            f"{e['ServiceName']} {e['VpcEndpointId']}: {state_of(e)} {e.get('LastError', {}).get('Message', '')}"
            for e in found
            if e["VpcEndpointId"] in watched and state_of(e) in GONE
        )

    if p["wait"]:
        found = wait_for(
            lambda: describe(client, p["vpc_id"]), settled, "the VPC endpoints", p["wait_timeout"], failed=failed
        )
    else:
        found = describe(client, p["vpc_id"])
    seen = {e["VpcEndpointId"] for e in found}
    found = found + [e for e in created if e["VpcEndpointId"] not in seen]
    # An endpoint that failed at once (seen without waiting) is not matched: its wanted view, without an id.
    views = [
        view(matching(found, i["name"]), i["service"]) if matching(found, i["name"]) else after[i["name"]]
        for i in present
    ]
    after = {v["service_name"]: v for v in views if v["service_name"] in changed}
    return changed, views, before, after


def main():
    endpoint_spec = dict(
        service=dict(type="str", required=True),
        subnet_ids=dict(type="list", elements="str"),
        security_group_ids=dict(type="list", elements="str"),
        private_dns_enabled=dict(type="bool"),
        policy=dict(type="json"),
        tags=dict(type="dict"),
        purge_tags=dict(type="bool"),
        state=dict(type="str", choices=["present", "absent"]),
    )
    module = AnsibleAWSModule(
        argument_spec=dict(
            vpc_id=dict(type="str", required=True),
            endpoints=dict(type="list", elements="dict", required=True, options=endpoint_spec),
            subnet_ids=dict(type="list", elements="str"),
            security_group_ids=dict(type="list", elements="str"),
            private_dns_enabled=dict(type="bool", default=True),
            policy=dict(type="json"),
            tags=dict(type="dict"),
            purge_tags=dict(type="bool", default=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            purge_endpoints=dict(type="bool", default=False),
            wait=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    region = module.region
    items = [
        {**item, "name": service_name(item["service"], region)}
        for item in list_form_items(module, "endpoints", key="service", skip_none=True)
    ]
    names = [i["name"] for i in items]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        module.fail_json(msg=f"endpoints: service {', '.join(twice)} given twice")
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    what = f"VPC endpoints of {module.params['vpc_id']}"
    try:
        changed, views, before, after = converge(module, client, items)
    except (WaitTimeout, WaitFailed) as e:
        module.fail_json(msg=f"{what}: {e}")
    except DeleteRefused as e:
        module.fail_json(msg=f"{what}: DeleteVpcEndpoints refused: {e}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"{what}: the AWS request failed")
    result = {"changed": bool(changed), "changed_endpoints": changed, "endpoints": views}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
