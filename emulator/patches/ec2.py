"""Patches of moto's EC2 for the local emulator (see emulator/README.md)."""

from __future__ import annotations

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
