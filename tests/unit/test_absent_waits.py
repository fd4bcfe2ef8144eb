"""Deletions started without waiting can be waited for by a later task (teardown's start / ready halves)."""

from __future__ import annotations

import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils import firehose
from ansible_collections.smartstream.pipeline.plugins.modules import dms_replication_instance as instance


class FakeModule:
    def __init__(self, check_mode=False, **params):
        self.check_mode = check_mode
        self.params = {"wait": True, "wait_timeout": 10, "poll_interval": 0, **params}


class Recorder:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda **kwargs: self.calls.append(name)


def states(module, attribute, values, monkeypatch):
    """describe() answers each value in turn (the last one for ever)."""
    seen = [
        None if v is None else {"ReplicationInstanceArn": "arn:aws:dms:us-east-1:123456789012:rep:X", **v}
        for v in values
    ]
    monkeypatch.setattr(module, "describe", lambda _client, _name: seen.pop(0) if len(seen) > 1 else seen[0])
    monkeypatch.setattr(module, "view", lambda _client, found: {attribute: found[attribute]})


CASES = [
    (firehose, "DeliveryStreamStatus", {"name": "raw"}, "ACTIVE", "DELETING", "delete_delivery_stream"),
    (
        instance,
        "ReplicationInstanceStatus",
        {"identifier": "dms"},
        "available",
        "deleting",
        "delete_replication_instance",
    ),
]


@pytest.mark.parametrize(("module", "attribute", "params", "live", "deleting", "call"), CASES)
def test_a_live_resource_is_deleted_without_waiting_and_reported_changed(
    module, attribute, params, live, deleting, call, monkeypatch
):
    states(module, attribute, [{attribute: live}], monkeypatch)
    client = Recorder()
    changed, before, _after = module.ensure_absent(FakeModule(wait=False, **params), client, {"wait": False, **params})
    assert changed and before == {attribute: live} and client.calls == [call]


@pytest.mark.parametrize(("module", "attribute", "params", "live", "deleting", "call"), CASES)
def test_a_resource_already_deleting_is_only_waited_for_and_unchanged(
    module, attribute, params, live, deleting, call, monkeypatch
):
    # Given the start half asked for the deletion: the resource is still there, deleting
    states(module, attribute, [{attribute: deleting}, {attribute: deleting}, None], monkeypatch)
    client = Recorder()
    settings = {"wait": True, "wait_timeout": 10, "poll_interval": 0, **params}
    changed, before, after = module.ensure_absent(FakeModule(**settings), client, settings)
    # Then no second delete is sent, the call returns once it is gone, and it changed nothing itself
    assert not changed and client.calls == [] and before == {attribute: deleting} and after == {}


@pytest.mark.parametrize(("module", "attribute", "params", "live", "deleting", "call"), CASES)
def test_a_resource_already_gone_is_unchanged(module, attribute, params, live, deleting, call, monkeypatch):
    states(module, attribute, [None], monkeypatch)
    client = Recorder()
    settings = {"wait": True, "wait_timeout": 10, "poll_interval": 0, **params}
    assert module.ensure_absent(FakeModule(**settings), client, settings) == (False, {}, {})
