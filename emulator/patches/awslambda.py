"""Patches of moto's Lambda for the local emulator (see emulator/README.md)."""

from __future__ import annotations

import re
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
