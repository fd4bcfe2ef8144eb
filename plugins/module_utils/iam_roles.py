# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure logic of the iam_roles module: desired state of a role, what differs from the current one."""

from __future__ import annotations

import json

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import tag_changes


class SpecError(Exception):
    """A role's entry is not usable (the message names the role)."""


def policy_document(value, what):
    """A policy document given as a dict or as JSON text, as a dict."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as e:
            raise SpecError(f"{what}: not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise SpecError(f"{what}: a policy document is a JSON object, not {type(value).__name__}")
    return value


def desired_role(spec):
    """The wanted state of one role entry (validated; policy documents parsed)."""
    name = spec["name"]
    if spec.get("assume_role_policy_document") is None:
        raise SpecError(f"role {name}: assume_role_policy_document is required with state=present")
    duration = spec.get("max_session_duration")
    if duration is not None and not 3600 <= duration <= 43200:
        raise SpecError(f"role {name}: max_session_duration must be 3600-43200 seconds, not {duration}")
    managed = spec.get("managed_policies") or []
    not_arns = [p for p in managed if not str(p).startswith("arn:")]
    if not_arns:
        raise SpecError(f"role {name}: managed_policies takes policy ARNs, not {', '.join(not_arns)}")
    return {
        "name": name,
        "path": spec.get("path") or "/",
        "description": spec.get("description"),
        "max_session_duration": duration,
        "assume_role_policy_document": policy_document(
            spec["assume_role_policy_document"], f"role {name}: assume_role_policy_document"
        ),
        "tags": spec.get("tags"),
        "purge_tags": spec.get("purge_tags", True),
        "managed_policies": sorted(set(managed)),
        "purge_managed_policies": spec.get("purge_managed_policies", True),
        "inline_policies": {
            policy: policy_document(doc, f"role {name}: inline policy {policy}")
            for policy, doc in (spec.get("inline_policies") or {}).items()
        },
        "purge_inline_policies": spec.get("purge_inline_policies", True),
    }


def role_changes(current, desired):
    """What to do to ``current`` (None: the role does not exist) to reach ``desired``; empty values: nothing.

    ``current`` is {"role": GetRole's Role, "tags": dict, "managed_policies": [arn],
    "inline_policies": {name: document}}.
    """
    if current is None:
        return {
            "create": True,
            "update": {},
            "trust": None,
            "tags_set": {},
            "tags_unset": [],
            "attach": desired["managed_policies"],
            "detach": [],
            "put": sorted(desired["inline_policies"]),
            "delete": [],
        }
    role = current["role"]
    update = {}
    if desired["description"] is not None and role.get("Description", "") != desired["description"]:
        update["Description"] = desired["description"]
    if (
        desired["max_session_duration"] is not None
        and role.get("MaxSessionDuration") != desired["max_session_duration"]
    ):
        update["MaxSessionDuration"] = desired["max_session_duration"]
    trust = desired["assume_role_policy_document"]
    trust_differs = compare_policies(role.get("AssumeRolePolicyDocument") or {}, trust)
    tags_set, tags_unset = tag_changes(current["tags"], desired["tags"], desired["purge_tags"])
    attached = set(current["managed_policies"])
    wanted = set(desired["managed_policies"])
    inline = current["inline_policies"]
    return {
        "create": False,
        "update": update,
        "trust": trust if trust_differs else None,
        "tags_set": tags_set,
        "tags_unset": sorted(tags_unset),
        "attach": sorted(wanted - attached),
        "detach": sorted(attached - wanted) if desired["purge_managed_policies"] else [],
        "put": sorted(
            policy
            for policy, doc in desired["inline_policies"].items()
            if policy not in inline or compare_policies(inline[policy], doc)
        ),
        "delete": sorted(set(inline) - set(desired["inline_policies"])) if desired["purge_inline_policies"] else [],
    }


def has_changes(changes):
    return any(bool(v) for v in changes.values())


def role_view(current):
    """What the diff shows of a role (current form); {} when it does not exist."""
    if current is None:
        return {}
    role = current["role"]
    return {
        "path": role.get("Path"),
        "description": role.get("Description", ""),
        "max_session_duration": role.get("MaxSessionDuration"),
        "assume_role_policy_document": role.get("AssumeRolePolicyDocument"),
        "tags": {k: v for k, v in current["tags"].items() if not k.startswith("aws:")},
        "managed_policies": sorted(current["managed_policies"]),
        "inline_policies": current["inline_policies"],
    }


def view_after(current, desired, changes):
    """The diff's view of a role once ``changes`` are made."""
    after = role_view(current) or {
        "path": desired["path"],
        "description": desired["description"] or "",
        "max_session_duration": desired["max_session_duration"] or 3600,
        "tags": {},
        "managed_policies": [],
        "inline_policies": {},
    }
    if changes["create"] or changes["trust"] is not None:
        after["assume_role_policy_document"] = desired["assume_role_policy_document"]
    if "Description" in changes["update"]:
        after["description"] = changes["update"]["Description"]
    if "MaxSessionDuration" in changes["update"]:
        after["max_session_duration"] = changes["update"]["MaxSessionDuration"]
    tags = {k: v for k, v in after["tags"].items() if k not in changes["tags_unset"]}
    tags.update(changes["tags_set"])
    if changes["create"]:
        tags = dict(desired["tags"] or {})
    after["tags"] = tags
    after["managed_policies"] = sorted(
        (set(after["managed_policies"]) | set(changes["attach"])) - set(changes["detach"])
    )
    inline = {k: v for k, v in after["inline_policies"].items() if k not in changes["delete"]}
    inline.update({policy: desired["inline_policies"][policy] for policy in changes["put"]})
    after["inline_policies"] = inline
    return after
