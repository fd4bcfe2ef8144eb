#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ec2_vpc_subnets
short_description: Converge a list of subnets of one VPC in one call
version_added: 0.2.0
description:
  - Creates, updates or deletes several subnets of one VPC at once. The VPC's subnets are read with one
    C(DescribeSubnets) filtered by VPC, and only what differs is written, so an unchanged list reports no
    change.
  - A subnet is known by its IPv4 CIDR block, as M(amazon.aws.ec2_vpc_subnet) knows it. Its availability zone
    cannot change; a subnet of the list that exists in another zone fails the module (before anything is
    written), where M(amazon.aws.ec2_vpc_subnet) would silently keep the old zone.
  - IPv4 only (no IPv6 CIDR, no Outposts).
  - One process for the whole list instead of one per subnet, as a loop over M(amazon.aws.ec2_vpc_subnet) needs.
author:
  - SmartStream platform team (@smartstream)
options:
  vpc_id:
    description: Id of the VPC.
    type: str
    required: true
  subnets:
    description:
      - The subnets. Subnets of the VPC not in the list are left alone unless I(purge_subnets=true).
      - With C(state=absent) only C(cidr) is used.
    type: list
    elements: dict
    required: true
    suboptions:
      cidr:
        description: IPv4 CIDR block of the subnet (its identity).
        type: str
        required: true
      az:
        description: Availability zone, for example C(eu-north-1a). AWS picks one when unset (at creation only).
        type: str
      map_public:
        description: Whether instances launched in the subnet get a public IPv4 address (C(MapPublicIpOnLaunch)).
        type: bool
        default: false
      tags:
        description: Tags of the subnet (C(Name) included). Left alone when unset.
        type: dict
      purge_tags:
        description: Remove the tags not in I(tags) (C(aws:) tags are never touched).
        type: bool
        default: true
      state:
        description: C(present) creates or updates the subnet, C(absent) deletes it.
        type: str
        choices: [present, absent]
        default: present
  purge_subnets:
    description:
      - Delete every subnet of the VPC whose CIDR is not in I(subnets). With an empty I(subnets) this deletes
        all the VPC's subnets (a teardown).
    type: bool
    default: false
  wait:
    description:
      - Wait until created subnets are C(available) with the wanted C(MapPublicIpOnLaunch), and until deleted
        ones are gone.
      - A deletion refused with C(DependencyViolation) (network interfaces still being released) is retried
        until I(wait_timeout) whatever I(wait) is.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait (for all the subnets together).
    type: int
    default: 300
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: A public and a private subnet per AZ
  smartstream.pipeline.ec2_vpc_subnets:
    vpc_id: vpc-0123456789abcdef0
    subnets:
      - {cidr: 10.20.0.0/24, az: eu-north-1a, tags: {Name: dev-public-eu-north-1a, Tier: public}}
      - {cidr: 10.20.1.0/24, az: eu-north-1b, tags: {Name: dev-public-eu-north-1b, Tier: public}}
      - {cidr: 10.20.10.0/24, az: eu-north-1a, tags: {Name: dev-private-eu-north-1a, Tier: private}}
      - {cidr: 10.20.11.0/24, az: eu-north-1b, tags: {Name: dev-private-eu-north-1b, Tier: private}}
  register: subnets

- name: Delete every subnet of the VPC
  smartstream.pipeline.ec2_vpc_subnets:
    vpc_id: vpc-0123456789abcdef0
    subnets: []
    purge_subnets: true
"""

RETURN = r"""
subnets:
  description:
    - The subnets of the list with C(state=present), in the order given. In check mode a subnet that would be
      created has no C(id).
  returned: always
  type: list
  elements: dict
  sample:
    - id: subnet-0123456789abcdef0
      cidr_block: 10.20.0.0/24
      availability_zone: eu-north-1a
      map_public_ip_on_launch: false
      state: available
      tags: {Name: dev-public-eu-north-1a, Tier: public}
      vpc_id: vpc-0123456789abcdef0
changed_subnets:
  description: CIDR blocks of the subnets created, updated or deleted (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [10.20.0.0/24]
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
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


def view(subnet):
    """A described subnet as the module returns it (the names amazon.aws.ec2_vpc_subnet returns)."""
    return {
        "id": subnet["SubnetId"],
        "cidr_block": subnet["CidrBlock"],
        "availability_zone": subnet.get("AvailabilityZone"),
        "map_public_ip_on_launch": bool(subnet.get("MapPublicIpOnLaunch")),
        "state": subnet.get("State"),
        "tags": boto3_tag_list_to_ansible_dict(subnet.get("Tags", [])),
        "vpc_id": subnet.get("VpcId"),
    }


def zone_conflicts(items, current):
    """Messages for the subnets of the list that exist in another availability zone than the one asked for."""
    return [
        f"subnet {item['cidr']} ({current[item['cidr']]['SubnetId']}) is in {current[item['cidr']]['AvailabilityZone']},"
        f" not {item['az']}: a subnet cannot move; delete it first"
        for item in items
        if item["state"] == "present"
        and item.get("az")
        and item["cidr"] in current
        and current[item["cidr"]].get("AvailabilityZone") != item["az"]
    ]


def plan(items, current, purge):
    """What to do: (to create, to update {cidr: (map_public or None, tags to set, tag keys to remove)}, to delete).

    ``current`` maps CIDR -> described subnet; to delete is a list of CIDRs (the list's, then the purged ones).
    """
    create, update, delete = [], {}, []
    for item in items:
        existing = current.get(item["cidr"])
        if item["state"] == "absent":
            if existing:
                delete.append(item["cidr"])
        elif existing is None:
            create.append(item)
        else:
            map_public = item["map_public"] if bool(existing.get("MapPublicIpOnLaunch")) != item["map_public"] else None
            existing_tags = boto3_tag_list_to_ansible_dict(existing.get("Tags", []))
            to_set, to_remove = tag_changes(existing_tags, item.get("tags"), item["purge_tags"])
            if map_public is not None or to_set or to_remove:
                update[item["cidr"]] = (map_public, to_set, to_remove)
    if purge:
        listed = {item["cidr"] for item in items}
        delete += sorted(cidr for cidr in current if cidr not in listed)
    return create, update, delete


def wanted_view(item, existing, vpc_id):
    """The view of a subnet after the change (check mode and diff)."""
    after = view(existing) if existing else {"cidr_block": item["cidr"], "availability_zone": item.get("az")}
    after.update(map_public_ip_on_launch=item["map_public"], vpc_id=vpc_id)
    if item.get("tags") is not None:
        tags = {} if item["purge_tags"] else dict(after.get("tags") or {})
        tags.update({k: v for k, v in (after.get("tags") or {}).items() if k.startswith("aws:")})
        tags.update(item["tags"])
        after["tags"] = tags
    after.setdefault("tags", {})
    return after


def describe(client, vpc_id):
    pages = client.get_paginator("describe_subnets").paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return {s["CidrBlock"]: s for s in pages.build_full_result()["Subnets"]}


def create(client, item, vpc_id):
    kwargs = {"VpcId": vpc_id, "CidrBlock": item["cidr"]}
    if item.get("az"):
        kwargs["AvailabilityZone"] = item["az"]
    if item.get("tags"):
        kwargs["TagSpecifications"] = [
            {"ResourceType": "subnet", "Tags": [{"Key": k, "Value": str(v)} for k, v in item["tags"].items()]}
        ]
    subnet = client.create_subnet(aws_retry=True, **kwargs)["Subnet"]
    if item["map_public"]:
        set_map_public(client, subnet["SubnetId"], True)
    return subnet


# A subnet just created may not be visible to the next call yet (eventual consistency).
_NOT_YET = AWSRetry.jittered_backoff(catch_extra_error_codes=["InvalidSubnetID.NotFound"])


@_NOT_YET
def set_map_public(client, subnet_id, value):
    client.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": value})


@_NOT_YET
def set_tags(client, subnet_id, to_set, to_remove):
    set_ec2_tags(client, subnet_id, to_set, to_remove)


def delete(client, subnet_ids, timeout, delay=5):
    """Delete the subnets; one refused with DependencyViolation (interfaces being released) is retried."""
    pending = list(subnet_ids)

    def attempt():
        for subnet_id in list(pending):
            try:
                client.delete_subnet(aws_retry=True, SubnetId=subnet_id)
            except is_boto3_error_code("InvalidSubnetID.NotFound"):
                pass
            except is_boto3_error_code("DependencyViolation"):  # pylint: disable=duplicate-except
                continue
            pending.remove(subnet_id)
        return list(pending)

    wait_for(attempt, lambda left: not left, "the subnets' dependencies to go (DependencyViolation)", timeout, delay)


def converge(module, client, items):
    p = module.params
    vpc_id = p["vpc_id"]
    current = describe(client, vpc_id)
    conflicts = zone_conflicts(items, current)
    if conflicts:
        module.fail_json(msg="; ".join(conflicts))
    to_create, to_update, to_delete = plan(items, current, p["purge_subnets"])
    changed = [i["cidr"] for i in to_create] + list(to_update) + to_delete
    present = [i for i in items if i["state"] == "present"]
    before = {cidr: view(current[cidr]) for cidr in list(to_update) + to_delete}
    after = {i["cidr"]: wanted_view(i, current.get(i["cidr"]), vpc_id) for i in present if i["cidr"] in changed}
    if module.check_mode or not changed:
        views = [view(current[i["cidr"]]) if i["cidr"] not in changed else after[i["cidr"]] for i in present]
        return changed, views, before, after

    # CreateSubnet's answer, for a subnet a describe does not show yet (eventual consistency).
    created = {item["cidr"]: create(client, item, vpc_id) for item in to_create}
    for cidr, (map_public, to_set, to_remove) in to_update.items():
        subnet_id = current[cidr]["SubnetId"]
        if map_public is not None:
            set_map_public(client, subnet_id, map_public)
        set_tags(client, subnet_id, to_set, to_remove)
    if to_delete:
        delete(client, [current[cidr]["SubnetId"] for cidr in to_delete], p["wait_timeout"])

    wanted = {i["cidr"]: i for i in present}

    def settled(found):
        ids = {s["SubnetId"]: s for s in found.values()}
        ready = all(
            subnet["SubnetId"] in ids
            and ids[subnet["SubnetId"]].get("State") == "available"
            and bool(ids[subnet["SubnetId"]].get("MapPublicIpOnLaunch")) == wanted[cidr]["map_public"]
            for cidr, subnet in created.items()
        )
        return ready and not any(cidr in found for cidr in to_delete)

    if p["wait"]:
        found = wait_for(lambda: describe(client, vpc_id), settled, "the subnets", p["wait_timeout"])
    else:
        found = describe(client, vpc_id)
    found = {**created, **found}
    views = [view(found[i["cidr"]]) for i in present]
    after = {v["cidr_block"]: v for v in views if v["cidr_block"] in changed}
    return changed, views, before, after


def main():
    subnet_spec = dict(
        cidr=dict(type="str", required=True),
        az=dict(type="str"),
        map_public=dict(type="bool", default=False),
        tags=dict(type="dict"),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleAWSModule(
        argument_spec=dict(
            vpc_id=dict(type="str", required=True),
            subnets=dict(type="list", elements="dict", required=True, options=subnet_spec),
            purge_subnets=dict(type="bool", default=False),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=300),
        ),
        supports_check_mode=True,
    )
    items = list_form_items(module, "subnets", key="cidr", merge=False)
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    what = f"subnets of {module.params['vpc_id']}"
    try:
        changed, views, before, after = converge(module, client, items)
    except (WaitTimeout, WaitFailed) as e:
        module.fail_json(msg=f"{what}: {e}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"{what}: the AWS request failed")
    result = {"changed": bool(changed), "changed_subnets": changed, "subnets": views}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
