"""Every AWS module of the collection is in its `aws` action group, so playbooks' module_defaults reach it.

A module outside the group gets no endpoint, region or credentials from
``module_defaults: group/smartstream.pipeline.aws`` and silently falls back to
the environment's (on a workstation: the real AWS account of the shell).
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_aws_module_is_in_the_aws_action_group():
    aws_modules = {p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if "AnsibleAWSModule" in p.read_text()}
    group = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]["aws"]
    assert aws_modules, "no AWS modules found"
    assert sorted(aws_modules - set(group)) == []
    assert sorted(set(group) - aws_modules) == []
    assert group == sorted(group)
