# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security group rules as comparable keys, without AWS (ec2_security_groups).

A rule is one (protocol, port range, peer) with a description. Its key is
``(proto, from_port, to_port, kind, target)``: ``proto`` as DescribeSecurityGroups
returns it (tcp, udp, icmp, icmpv6, -1 or a number), the ports None where the
protocol has none, ``kind`` one of cidr_ip, cidr_ipv6, group_id, prefix_list_id
and ``target`` the CIDR (canonical), group id or prefix list id. A permission
of AWS holding several peers is several rules; descriptions are not part of
the key (a rule whose description alone differs is updated, not replaced).
"""

from __future__ import annotations

import ipaddress

PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}
PORTED = ("tcp", "udp")
ICMP = ("icmp", "icmpv6")
PEERS = ("cidr_ip", "cidr_ipv6", "group_name", "group_id")
# A group of the list that check mode would create: no id yet.
NEW = "(new) "


class RuleError(ValueError):
    """A rule the module cannot converge (bad port, CIDR, protocol, peer)."""


def protocol(value):
    proto = str(value).strip().lower()
    proto = PROTOCOL_NAMES.get(proto, proto)
    if proto in PORTED + ICMP + ("-1",):
        return proto
    if proto.isdigit() and 0 <= int(proto) <= 255:
        return proto
    raise RuleError(f"protocol {value!r}: use tcp, udp, icmp, icmpv6, -1 (all) or a number 0-255")


def port_ranges(ports):
    """``[443, "1024-65535"]`` -> ``[(443, 443), (1024, 65535)]``."""
    ranges = []
    for port in ports:
        text = str(port).strip()
        low, sep, high = text.partition("-")
        try:
            pair = (int(low), int(high if sep else low))
        except ValueError:
            raise RuleError(f"port {port!r}: use a number or a range 'from-to'") from None
        if not 0 <= pair[0] <= pair[1] <= 65535:
            raise RuleError(f"port {port!r}: 0-65535, from <= to")
        ranges.append(pair)
    return ranges


def cidr(value, version, warnings):
    """The network of ``value`` (host bits cleared with a warning, as amazon.aws.ec2_security_group does)."""
    try:
        network = ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise RuleError(f"CIDR {value!r} is not an IPv{version} network") from None
    if network.version != version:
        raise RuleError(f"CIDR {value!r} is not an IPv{version} network")
    if str(network) != str(value).strip():
        warnings.append(f"CIDR {value} has host bits set or is not canonical; {network} is used")
    return str(network)


def rule_keys(rule, group_ids, warnings):
    """The keys of one rule as the module takes it, each with its description.

    ``group_ids`` maps the VPC's group names to their ids (None for a group of
    the list that does not exist yet: check mode).
    """
    proto = protocol(rule.get("proto") or "tcp")
    peers = [p for p in PEERS if rule.get(p) not in (None, "")]
    if len(peers) != 1:
        raise RuleError(f"a rule needs exactly one of {', '.join(PEERS)} (got {', '.join(peers) or 'none'})")
    kind = peers[0]
    value = str(rule[kind]).strip()
    if kind == "cidr_ip":
        target = cidr(value, 4, warnings)
    elif kind == "cidr_ipv6":
        target = cidr(value, 6, warnings)
    elif kind == "group_id":
        target = value
    else:
        if value not in group_ids:
            raise RuleError(f"group {value} is neither in the list nor in the VPC")
        kind, target = "group_id", group_ids[value] or NEW + value
    ports = rule.get("ports") or []
    if proto in PORTED:
        if not ports:
            raise RuleError(f"a {proto} rule needs ports")
        ranges = port_ranges(ports)
    elif ports:
        raise RuleError(f"ports apply to tcp and udp only (proto {proto}); use icmp_type/icmp_code for ICMP")
    elif proto in ICMP:
        icmp_type = rule.get("icmp_type")
        icmp_code = rule.get("icmp_code")
        ranges = [(-1 if icmp_type is None else icmp_type, -1 if icmp_code is None else icmp_code)]
    else:
        ranges = [(None, None)]
    if proto not in ICMP and (rule.get("icmp_type") is not None or rule.get("icmp_code") is not None):
        raise RuleError(f"icmp_type and icmp_code apply to icmp and icmpv6 only (proto {proto})")
    description = rule.get("rule_desc") or ""
    return [((proto, low, high, kind, target), description) for low, high in ranges]


def desired_rules(rules, group_ids, warnings):
    """Key -> description of a rule list; the same rule twice with two descriptions is an error."""
    wanted = {}
    for rule in rules or []:
        for key, description in rule_keys(rule, group_ids, warnings):
            if wanted.get(key, description) != description:
                raise RuleError(f"rule {describe_key(key)} is given twice with different descriptions")
            wanted[key] = description
    return wanted


def current_rules(permissions, owner_id=None):
    """Key -> description of the rules of DescribeSecurityGroups' IpPermissions(Egress)."""
    found = {}
    for perm in permissions or []:
        proto = protocol(perm["IpProtocol"])
        ports = (perm.get("FromPort"), perm.get("ToPort")) if proto in PORTED + ICMP else (None, None)
        peers = [("cidr_ip", r["CidrIp"], r) for r in perm.get("IpRanges", [])]
        peers += [("cidr_ipv6", r["CidrIpv6"], r) for r in perm.get("Ipv6Ranges", [])]
        peers += [("prefix_list_id", r["PrefixListId"], r) for r in perm.get("PrefixListIds", [])]
        for pair in perm.get("UserIdGroupPairs", []):
            # Another account's group (peering) keeps its owner, for the revocation.
            foreign = pair.get("UserId") and owner_id and pair["UserId"] != owner_id
            target = f"{pair['UserId']}/{pair['GroupId']}" if foreign else pair["GroupId"]
            peers.append(("group_id", target, pair))
        for kind, target, entry in peers:
            found[(proto, *ports, kind, target)] = entry.get("Description") or ""
    return found


def rule_changes(current, wanted):
    """(keys to revoke, keys to authorize, keys whose description alone differs)."""
    revoke = sorted((k for k in current if k not in wanted), key=sort_key)
    authorize = sorted((k for k in wanted if k not in current), key=sort_key)
    describe = sorted((k for k in wanted if k in current and current[k] != wanted[k]), key=sort_key)
    return revoke, authorize, describe


def sort_key(key):
    return tuple("" if part is None else str(part) for part in key)


PEER_FIELDS = {
    "cidr_ip": ("IpRanges", "CidrIp"),
    "cidr_ipv6": ("Ipv6Ranges", "CidrIpv6"),
    "prefix_list_id": ("PrefixListIds", "PrefixListId"),
}


def permission(key, description=None):
    """The IpPermissions entry of one rule (without a description when ``description`` is None)."""
    proto, low, high, kind, target = key
    perm = {"IpProtocol": proto}
    if low is not None:
        perm["FromPort"], perm["ToPort"] = low, high
    if kind == "group_id":
        owner, _slash, group_id = target.rpartition("/")
        entry = {"GroupId": group_id, **({"UserId": owner} if owner else {})}
        perm["UserIdGroupPairs"] = [entry]
    else:
        field, name = PEER_FIELDS[kind]
        entry = {name: target}
        perm[field] = [entry]
    if description:
        entry["Description"] = description
    return perm


def permissions(keys, descriptions=None):
    return [permission(k, None if descriptions is None else descriptions[k]) for k in keys]


def rule_view(key, description, group_names):
    """A rule in the module's own form (group names where known), for the diff and the result."""
    proto, low, high, kind, target = key
    view = {"proto": proto}
    if proto in PORTED:
        view["ports"] = [str(low) if low == high else f"{low}-{high}"]
    elif proto in ICMP:
        view["icmp_type"], view["icmp_code"] = low, high
    if kind == "group_id" and target.startswith(NEW):
        view["group_name"] = target[len(NEW) :]
    elif kind == "group_id" and target in group_names:
        view["group_name"] = group_names[target]
    else:
        view[kind] = target
    if description:
        view["rule_desc"] = description
    return view


def rules_view(rules, group_names):
    return [rule_view(k, rules[k], group_names) for k in sorted(rules, key=sort_key)]


def describe_key(key):
    proto, low, high, kind, target = key
    ports = "" if low is None else f" {low}" if low == high else f" {low}-{high}"
    return f"{proto}{ports} {kind} {target}"
