"""The runner, the context and the report of the checks (no AWS)."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks import runner
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    HEALTH,
    Context,
    check,
    compare,
    is_not_found,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.report import summary, table
from botocore.exceptions import ClientError


def error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "Op")


def ctx(expected: dict[str, Any] | None = None) -> Context:
    return Context(lambda service: None, {"prefix": "p"}, expected or {})


def test_every_layer_has_checks_and_every_check_a_name_and_an_aspect():
    for layer, module in runner.LAYERS.items():
        assert module.CHECKS, layer
        for func in module.CHECKS:
            assert func.check_name and func.aspect in ("configuration", "health"), func
    assert {f.aspect for _, f in runner.checks_of(["freshness"])} == {HEALTH}


def test_compare_names_only_the_differences():
    assert compare({"a": 1, "b": [2]}, {"a": 1, "b": [2], "extra": 3}) == (True, "as expected")
    assert compare({"a": 1, "b": 2}, {"a": 1}) == (False, {"b": {"want": 2, "got": None}})


def test_expected_values_are_looked_up_in_the_layer_then_shared():
    c = ctx({"tags": {"P": "x"}, "storage": {"kms_key_id": "k"}, "secrets": {}})
    c.layer = "storage"
    assert c.want("kms_key_id") == "k" and c.want("tags") == {"P": "x"}
    c.layer = "secrets"
    assert c.want("kms_key_id", "") == ""
    with pytest.raises(Exception, match=r"expected.secrets.kms_key_id \(or expected.kms_key_id\) is not given"):
        c.want("kms_key_id")


@check("raises")
def raising(_ctx):
    raise error("AccessDenied")


@check("missing")
def missing(_ctx):
    raise error("ResourceNotFoundException")


@check("bug")
def bug(_ctx):
    return {}["x"]


@check("needs a name")
def needs_name(c):
    return True, c.name("nothing")


def test_a_missing_resource_is_a_failed_check_an_aws_error_is_raised():
    assert runner.run_one("l", missing, ctx()) | {"detail": ""} == {
        "layer": "l",
        "name": "missing",
        "aspect": "configuration",
        "ok": False,
        "detail": "",
    }
    assert runner.run_one("l", missing, ctx())["detail"].startswith("missing: ResourceNotFoundException")
    with pytest.raises(runner.CheckError, match="l check 'raises'"):
        runner.run_one("l", raising, ctx())
    assert runner.run_one("l", bug, ctx()) == {
        "layer": "l",
        "name": "bug",
        "aspect": "configuration",
        "ok": False,
        "detail": "KeyError: 'x'",
    }
    assert runner.run_one("l", needs_name, ctx())["detail"] == "names.nothing is not given"


@pytest.mark.parametrize(
    ("code", "not_found"),
    [("NoSuchBucket", True), ("DBInstanceNotFound", True), ("InvalidVpcID.NotFound", True), ("AccessDenied", False)],
)
def test_not_found_codes(code, not_found):
    assert is_not_found(error(code)) is not_found


def test_report_table_and_summary():
    results = [
        {"layer": "storage", "name": "zones", "ok": True, "detail": "4 zones"},
        {"layer": "freshness", "name": "raw", "ok": False, "detail": {"x": 1}, "seconds": 7.5, "threshold_seconds": 5},
    ]
    lines = table(results)
    assert lines[0].split(" | ")[:4] == ["state", "layer    ", "check", "seconds"]
    assert lines[2].startswith("ok    | storage   | zones |") and lines[2].endswith("| 4 zones")
    assert lines[3].startswith("FAIL  | freshness | raw   | 7.5 / 5") and lines[3].endswith('{"x": 1}')
    assert summary(results) == "1 of 2 checks passed; failed: freshness: raw"


def test_the_module_retries_every_api_call_of_a_check():
    from types import SimpleNamespace

    from ansible_collections.smartstream.pipeline.plugins.modules.platform_check import RetryingClient

    calls = []
    fake = SimpleNamespace(
        meta=SimpleNamespace(method_to_api_mapping={"list_buckets": "ListBuckets"}),
        list_buckets=lambda **kwargs: calls.append(kwargs) or {"Buckets": []},
        get_paginator=lambda name: name,
    )
    wrapped = RetryingClient(fake)
    assert wrapped.list_buckets(MaxBuckets=1) == {"Buckets": []}
    assert calls == [{"aws_retry": True, "MaxBuckets": 1}]
    assert wrapped.get_paginator("x") == "x"  # not an API call: untouched
