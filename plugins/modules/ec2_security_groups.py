#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ec2_security_groups
short_description: Converge the security groups of one VPC, with their rules, in one call
version_added: 0.2.0
description:
  - Creates, updates or deletes a list of security groups of one VPC. The current groups are read with one
    C(DescribeSecurityGroups) (filtered by the VPC and the names), and only what differs is written, so a
    converged list reports no change.
  - One process for the whole list instead of one per group, as M(amazon.aws.ec2_security_group) needs.
  - Every missing group is created before any rule is set, so a rule may name any group of the list, also
    one further down or one naming it back (a database admitting DMS, DMS allowed to the database).
  - Rules are exact, as with M(amazon.aws.ec2_security_group)'s default I(purge_rules) and
    I(purge_rules_egress) - a rule not listed is revoked, and C([]) (the default) means none. A new group's
    allow-all egress rule, which AWS adds, is revoked unless I(egress) lists it. A rule whose description
    alone differs keeps its place and gets its description updated.
  - A group's description cannot change on AWS. Where an existing group's description differs, the module
    warns and keeps it, as M(amazon.aws.ec2_security_group) does.
  - The VPC's C(default) group always exists, is never created or deleted, and its description is not
    compared; C(name=default) with no rules makes it allow nothing.
  - Groups removed by the list lose first the rules that refer to any group the list removes (so groups
    naming each other can go), then are deleted; a group still in use (C(DependencyViolation), for example
    by network interfaces Lambda or DMS are releasing) is retried until I(wait_timeout).
  - Groups not in the list are left alone.
author:
  - SmartStream platform team (@smartstream)
options:
  vpc_id:
    description: The VPC of every group of the list.
    type: str
    required: true
  groups:
    description: The groups.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Group name (unique within the VPC). C(default) is the VPC's default group.
        type: str
        required: true
      description:
        description:
          - Group description. Required to create a group; not compared for C(default).
        type: str
      tags:
        description:
          - Tags of the group. Left as they are when unset.
        type: dict
      purge_tags:
        description: Remove the tags I(tags) does not name (not the C(aws:) ones).
        type: bool
        default: true
      ingress:
        description: Inbound rules; exactly these (C([]) is none).
        type: list
        elements: dict
        default: []
        suboptions: &rule_options
          proto:
            description: Protocol - C(tcp), C(udp), C(icmp), C(icmpv6), C(-1) (all) or a protocol number.
            type: str
            default: tcp
          ports:
            description:
              - Ports (C(443)) or port ranges (C(1024-65535)); one rule each. Required for C(tcp) and C(udp), not
                allowed for other protocols.
            type: list
            elements: str
          icmp_type:
            description: ICMP type for C(icmp) and C(icmpv6); all types when unset.
            type: int
          icmp_code:
            description: ICMP code for C(icmp) and C(icmpv6); all codes when unset.
            type: int
          cidr_ip:
            description: The peer, an IPv4 CIDR. Exactly one of I(cidr_ip), I(cidr_ipv6), I(group_name), I(group_id).
            type: str
          cidr_ipv6:
            description: The peer, an IPv6 CIDR.
            type: str
          group_name:
            description: The peer, a group of the VPC by name - one of the list (also one created by this call) or an existing one.
            type: str
          group_id:
            description: The peer, a group by id (C(account/sg-id) for a peered VPC's group).
            type: str
          rule_desc:
            description: Description of the rule.
            type: str
      egress:
        description: Outbound rules; exactly these (C([]) is none).
        type: list
        elements: dict
        default: []
        suboptions: *rule_options
      state:
        description: C(present) or C(absent); I(state) when unset.
        type: str
        choices: [present, absent]
  state:
    description: The state of the groups that do not give their own.
    type: str
    choices: [present, absent]
    default: present
  wait_timeout:
    description:
      - Seconds to wait for new groups to be visible and for a group still in use to become deletable.
      - Written rules are read back until they are as written, for at most a minute (then a warning), as
        M(amazon.aws.ec2_security_group) does.
    type: int
    default: 300
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: A database admitting DMS, DMS allowed to the database and to HTTPS
  smartstream.pipeline.ec2_security_groups:
    vpc_id: vpc-0123456789abcdef0
    groups:
      - name: smartstream-dev-rds
        description: SmartStream source database
        ingress:
          - {proto: tcp, ports: [5432], group_name: smartstream-dev-dms, rule_desc: PostgreSQL from DMS}
        tags: {Name: smartstream-dev-rds, Project: smartstream}
      - name: smartstream-dev-dms
        description: SmartStream DMS replication instance
        egress:
          - {proto: tcp, ports: [5432], group_name: smartstream-dev-rds, rule_desc: PostgreSQL to the database}
          - {proto: tcp, ports: [443], cidr_ip: 0.0.0.0/0, rule_desc: HTTPS to AWS APIs}
        tags: {Name: smartstream-dev-dms, Project: smartstream}
      - name: default
  register: sgs

- name: Use an id
  ansible.builtin.debug:
    msg: "{{ sgs.groups['smartstream-dev-rds'].group_id }}"

- name: Remove them
  smartstream.pipeline.ec2_security_groups:
    vpc_id: vpc-0123456789abcdef0
    groups: [{name: smartstream-dev-rds}, {name: smartstream-dev-dms}]
    state: absent
"""

RETURN = r"""
groups:
  description:
    - The groups of the list that are present after the call, by name (in check mode, as they would be; a
      group check mode would create has an empty C(group_id)). Groups the list removes are not in it.
  returned: always
  type: dict
  sample:
    smartstream-dev-rds:
      group_id: sg-0123456789abcdef0
      description: SmartStream source database
      tags: {Name: smartstream-dev-rds}
      ingress: [{proto: tcp, ports: ["5432"], group_name: smartstream-dev-dms, rule_desc: PostgreSQL from DMS}]
      egress: []
changed_groups:
  description: Names of the groups created, updated or deleted (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [smartstream-dev-rds]
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.smartstream.pipeline.plugins.module_utils import security_group_rules as sgr
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import (
    WaitTimeout,
    list_form_items,
    set_ec2_tags,
    tag_changes,
    wait_for,
)

DEFAULT = "default"
SETTLE_TIMEOUT = 60
DESCRIPTION_WARNING = (
    "Group {} description does not match existing group. Descriptions cannot be changed without deleting "
    "and re-creating the security group. Try using state=absent to delete, then rerunning this task."
)


@AWSRetry.jittered_backoff()
def describe(client, **params):
    return client.get_paginator("describe_security_groups").paginate(**params).build_full_result()["SecurityGroups"]


def find(client, vpc_id, names):
    found = {}
    for start in range(0, len(names), 200):  # at most 200 values per filter
        filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": names[start : start + 200]}]
        found.update((g["GroupName"], g) for g in describe(client, Filters=filters))
    return found


def view(group_id, description, tags, ingress, egress, names):
    return {
        "group_id": group_id or "",
        "description": description,
        "tags": tags,
        "ingress": sgr.rules_view(ingress, names),
        "egress": sgr.rules_view(egress, names),
    }


def current_view(group, names):
    return view(
        group["GroupId"],
        group["Description"],
        boto3_tag_list_to_ansible_dict(group.get("Tags", [])),
        sgr.current_rules(group["IpPermissions"], group.get("OwnerId")),
        sgr.current_rules(group["IpPermissionsEgress"], group.get("OwnerId")),
        names,
    )


def plan(spec, group, ids, warnings):
    """What one present group should be: (ingress, egress, tags) and its changes against ``group``."""
    ingress = sgr.desired_rules(spec["ingress"], ids, warnings)
    egress = sgr.desired_rules(spec["egress"], ids, warnings)
    tags = boto3_tag_list_to_ansible_dict(group.get("Tags", [])) if group else {}
    to_set, to_remove = tag_changes(tags, spec["tags"], spec["purge_tags"])
    final_tags = {**{k: v for k, v in tags.items() if k not in to_remove}, **to_set}
    changes = None
    if group:
        owner = group.get("OwnerId")
        current = {
            "in": sgr.current_rules(group["IpPermissions"], owner),
            "out": sgr.current_rules(group["IpPermissionsEgress"], owner),
        }
        changes = {d: (current[d], sgr.rule_changes(current[d], w)) for d, w in (("in", ingress), ("out", egress))}
    return {"ingress": ingress, "egress": egress, "tags": final_tags, "to_set": to_set, "to_remove": to_remove}, changes


def differs(wanted, changes):
    return bool(wanted["to_set"] or wanted["to_remove"] or any(any(diff) for _current, diff in changes.values()))


def apply(client, group_id, wanted, changes):
    set_ec2_tags(client, group_id, wanted["to_set"], wanted["to_remove"], aws_retry=True)
    for direction, suffix, rules in (("in", "ingress", wanted["ingress"]), ("out", "egress", wanted["egress"])):
        current, (revoke, authorize, redescribe) = changes[direction]
        if redescribe:
            call = getattr(client, f"update_security_group_rule_descriptions_{suffix}")
            call(aws_retry=True, GroupId=group_id, IpPermissions=sgr.permissions(redescribe, rules))
        if revoke:
            call = getattr(client, f"revoke_security_group_{suffix}")
            # With their current descriptions, as amazon.aws.ec2_security_group revokes.
            call(aws_retry=True, GroupId=group_id, IpPermissions=sgr.permissions(revoke, current))
        if authorize:
            call = getattr(client, f"authorize_security_group_{suffix}")
            call(aws_retry=True, GroupId=group_id, IpPermissions=sgr.permissions(authorize, rules))


def create(module, client, vpc_id, specs, timeout):
    """Create the groups of ``specs``; their descriptions once visible with AWS's default egress rule, by name."""
    ids = {}
    for spec in specs:
        params = {"GroupName": spec["name"], "Description": spec["description"], "VpcId": vpc_id}
        if spec["tags"]:
            tags = [{"Key": k, "Value": v} for k, v in spec["tags"].items()]
            params["TagSpecifications"] = [{"ResourceType": "security-group", "Tags": tags}]
        ids[spec["name"]] = client.create_security_group(aws_retry=True, **params)["GroupId"]

    def fetch():
        try:
            return describe(client, GroupIds=list(ids.values()))
        except is_boto3_error_code("InvalidGroup.NotFound"):
            return []

    # As amazon.aws.ec2_security_group: a new VPC group is used once it reads
    # back with the allow-all egress rule AWS gives it (then revoked if unwanted).
    try:
        groups = wait_for(
            fetch,
            lambda found: len(found) == len(ids) and all(g.get("IpPermissionsEgress") for g in found),
            f"the new security groups {', '.join(ids)}",
            timeout=timeout,
        )
    except WaitTimeout as e:
        module.fail_json(msg=str(e))
    return {g["GroupName"]: g for g in groups}


def delete(module, client, groups, timeout):
    """Revoke the rules that refer to a group going, then delete each group (retried while it is in use)."""
    going = {g["GroupId"] for g in groups}
    for group in groups:
        owner = group.get("OwnerId")
        for key, suffix in (("IpPermissions", "ingress"), ("IpPermissionsEgress", "egress")):
            current = sgr.current_rules(group[key], owner)
            refs = [k for k in current if k[3] == "group_id" and k[4] in going]
            if refs:
                call = getattr(client, f"revoke_security_group_{suffix}")
                call(aws_retry=True, GroupId=group["GroupId"], IpPermissions=sgr.permissions(refs, current))
    for group in groups:
        delete_one(module, client, group, timeout)


def delete_one(module, client, group, timeout):
    last = {}

    def attempt():
        try:
            client.delete_security_group(aws_retry=True, GroupId=group["GroupId"])
        except is_boto3_error_code("InvalidGroup.NotFound"):
            pass
        except is_boto3_error_code("DependencyViolation") as e:  # pylint: disable=duplicate-except
            last["error"] = e.response["Error"].get("Message", "DependencyViolation")
            return False
        return True

    try:
        wait_for(attempt, bool, f"security group {group['GroupName']} to be deletable", timeout=timeout, delay=10)
    except WaitTimeout:
        module.fail_json(
            msg=f"security group {group['GroupName']} ({group['GroupId']}) is still in use after {timeout} s: "
            f"{last.get('error')}"
        )


def settle(module, client, ids, wanted, timeout):
    """Read the written groups back until their rules are the wanted ones (a warning after ``timeout``)."""

    def fetch():
        return describe(client, GroupIds=ids)

    def done(found):
        return all(
            sgr.current_rules(g["IpPermissions"], g.get("OwnerId")) == wanted[g["GroupName"]]["ingress"]
            and sgr.current_rules(g["IpPermissionsEgress"], g.get("OwnerId")) == wanted[g["GroupName"]]["egress"]
            for g in found
        )

    try:
        found = wait_for(fetch, done, "the rules to read back", timeout=timeout)
    except WaitTimeout as e:
        module.warn(f"security groups {', '.join(ids)}: {e}")
        found = fetch()
    return {g["GroupName"]: g for g in found}


def validate(module, specs, vpc_groups):
    absent = {s["name"] for s in specs if s["state"] == "absent"}
    for spec in specs:
        name = spec["name"]
        if spec["state"] == "absent":
            if name == DEFAULT:
                module.fail_json(msg="the VPC's default security group cannot be removed")
            continue
        if name == DEFAULT and name not in vpc_groups:
            module.fail_json(msg=f"VPC {module.params['vpc_id']} has no default security group (is it there?)")
        if name not in vpc_groups and not spec["description"]:
            module.fail_json(msg=f"security group {name}: description required to create it")
        for rule in spec["ingress"] + spec["egress"]:
            if rule.get("group_name") in absent:
                module.fail_json(msg=f"security group {name}: a rule refers to {rule['group_name']}, which is absent")


def converge(module, client):
    params = module.params
    vpc_id, timeout, check = params["vpc_id"], params["wait_timeout"], module.check_mode
    specs = [dict(s, state=s["state"] or params["state"]) for s in list_form_items(module, "groups", merge=False)]
    names = [s["name"] for s in specs]
    referred = sorted({r["group_name"] for s in specs for r in s["ingress"] + s["egress"] if r.get("group_name")})
    found = find(client, vpc_id, sorted(set(names) | set(referred))) if names else {}
    validate(module, specs, found)
    present = [s for s in specs if s["state"] == "present"]
    absent = [found[s["name"]] for s in specs if s["state"] == "absent" and s["name"] in found]
    missing = [s for s in present if s["name"] not in found]
    changed, before, after, warnings = [s["name"] for s in missing], {}, {}, []

    if missing and not check:
        found.update(create(module, client, vpc_id, missing, timeout))
    ids = {name: group["GroupId"] for name, group in found.items()}
    ids.update((s["name"], None) for s in missing if s["name"] not in ids)
    names_by_id = {i: n for n, i in ids.items() if i}

    wanted, written = {}, []
    for spec in present:
        name = spec["name"]
        group = found.get(name)
        try:
            wanted[name], changes = plan(spec, group, ids, warnings)
        except sgr.RuleError as e:
            module.fail_json(msg=f"security group {name}: {e}")
        if group and name != DEFAULT and spec["description"] and spec["description"] != group["Description"]:
            module.warn(DESCRIPTION_WARNING.format(name))
        if group and differs(wanted[name], changes):
            if name not in changed:
                changed.append(name)
                before[name] = current_view(group, names_by_id)
            if not check:
                apply(client, group["GroupId"], wanted[name], changes)
                written.append(group["GroupId"])
        if name in changed:
            description = group["Description"] if group else spec["description"]
            w = wanted[name]
            after[name] = view(ids[name], description, w["tags"], w["ingress"], w["egress"], names_by_id)

    for group in absent:
        changed.append(group["GroupName"])
        before[group["GroupName"]] = current_view(group, names_by_id)
    if absent and not check:
        delete(module, client, absent, timeout)

    if written:
        # As amazon.aws.ec2_security_group: at most about a minute, then a warning.
        found.update(settle(module, client, written, wanted, min(timeout, SETTLE_TIMEOUT)))
    result = {}
    for spec in present:
        name = spec["name"]
        group = found.get(name)
        result[name] = after[name] if check and name in after else current_view(group, names_by_id)
    for message in warnings:
        module.warn(message)
    return changed, result, before, after


def main():
    rule_spec = dict(
        proto=dict(type="str", default="tcp"),
        ports=dict(type="list", elements="str"),
        icmp_type=dict(type="int"),
        icmp_code=dict(type="int"),
        cidr_ip=dict(type="str"),
        cidr_ipv6=dict(type="str"),
        group_name=dict(type="str"),
        group_id=dict(type="str"),
        rule_desc=dict(type="str"),
    )
    rule_options = dict(
        type="list",
        elements="dict",
        default=[],
        options=rule_spec,
        mutually_exclusive=[sgr.PEERS],
        required_one_of=[sgr.PEERS],
    )
    group_spec = dict(
        name=dict(type="str", required=True),
        description=dict(type="str"),
        tags=dict(type="dict"),
        purge_tags=dict(type="bool", default=True),
        ingress=rule_options,
        egress=dict(rule_options),
        state=dict(type="str", choices=["present", "absent"]),
    )
    module = AnsibleAWSModule(
        argument_spec=dict(
            vpc_id=dict(type="str", required=True),
            groups=dict(type="list", elements="dict", required=True, options=group_spec),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            wait_timeout=dict(type="int", default=300),
        ),
        supports_check_mode=True,
    )
    if not module.params["vpc_id"]:
        module.fail_json(msg="vpc_id must not be empty")
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        changed, groups, before, after = converge(module, client)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"security groups of {module.params['vpc_id']}: the AWS request failed")
    result = {"changed": bool(changed), "changed_groups": changed, "groups": groups}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
