# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every layer's checks share: the context they read through, and small comparison helpers."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import unquote

CONFIGURATION = "configuration"  # how the platform is set up (audit, molecule verify)
HEALTH = "health"  # whether it works now (smoke)
ASPECTS = (CONFIGURATION, HEALTH)

# Tags every resource of the platform carries besides smartstream_extra_tags.
TAG_KEYS = ("Project", "Environment", "ManagedBy")


class Missing(Exception):
    """A resource the check reads does not exist."""


class Unknown(Exception):
    """The check needs a name or an expected value that was not given."""


class Context:
    """What a check reads through: a client per service, the resources' names, the expected settings."""

    def __init__(self, client_factory, names, expected=None, now=None):
        self._factory = client_factory
        self._clients = {}
        self.names = names or {}
        self.expected = expected or {}
        self.layer = None  # the layer whose checks run (the runner sets it)
        self._now = now

    def client(self, service):
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    def name(self, key):
        if self.names.get(key) in (None, ""):
            raise Unknown(f"names.{key} is not given")
        return self.names[key]

    def want(self, key, default=Unknown):
        """An expected value: ``expected[<layer>][key]`` first, then ``expected[key]`` (shared, e.g. tags)."""
        for scope in (self.expected.get(self.layer) or {}, self.expected):
            if isinstance(scope, dict) and scope.get(key) is not None:
                return scope[key]
        if default is not Unknown:
            return default
        where = f"expected.{self.layer}.{key} (or expected.{key})" if self.layer else f"expected.{key}"
        raise Unknown(f"{where} is not given")

    def now(self):
        return self._now() if self._now else datetime.now(timezone.utc)  # noqa: UP017 (module_utils run on targets older than 3.11)


def check(name, aspect=CONFIGURATION):
    """Mark a function as a check with a readable name and its aspect."""

    def mark(func):
        func.check_name = name
        func.aspect = aspect
        return func

    return mark


def compare(want, got):
    """(ok, detail): ok when every wanted key has the wanted value; detail names the differences."""
    diff = {k: {"want": v, "got": got.get(k)} for k, v in want.items() if got.get(k) != v}
    return not diff, diff or "as expected"


def first(items, what):
    if not items:
        raise Missing(what)
    return items[0]


def as_list(value):
    return value if isinstance(value, list) else [value]


def statements(document):
    """The statements of a policy document (a dict, JSON text or URL-encoded JSON)."""
    if isinstance(document, str):
        document = json.loads(unquote(document))
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def tag_dict(tags):
    """{key: value} from AWS's [{'Key': .., 'Value': ..}] (any capitalisation) or a dict."""
    if isinstance(tags, dict):
        return dict(tags)
    return {t.get("Key", t.get("key")): t.get("Value", t.get("value")) for t in tags or []}


def tag_problems(what, tags, expected_tags):
    """Keys of ``expected_tags`` missing or different on a resource, e.g. ['vpc: Project=None']."""
    tags = tag_dict(tags)
    return [f"{what}: {k}={tags.get(k)!r}" for k, v in sorted(expected_tags.items()) if tags.get(k) != v]


def error_code(exc):
    """The AWS error code of a botocore ClientError (duck-typed: module_utils do not import botocore)."""
    return (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", "")


def is_not_found(exc):
    code = error_code(exc)
    return bool(code) and (
        "NotFound" in code
        or code.startswith("NoSuch")
        or code in ("AWS.SimpleQueueService.NonExistentQueue", "ResourceNotFound", "InvalidRequestException")
    )


def is_aws_error(exc):
    """A botocore error (a request that failed, not a check that found a bad state)."""
    return type(exc).__module__.startswith("botocore")
