"""list_form_items: the items a list-form module converges, and no item named twice."""

from __future__ import annotations

import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import list_form_items


class Failed(Exception):
    pass


class Module:
    def __init__(self, **params):
        self.params = params

    def fail_json(self, msg):
        raise Failed(msg)


def test_without_the_list_the_module_options_are_the_one_item():
    module = Module(name="a", rules=[1], buckets=None)
    assert list_form_items(module, "buckets") == [module.params]


def test_entries_are_laid_over_the_module_options():
    module = Module(name=None, state="present", buckets=[{"name": "a"}, {"name": "b", "state": "absent"}])
    items = list_form_items(module, "buckets")
    assert [(i["name"], i["state"]) for i in items] == [("a", "present"), ("b", "absent")]


def test_unset_suboptions_keep_the_defaults_beside_the_list_only_when_asked():
    module = Module(name=None, schedule="daily", crawlers=[{"name": "a", "schedule": None}])
    assert list_form_items(module, "crawlers")[0]["schedule"] is None
    assert list_form_items(module, "crawlers", skip_none=True)[0]["schedule"] == "daily"


def test_entries_alone_when_not_merged():
    module = Module(vpc_endpoint_id=None, policy=None, endpoints=[{"vpc_endpoint_id": "e-1", "policy": "{}"}])
    assert list_form_items(module, "endpoints", key="vpc_endpoint_id", merge=False) == module.params["endpoints"]


def test_a_name_given_twice_fails_naming_it():
    module = Module(name=None, views=[{"name": "b"}, {"name": "a"}, {"name": "b"}, {"name": "a"}, {"name": "c"}])
    with pytest.raises(Failed, match=r"^views: name a, b given twice$"):
        list_form_items(module, "views")
