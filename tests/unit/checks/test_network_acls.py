"""Network ACLs: built as the network role builds them they pass; each way of exposing a subnet fails."""

from __future__ import annotations

import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks import network

from .conftest import PREFIX, client
from .test_network import EXPECTED, add_nacl_entry, build


def test_the_tier_nacls_and_the_emptied_default_pass(check):
    build()
    result = check(network.network_acls, EXPECTED)
    assert result["ok"], result


def test_a_subnet_left_on_the_default_nacl_fails(check):
    built = build()
    ec2 = client("ec2")
    subnet = built["subnets"]["private"][1]
    nacl = ec2.describe_network_acls(NetworkAclIds=[built["nacls"]["private"]])["NetworkAcls"][0]
    association = next(a["NetworkAclAssociationId"] for a in nacl["Associations"] if a["SubnetId"] == subnet)
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=built["nacls"]["default"])
    result = check(network.network_acls, EXPECTED)
    assert not result["ok"]
    assert set(result["detail"]) == {"private_subnets", "default_subnets"}
    assert result["detail"]["default_subnets"]["got"] == [subnet]


def test_the_default_nacl_still_allowing_everything_fails(check):
    built = build()
    add_nacl_entry(built["nacls"]["default"], False, 100, "-1", "0.0.0.0/0", 0, 0)
    result = check(network.network_acls, EXPECTED)
    assert not result["ok"]
    assert result["detail"]["default_allows"]["got"] == [100]
    exposed = result["detail"]["exposed"]["got"][built["nacls"]["default"]]
    assert exposed == [f"{what} from 0.0.0.0/0 (rule 100)" for what in ("tcp/22", "tcp/3389", "every port")]
    # Kept when asked to: the default's entries are then not looked at, its exposure still is.
    kept = check(network.network_acls, {**EXPECTED, "restrict_default_nacl": False})
    assert set(kept["detail"]) == {"exposed"}


@pytest.mark.parametrize(
    ("entry", "exposed"),
    [
        ((150, "6", "0.0.0.0/0", 22, 22), ["tcp/22"]),
        ((920, "6", "0.0.0.0/0", 1024, 65535), ["tcp/3389"]),  # the whole ephemeral range takes 3389 in
        ((50, "6", "0.0.0.0/0", 3000, 4000), ["tcp/3389"]),
        ((60, "-1", "::/0", 0, 0), ["tcp/22", "tcp/3389", "every port"]),
    ],
)
def test_a_private_nacl_entry_opening_ssh_rdp_or_everything_fails(check, entry, exposed):
    built = build()
    add_nacl_entry(built["nacls"]["private"], False, *entry)
    result = check(network.network_acls, EXPECTED)
    cidr = entry[2]
    assert not result["ok"]
    assert result["detail"]["exposed"]["got"] == {
        f"{PREFIX}-private": [f"{what} from {cidr} (rule {entry[0]})" for what in exposed]
    }


def test_a_deny_numbered_before_the_allow_closes_the_port():
    entries = [
        {
            "RuleNumber": 90,
            "Protocol": "6",
            "RuleAction": "deny",
            "Egress": False,
            "CidrBlock": "0.0.0.0/0",
            "PortRange": {"From": 22, "To": 22},
        },
        {
            "RuleNumber": 100,
            "Protocol": "6",
            "RuleAction": "allow",
            "Egress": False,
            "CidrBlock": "0.0.0.0/0",
            "PortRange": {"From": 1, "To": 1000},
        },
        {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": True, "CidrBlock": "0.0.0.0/0"},
    ]
    assert network.nacl_internet_exposure(entries) == []
    entries[0]["RuleNumber"] = 110
    assert network.nacl_internet_exposure(entries) == ["tcp/22 from 0.0.0.0/0 (rule 100)"]
