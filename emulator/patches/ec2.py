"""Patches of moto's EC2 for the local emulator (see emulator/README.md)."""

from __future__ import annotations

from typing import Any

from emulator.patches.registry import patch as _patch


# --------------------------------------------------------------------------
# EC2 tags: resource type of NAT gateways
# --------------------------------------------------------------------------
# AWS DescribeTags names the resource type of a NAT gateway "natgateway"
# (the documented value of the resource-type filter). moto reports
# "nat-gateway", so amazon.aws.ec2_vpc_nat_gateway, which filters tags by
# resource-type=natgateway, never finds its tags and re-tags on every run
# (a second converge reported changed).
@_patch
def ec2_nat_gateway_tag_resource_type() -> None:
    """DescribeTags reports NAT gateways with resource type natgateway."""
    from moto.ec2 import utils as ec2_utils

    ec2_utils.EC2_PREFIX_TO_RESOURCE["nat"] = "natgateway"


# --------------------------------------------------------------------------
# EC2 network ACLs: the network-acl-id filter
# --------------------------------------------------------------------------
# AWS DescribeNetworkAcls takes the filter ``network-acl-id`` (documented with
# the API). moto does not know it and answers 500 (FilterNotImplementedError),
# and amazon.aws.ec2_vpc_nacl looks a NACL given by ``nacl_id`` up with it: the
# network role empties the VPC's default NACL and teardown deletes the tier
# NACLs that way. The filter matches the NACL's id.
@_patch
def ec2_network_acl_id_filter() -> None:
    """DescribeNetworkAcls filters by network-acl-id."""
    from moto.ec2.models.network_acls import NetworkAcl

    get_filter_value = NetworkAcl.get_filter_value

    def with_id_filter(self: Any, filter_name: str, method_name: str | None = None) -> Any:
        if filter_name == "network-acl-id":
            return self.id
        return get_filter_value(self, filter_name, method_name)

    NetworkAcl.get_filter_value = with_id_filter


# --------------------------------------------------------------------------
# EC2 filters with several values on a resource with several (group-id, ...)
# --------------------------------------------------------------------------
# AWS: "If you specify multiple values for a filter, the values are joined
# with an OR, and the request returns all results that match any of the
# specified values" (EC2 API, Filter). moto matches a resource holding several
# values (an ENI's security groups) only when its set is a subset or superset
# of the filter's values, so an ENI in groups {a, b} is not found by
# group-id=[a, c]: the database teardown, waiting for the rotation function's
# ENIs (groups: Lambda's and rotation's) by group-id=[rotation, from-rotation],
# saw none and deleted the group under them (DependencyViolation, slow mode).
# Here any of the resource's values matching any filter value (wildcards as
# moto has them) is a match.
@_patch
def ec2_filter_values_are_ored() -> None:
    """A multi-valued attribute matches a filter when any of its values matches any filter value."""
    import fnmatch

    from moto.ec2 import utils as ec2_utils

    is_filter_matching = ec2_utils.is_filter_matching

    def any_value_matches(obj: Any, _filter: str, filter_value: Any) -> bool:
        value = obj.get_filter_value(_filter)
        if isinstance(value, list | set | tuple) and isinstance(filter_value, list) and filter_value:
            return any(fnmatch.fnmatch(str(v), str(p)) for v in value for p in filter_value)
        return is_filter_matching(obj, _filter, filter_value)

    ec2_utils.is_filter_matching = any_value_matches


# --------------------------------------------------------------------------
# EC2 DeleteVpc and network ACLs
# --------------------------------------------------------------------------
# AWS DeleteVpc refuses a VPC that still has network ACLs other than its
# default one (DependencyViolation: "delete all ... network ACLs (except the
# default ones)"), and the default NACL goes with the VPC. moto deleted the VPC
# whatever NACLs it had and left all of them behind, default included: a
# teardown that forgot the tier NACLs passed, and every VPC left a NACL.
@_patch
def ec2_delete_vpc_network_acls() -> None:
    """DeleteVpc refuses non-default NACLs and removes the default one."""
    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models import EC2Backend

    delete_vpc = EC2Backend.delete_vpc

    def with_network_acls(self: Any, vpc_id: str) -> Any:
        nacls = [n for n in self.network_acls.values() if n.vpc_id == vpc_id]
        if any(not n.default for n in nacls):
            raise DependencyViolationError(f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")
        vpc = delete_vpc(self, vpc_id)
        for nacl in nacls:
            self.network_acls.pop(nacl.id, None)
        return vpc

    EC2Backend.delete_vpc = with_network_acls


# --------------------------------------------------------------------------
# EC2 security group rules naming a group: identity without the description
# --------------------------------------------------------------------------
# AWS: a rule is its protocol, ports and peer; its description is not part of
# it. UpdateSecurityGroupRuleDescriptionsIngress/Egress change the
# description of the rule naming a group, RevokeSecurityGroupIngress/Egress
# remove it whatever the description given, and authorizing it again with
# another description is InvalidPermission.Duplicate.
# moto compares a group peer with its description: a description update of
# such a rule does nothing, and a revoke without the current description is
# InvalidPermission.NotFound.
@_patch
def ec2_group_rule_identity_without_description() -> None:
    """A rule naming a group is the same rule whatever its description."""
    from moto.ec2.models.security_groups import SecurityGroupRule

    def __eq__(self: Any, other: Any) -> bool:
        """moto's comparison (SecurityGroupRule.__eq__), the group peer compared by _peer."""
        if self.ip_protocol != other.ip_protocol:
            return False
        for key in ("CidrIp", "CidrIpv6"):
            if key in self.ip_range and self.ip_range.get(key) != other.ip_range.get(key):
                return False
        if _peer(self.source_group) != _peer(other.source_group):
            return False
        if self.prefix_list_id != other.prefix_list_id:
            return False
        return self.ip_protocol == "-1" or (self.from_port, self.to_port) == (other.from_port, other.to_port)

    SecurityGroupRule.__eq__ = __eq__


def _peer(source_group: dict[str, Any]) -> Any:
    """The group a rule names (its id, else its name), whatever the description; None for no group."""
    if not source_group:
        return None
    return source_group.get("GroupId") or source_group.get("GroupName")


# --------------------------------------------------------------------------
# EC2 ModifyVpcEndpoint: private DNS
# --------------------------------------------------------------------------
# AWS: ModifyVpcEndpoint's PrivateDnsEnabled turns an interface endpoint's
# private DNS name on or off. moto ignores it (only creation sets it).
@_patch
def ec2_modify_vpc_endpoint_private_dns() -> None:
    """ModifyVpcEndpoint sets PrivateDnsEnabled."""
    from moto.ec2.responses.vpcs import VPCs

    modify = VPCs.modify_vpc_endpoint

    def modify_vpc_endpoint(self: Any) -> Any:
        result = modify(self)
        enabled = self._get_bool_param("PrivateDnsEnabled")
        if enabled is not None:
            endpoint = self.ec2_backend.describe_vpc_endpoints(vpc_end_point_ids=[self._get_param("VpcEndpointId")])[0]
            endpoint.private_dns_enabled = enabled
        return result

    VPCs.modify_vpc_endpoint = modify_vpc_endpoint


# --------------------------------------------------------------------------
# Slow mode (SMARTSTREAM_EMULATOR_SLOW, emulator/slow.py): NAT gateway times
# --------------------------------------------------------------------------
# AWS: a new NAT gateway is ``pending`` for minutes, then ``available``;
# DeleteNatGateway shows ``deleting`` for a while, then ``deleted``. moto is
# ``available`` / ``deleted`` at once. In slow mode both take the scaled times
# (amazon.aws.ec2_vpc_nat_gateway waits with wait: true).
# (https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-basics.html)
@_patch
def ec2_nat_gateway_times_slow() -> None:
    """Slow mode: pending -> available and deleting -> deleted take AWS's times scaled."""
    from moto.ec2.models.nat_gateways import NatGateway, NatGatewayBackend

    from emulator import slow

    slow.status_property(NatGateway, "state")
    create, delete = NatGatewayBackend.create_nat_gateway, NatGatewayBackend.delete_nat_gateway

    def create_nat_gateway(self: Any, *args: Any, **kwargs: Any) -> Any:
        gateway = create(self, *args, **kwargs)
        slow.show(gateway, "available", [("pending", slow.seconds("nat.pending"))])
        return gateway

    def delete_nat_gateway(self: Any, nat_gateway_id: str) -> Any:
        gateway = delete(self, nat_gateway_id)
        slow.show(gateway, "deleted", [("deleting", slow.seconds("nat.deleting"))])
        return gateway

    NatGatewayBackend.create_nat_gateway, NatGatewayBackend.delete_nat_gateway = create_nat_gateway, delete_nat_gateway
