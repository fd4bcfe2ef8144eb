# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja tests that validate inventory values before any AWS call."""

from __future__ import annotations

import ipaddress
import re

_RATE = re.compile(r"^rate\((?P<n>[1-9][0-9]*) (?P<unit>minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^()]+)\)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?/,#L W-]+$")


def schedule_expression(value) -> bool:
    """True for an EventBridge/Glue schedule expression.

    rate(N unit): N >= 1, and the unit singular exactly when N == 1.
    cron(min hour day-of-month month day-of-week year): six fields, and one
    of day-of-month / day-of-week is '?' (as EventBridge requires).
    """
    if not isinstance(value, str):
        return False
    rate = _RATE.match(value)
    if rate:
        singular = not rate.group("unit").endswith("s")
        return singular == (rate.group("n") == "1")
    cron = _CRON.match(value)
    if not cron:
        return False
    fields = cron.group("fields").split()
    if len(fields) != 6 or not all(_CRON_FIELD.match(f) for f in fields):
        return False
    return (fields[2] == "?") != (fields[4] == "?")


def ipv4_cidr(value) -> bool:
    """True for an IPv4 network in CIDR notation with no host bits set (10.0.0.0/16)."""
    if not isinstance(value, str) or "/" not in value:
        return False
    try:
        ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        return False
    return True


def subnet_of(value, network) -> bool:
    """True when the CIDR ``value`` lies inside the CIDR ``network``."""
    if not (ipv4_cidr(value) and ipv4_cidr(network)):
        return False
    return ipaddress.IPv4Network(value).subnet_of(ipaddress.IPv4Network(network))


def cidrs_disjoint(values) -> bool:
    """True when no two CIDRs of the list overlap."""
    if not all(ipv4_cidr(v) for v in values):
        return False
    nets = [ipaddress.IPv4Network(v) for v in values]
    return not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])


class TestModule:
    def tests(self):
        return {
            "schedule_expression": schedule_expression,
            "ipv4_cidr": ipv4_cidr,
            "subnet_of": subnet_of,
            "cidrs_disjoint": cidrs_disjoint,
        }
