# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A DMS replication task's definition: what needs replacement, and what changes in place (mappings, settings)."""

from __future__ import annotations

import json

from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import canonical

IMMUTABLE = (
    ("ReplicationInstanceArn", "replication_instance_arn"),
    ("SourceEndpointArn", "source_endpoint_arn"),
    ("TargetEndpointArn", "target_endpoint_arn"),
    ("MigrationType", "migration_type"),
)


def is_subset(wanted, current):
    """Whether every key given in ``wanted`` holds the same value in ``current`` (recursively)."""
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(is_subset(v, current.get(k)) for k, v in wanted.items())
    return canonical(wanted) == canonical(current)


def mutable_changes(task, params):
    changes = {}
    current_mappings = json.loads(task.get("TableMappings") or "{}")
    if canonical(current_mappings) != canonical(params["table_mappings"]):
        changes["TableMappings"] = json.dumps(params["table_mappings"], sort_keys=True)
    if params["task_settings"]:
        current_settings = json.loads(task.get("ReplicationTaskSettings") or "{}")
        if not is_subset(params["task_settings"], current_settings):
            merged = merge(current_settings, params["task_settings"])
            changes["ReplicationTaskSettings"] = json.dumps(merged, sort_keys=True)
    return changes


def merge(base, overlay):
    out = dict(base)
    for key, value in overlay.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
