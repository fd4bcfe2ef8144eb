"""ec2_security_groups compares rules as AWS returns them with the rules it is given, and plans the writes."""

from __future__ import annotations

import functools

import botocore.exceptions
import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils import security_group_rules as sgr
from ansible_collections.smartstream.pipeline.plugins.modules import ec2_security_groups as module

IDS = {"app": "sg-app", "db": "sg-db", "new": None}
OWNER = "123456789012"


def rule(**kwargs):
    return {"proto": "tcp", "ports": None, "rule_desc": None, **kwargs}


def test_a_rule_per_port_and_peer_with_canonical_protocol_and_ports():
    keys = sgr.desired_rules(
        [rule(proto="6", ports=["443", "1024-65535"], cidr_ip="10.0.0.0/8", rule_desc="d")], IDS, []
    )
    assert keys == {
        ("tcp", 443, 443, "cidr_ip", "10.0.0.0/8"): "d",
        ("tcp", 1024, 65535, "cidr_ip", "10.0.0.0/8"): "d",
    }


def test_group_names_resolve_to_ids_and_a_group_check_mode_would_create_has_a_placeholder():
    keys = sgr.desired_rules([rule(ports=["5432"], group_name="db"), rule(ports=["443"], group_name="new")], IDS, [])
    assert set(keys) == {("tcp", 5432, 5432, "group_id", "sg-db"), ("tcp", 443, 443, "group_id", sgr.NEW + "new")}
    views = sgr.rules_view(keys, {"sg-db": "db"})
    assert {v["group_name"] for v in views} == {"db", "new"}


def test_all_traffic_icmp_and_other_protocols_have_the_ports_aws_reports():
    keys = sgr.desired_rules(
        [
            rule(proto="all", cidr_ip="0.0.0.0/0"),
            rule(proto="icmp", cidr_ipv6="::/0"),
            rule(proto="50", group_id="sg-x"),
        ],
        IDS,
        [],
    )
    described = [
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        {"IpProtocol": "50", "UserIdGroupPairs": [{"GroupId": "sg-x", "UserId": OWNER}]},
    ]
    assert sgr.current_rules(described, OWNER) == keys


def test_rules_merged_into_one_permission_by_aws_read_back_as_the_rules_written():
    wanted = sgr.desired_rules(
        [rule(ports=[5432], group_name="app", rule_desc="a"), rule(ports=[5432], cidr_ip="10.20.0.0/24")], IDS, []
    )
    described = [
        {
            "IpProtocol": "tcp",
            "FromPort": 5432,
            "ToPort": 5432,
            "IpRanges": [{"CidrIp": "10.20.0.0/24"}],
            "UserIdGroupPairs": [{"GroupId": "sg-app", "UserId": OWNER, "Description": "a"}],
        }
    ]
    assert sgr.rule_changes(sgr.current_rules(described, OWNER), wanted) == ([], [], [])


def test_changes_revoke_authorize_and_redescribe():
    current = {("tcp", 22, 22, "cidr_ip", "10.0.0.0/8"): "", ("tcp", 443, 443, "cidr_ip", "0.0.0.0/0"): "old"}
    wanted = {("tcp", 443, 443, "cidr_ip", "0.0.0.0/0"): "new", ("tcp", 5432, 5432, "group_id", "sg-db"): ""}
    revoke, authorize, redescribe = sgr.rule_changes(current, wanted)
    assert revoke == [("tcp", 22, 22, "cidr_ip", "10.0.0.0/8")]
    assert authorize == [("tcp", 5432, 5432, "group_id", "sg-db")]
    assert redescribe == [("tcp", 443, 443, "cidr_ip", "0.0.0.0/0")]
    assert sgr.permissions(redescribe, wanted) == [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "new"}],
        }
    ]


def test_a_peered_groups_owner_is_kept_for_its_revocation():
    described = [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-p", "UserId": "999", "Description": "x"}]}]
    (key,) = sgr.current_rules(described, OWNER)
    assert sgr.permission(key) == {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-p", "UserId": "999"}]}


def test_a_cidr_with_host_bits_is_cleared_with_a_warning():
    warnings = []
    keys = sgr.desired_rules([rule(ports=[443], cidr_ip="10.1.2.3/16")], IDS, warnings)
    assert list(keys) == [("tcp", 443, 443, "cidr_ip", "10.1.0.0/16")]
    assert warnings and "10.1.0.0/16" in warnings[0]


@pytest.mark.parametrize(
    "bad, message",
    [
        (rule(ports=["http"], cidr_ip="10.0.0.0/8"), "port 'http'"),
        (rule(ports=["70000"], cidr_ip="10.0.0.0/8"), "0-65535"),
        (rule(ports=["20-10"], cidr_ip="10.0.0.0/8"), "from <= to"),
        (rule(cidr_ip="10.0.0.0/8"), "a tcp rule needs ports"),
        (rule(proto="-1", ports=["1"], cidr_ip="10.0.0.0/8"), "ports apply to tcp and udp only"),
        (rule(proto="tcp", ports=["1"], cidr_ip="10.0.0.0/8", icmp_type=3), "icmp_type and icmp_code apply"),
        (rule(proto="gre", cidr_ip="10.0.0.0/8"), "protocol 'gre'"),
        (rule(ports=["1"], cidr_ip="::/0"), "not an IPv4 network"),
        (rule(ports=["1"], cidr_ipv6="10.0.0.0/8"), "not an IPv6 network"),
        (rule(ports=["1"], group_name="nowhere"), "group nowhere is neither in the list nor in the VPC"),
        (rule(ports=["1"]), "exactly one of"),
    ],
)
def test_bad_rules_are_refused_with_a_message(bad, message):
    with pytest.raises(sgr.RuleError, match=message):
        sgr.desired_rules([bad], IDS, [])


def test_the_same_rule_twice_with_two_descriptions_is_refused_and_identical_twice_is_one():
    same = rule(ports=[443], cidr_ip="10.0.0.0/8", rule_desc="a")
    assert len(sgr.desired_rules([same, same], IDS, [])) == 1
    with pytest.raises(sgr.RuleError, match="twice with different descriptions"):
        sgr.desired_rules([same, dict(same, rule_desc="b")], IDS, [])


def spec(**kwargs):
    return {"name": "app", "description": "d", "tags": None, "purge_tags": True, "ingress": [], "egress": [], **kwargs}


def group(ingress=(), egress=(), tags=()):
    return {
        "GroupId": "sg-app",
        "GroupName": "app",
        "Description": "d",
        "OwnerId": OWNER,
        "IpPermissions": list(ingress),
        "IpPermissionsEgress": list(egress),
        "Tags": [{"Key": k, "Value": v} for k, v in tags],
    }


ALL_OUT = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def test_a_new_groups_allow_all_egress_is_revoked_when_egress_is_empty():
    wanted, changes = module.plan(spec(), group(egress=[ALL_OUT]), IDS, [])
    assert module.differs(wanted, changes)
    _, (revoke, authorize, redescribe) = changes["out"]
    assert revoke == [("-1", None, None, "cidr_ip", "0.0.0.0/0")] and authorize == [] and redescribe == []


def test_a_converged_group_plans_nothing_and_unset_tags_are_left_alone():
    https = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    wanted, changes = module.plan(
        spec(egress=[rule(ports=["443"], cidr_ip="0.0.0.0/0")]), group(egress=[https], tags=[("x", "1")]), IDS, []
    )
    assert not module.differs(wanted, changes)
    assert wanted["tags"] == {"x": "1"}


def test_tags_are_purged_but_aws_tags_kept():
    wanted, changes = module.plan(
        spec(tags={"Name": "app"}),
        group(tags=[("Name", "old"), ("Owner", "x"), ("aws:cloudformation:stack", "s")]),
        IDS,
        [],
    )
    assert wanted["to_set"] == {"Name": "app"} and wanted["to_remove"] == ["Owner"]
    assert module.differs(wanted, changes)


def test_a_group_check_mode_would_create_is_planned_without_changes_to_compare():
    wanted, changes = module.plan(
        spec(tags={"Name": "app"}, ingress=[rule(ports=[1], group_name="new")]), None, IDS, []
    )
    assert changes is None and wanted["tags"] == {"Name": "app"}
    view = module.view(None, "d", wanted["tags"], wanted["ingress"], wanted["egress"], {})
    assert view["group_id"] == "" and view["ingress"] == [{"proto": "tcp", "ports": ["1"], "group_name": "new"}]


class FakeClient:
    """Records the calls; DeleteSecurityGroup answers DependencyViolation ``busy`` times per group first."""

    def __init__(self, busy=0):
        self.calls, self.busy = [], {}
        self.default_busy = busy

    def __getattr__(self, name):
        def call(aws_retry=False, **kwargs):
            self.calls.append((name, kwargs))
            if name == "delete_security_group":
                left = self.busy.setdefault(kwargs["GroupId"], self.default_busy)
                if left:
                    self.busy[kwargs["GroupId"]] = left - 1
                    error = {"Error": {"Code": "DependencyViolation", "Message": "has a dependent object"}}
                    raise botocore.exceptions.ClientError(error, "DeleteSecurityGroup")
            return {}

        return call


class Failed(Exception):
    pass


class FakeModule:
    def fail_json(self, msg, **_kwargs):
        raise Failed(msg)


def no_sleep(monkeypatch):
    monkeypatch.setattr(module, "wait_for", functools.partial(module.wait_for, sleep=lambda _s: None))


def cycle():
    """Two groups naming each other (plus a CIDR rule that need not go first)."""
    to_b = {
        "IpProtocol": "tcp",
        "FromPort": 1,
        "ToPort": 1,
        "UserIdGroupPairs": [{"GroupId": "sg-b", "Description": "x"}],
    }
    to_a = {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "UserIdGroupPairs": [{"GroupId": "sg-a", "UserId": OWNER}]}
    cidr = {"IpProtocol": "tcp", "FromPort": 2, "ToPort": 2, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    a = dict(group(ingress=[to_b, cidr]), GroupId="sg-a", GroupName="a")
    b = dict(group(egress=[to_a]), GroupId="sg-b", GroupName="b")
    return [a, b]


def test_groups_naming_each_other_lose_those_rules_then_go(monkeypatch):
    no_sleep(monkeypatch)
    client = FakeClient()
    module.delete(FakeModule(), client, cycle(), timeout=5)
    names = [name for name, _ in client.calls]
    assert names == [
        "revoke_security_group_ingress",
        "revoke_security_group_egress",
        "delete_security_group",
        "delete_security_group",
    ]
    revoked = client.calls[0][1]["IpPermissions"]
    assert revoked == [
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "UserIdGroupPairs": [{"GroupId": "sg-b", "Description": "x"}]}
    ]


def test_a_group_in_use_is_retried_until_it_goes(monkeypatch):
    no_sleep(monkeypatch)
    client = FakeClient(busy=3)
    module.delete(FakeModule(), client, cycle()[:1], timeout=60)
    assert [name for name, _ in client.calls].count("delete_security_group") == 4


def test_a_group_in_use_past_the_timeout_fails_with_aws_reason(monkeypatch):
    clock = iter(range(0, 10_000, 7))
    monkeypatch.setattr(
        module, "wait_for", functools.partial(module.wait_for, sleep=lambda _s: None, clock=lambda: next(clock))
    )
    with pytest.raises(Failed, match="still in use after 30 s: has a dependent object"):
        module.delete(FakeModule(), FakeClient(busy=1000), cycle()[:1], timeout=30)
