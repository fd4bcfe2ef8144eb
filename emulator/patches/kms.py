"""Patches of moto's KMS for the local emulator (see emulator/README.md)."""

from __future__ import annotations

from typing import Any

from emulator.patches.registry import patch

# --------------------------------------------------------------------------
# KMS: key state calls take a key ARN
# --------------------------------------------------------------------------
# AWS: DisableKey, EnableKey, CancelKeyDeletion and ScheduleKeyDeletion take
# the key id or the key ARN as KeyId
# (https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html).
# moto looks the given value up as a key id, so a key ARN fails with a
# KeyError (a 500): amazon.aws.kms_key schedules a deletion, cancels one and
# enables or disables a key by its ARN, so a teardown (and a converge after
# one) failed. Here an ARN is reduced to its key id first.
KEY_STATE_CALLS = ("disable_key", "enable_key", "cancel_key_deletion", "schedule_key_deletion")


@patch
def kms_key_state_calls_by_arn() -> None:
    """DisableKey / EnableKey / CancelKeyDeletion / ScheduleKeyDeletion accept a key ARN."""
    from moto.kms.models import KmsBackend

    def by_id(original: Any) -> Any:
        def call(self: Any, key_id: str, *args: Any, **kwargs: Any) -> Any:
            return original(self, KmsBackend.get_key_id(key_id), *args, **kwargs)

        return call

    for name in KEY_STATE_CALLS:
        setattr(KmsBackend, name, by_id(getattr(KmsBackend, name)))
