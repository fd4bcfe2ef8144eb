"""Patches of moto's Lambda for the local emulator (see emulator/README.md)."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from emulator.patches.registry import patch as _patch


# --------------------------------------------------------------------------
# Lambda: dead-letter configuration
# --------------------------------------------------------------------------
# AWS: CreateFunction / UpdateFunctionConfiguration take DeadLetterConfig
# (TargetArn of an SQS queue or SNS topic) and GetFunction(Configuration)
# reports it. moto drops it, so amazon.aws.lambda re-sends it on every run
# (never idempotent).
@_patch
def lambda_dead_letter_config() -> None:
    """Functions keep and report their DeadLetterConfig."""
    from moto.awslambda.models import LambdaFunction

    original_init = LambdaFunction.__init__
    original_update = LambdaFunction.update_configuration
    original_get = LambdaFunction.get_configuration

    def __init__(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original_init(self, account_id, spec, *args, **kwargs)
        self.dead_letter_config = spec.get("DeadLetterConfig") or None

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> Any:
        if "DeadLetterConfig" in config_updates:
            self.dead_letter_config = config_updates["DeadLetterConfig"] or None
        return original_update(self, config_updates)

    def get_configuration(self: Any, *args: Any, **kwargs: Any) -> Any:
        config = original_get(self, *args, **kwargs)
        target = (getattr(self, "dead_letter_config", None) or {}).get("TargetArn")
        if target:
            config["DeadLetterConfig"] = {"TargetArn": target}
        return config

    LambdaFunction.__init__ = __init__
    LambdaFunction.update_configuration = update_configuration
    LambdaFunction.get_configuration = get_configuration


# --------------------------------------------------------------------------
# Lambda: layers published by other accounts
# --------------------------------------------------------------------------
# AWS: a function may use a layer version of another account that shares it
# publicly, such as the managed AWS SDK for pandas layer
# (arn:aws:lambda:<region>:336392948345:layer:AWSSDKPandas-Python312:<n>).
# moto only knows layers published into itself and fails CreateFunction with
# ResourceNotFoundException. Well-formed layer version ARNs of another
# account are accepted as they are (size 0); unknown layers of the caller's
# own account still fail, as on AWS.
LAYER_VERSION_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:(\d{12}):layer:[A-Za-z0-9_-]+:\d+$")


def foreign_layer_version(arn: str, own_account: str) -> bool:
    """Whether ``arn`` is a well-formed layer version ARN of an account other than ``own_account``."""
    match = LAYER_VERSION_ARN.match(arn)
    return bool(match) and match.group(1) != own_account


@_patch
def lambda_public_layers() -> None:
    """CreateFunction / UpdateFunctionConfiguration accept layer versions shared by other accounts."""
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction._get_layers_data

    def _get_layers_data(self: Any, arns: list[str]) -> Any:
        foreign = [a for a in arns if foreign_layer_version(a, self.account_id)]
        own = original(self, [a for a in arns if a not in foreign])
        by_arn = {layer["Arn"]: layer for layer in own}
        by_arn.update({a: {"Arn": a, "CodeSize": 0} for a in foreign})
        return [by_arn[a] for a in arns if a in by_arn]

    LambdaFunction._get_layers_data = _get_layers_data


# --------------------------------------------------------------------------
# Slow mode (SMARTSTREAM_EMULATOR_SLOW, emulator/slow.py): Lambda's VPC ENIs
# --------------------------------------------------------------------------
# AWS: a function with VpcConfig gets Hyperplane ENIs (one per subnet and
# security-group set; description "AWS Lambda VPC ENI-<function>-<id>",
# interface type ``lambda``, requester-managed, ``in-use``). After the
# function is deleted they stay ``in-use``, then ``available``, and go only
# after 20-45 minutes; until then DeleteSecurityGroup / DeleteSubnet of
# their group or subnet fail with DependencyViolation. moto makes no ENIs
# for functions. In slow mode (only) the ENIs exist and are released after
# the scaled times; the processing role's teardown waits for them.
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-enis)
def _release_lambda_enis(ec2: Any) -> None:
    """Move the released ENIs of deleted functions on: in-use -> available -> gone."""
    now = time.monotonic()
    for eni in list(ec2.enis.values()):
        available_at, gone_at = getattr(eni, "_ss_release", (None, None))
        if gone_at is not None and now >= gone_at:
            ec2.enis.pop(eni.id, None)
        elif available_at is not None and now >= available_at:
            eni.status = "available"


@_patch
def lambda_vpc_enis_slow() -> None:
    """Slow mode: VPC functions hold ENIs, released after AWS's time scaled (DependencyViolation until then)."""
    from moto.awslambda.models import LambdaBackend
    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models import EC2Backend, ec2_backends

    from emulator import slow

    create, delete = LambdaBackend.create_function, LambdaBackend.delete_function
    describe_enis, delete_sg, remove_subnet = (
        EC2Backend.get_all_network_interfaces, EC2Backend.delete_security_group, EC2Backend.delete_subnet
    )  # fmt: skip

    def create_function(self: Any, spec: dict[str, Any]) -> Any:
        function = create(self, spec)
        vpc = spec.get("VpcConfig") or {}
        if slow.enabled() and vpc.get("SubnetIds"):
            ec2 = ec2_backends[self.account_id][self.region_name]
            for subnet_id in vpc["SubnetIds"]:
                eni = ec2.create_network_interface(
                    subnet_id, None, group_ids=vpc.get("SecurityGroupIds") or [],
                    description=f"AWS Lambda VPC ENI-{function.function_name}-{uuid.uuid4()}",
                )  # fmt: skip
                eni.interface_type, eni.requester_managed, eni.status = "lambda", True, "in-use"
                eni._ss_lambda = function.function_name
        return function

    def delete_function(self: Any, function_name: str, qualifier: str | None = None) -> None:
        delete(self, function_name, qualifier)
        name = function_name.split(":function:")[-1].split(":")[0]
        in_use, available = slow.seconds("lambda_eni.in-use"), slow.seconds("lambda_eni.available")
        for eni in ec2_backends[self.account_id][self.region_name].enis.values():
            if getattr(eni, "_ss_lambda", None) == name and not hasattr(eni, "_ss_release"):
                eni._ss_release = (time.monotonic() + in_use, time.monotonic() + in_use + available)

    def get_all_network_interfaces(self: Any, *args: Any, **kwargs: Any) -> Any:
        _release_lambda_enis(self)
        return describe_enis(self, *args, **kwargs)

    def delete_security_group(self: Any, name: str | None = None, group_id: str | None = None) -> None:
        _release_lambda_enis(self)
        for eni in self.enis.values():
            if hasattr(eni, "_ss_lambda") and group_id in {g.id for g in eni.group_set}:
                raise DependencyViolationError(f"resource {group_id} has a dependent object")
        return delete_sg(self, name, group_id)

    def delete_subnet(self: Any, subnet_id: str) -> Any:
        _release_lambda_enis(self)
        if any(hasattr(e, "_ss_lambda") and e.subnet.id == subnet_id for e in self.enis.values()):
            raise DependencyViolationError(f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")
        return remove_subnet(self, subnet_id)

    LambdaBackend.create_function, LambdaBackend.delete_function = create_function, delete_function
    EC2Backend.get_all_network_interfaces, EC2Backend.delete_security_group = (
        get_all_network_interfaces,
        delete_security_group,
    )
    EC2Backend.delete_subnet = delete_subnet
