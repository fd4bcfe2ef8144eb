"""The Jinja tests the roles use to reject bad inventory values."""

from __future__ import annotations

import pytest
from ansible_collections.smartstream.pipeline.plugins.test import smartstream_tests as t


@pytest.mark.parametrize(
    "expr",
    [
        "rate(1 hour)",
        "rate(5 minutes)",
        "rate(1 day)",
        "cron(0 2 * * ? *)",
        "cron(0/15 * ? * MON-FRI *)",
        "cron(0 12 L * ? 2030)",
    ],
)
def test_schedule_expression_accepts_eventbridge_expressions(expr):
    assert t.schedule_expression(expr)


@pytest.mark.parametrize(
    "expr",
    [
        "rate(5 minute)",  # plural required for n > 1
        "rate(1 hours)",  # singular required for 1
        "rate(0 minutes)",
        "rate(-1 hours)",
        "cron(0 2 * * *)",  # five fields (crontab), EventBridge needs six
        "cron(0 2 * * * *)",  # neither day field is '?'
        "cron(0 2 ? * ? *)",  # both day fields are '?'
        "every hour",
        "",
        None,
        42,
    ],
)
def test_schedule_expression_rejects_malformed(expr):
    assert not t.schedule_expression(expr)


@pytest.mark.parametrize("cidr", ["10.20.0.0/16", "192.168.1.0/24", "0.0.0.0/0", "10.0.0.1/32"])
def test_ipv4_cidr_accepts_networks(cidr):
    assert t.ipv4_cidr(cidr)


@pytest.mark.parametrize("cidr", ["10.0.0.0/33", "10.20.0.1/16", "300.1.1.0/24", "10.0.0.0", "fd00::/8", "", None])
def test_ipv4_cidr_rejects_malformed_or_host_bits(cidr):
    assert not t.ipv4_cidr(cidr)


def test_subnet_of():
    assert t.subnet_of("10.20.10.0/24", "10.20.0.0/16")
    assert not t.subnet_of("10.21.0.0/24", "10.20.0.0/16")
    assert not t.subnet_of("bad", "10.20.0.0/16")


def test_cidrs_disjoint():
    assert t.cidrs_disjoint(["10.20.0.0/24", "10.20.1.0/24", "10.20.10.0/24"])
    assert not t.cidrs_disjoint(["10.20.0.0/24", "10.20.0.128/25"])
    assert not t.cidrs_disjoint(["10.20.0.0/24", "nope"])


def test_plugin_registers_every_test():
    assert set(t.TestModule().tests()) == {"schedule_expression", "ipv4_cidr", "subnet_of", "cidrs_disjoint"}
