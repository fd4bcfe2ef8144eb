# Copyright (c) 2026 smartstream contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check layers' settings on the controller: their preflight argument spec, then their preflight checks.

Each layer's checks are data, in ``roles/<layer>/vars/preflight.yml``
(``<layer>_preflight_checks``: a list of ``name``, ``that``, ``fail_msg``
and optionally ``when`` and ``vars``, as an ``assert`` task has them). Every
check of every layer named is evaluated and every failure reported, in one
task: the playbooks check all layers before any AWS call, a role run alone
checks its own.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

ROLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")


class ActionModule(ActionBase):
    """Evaluate layers' preflight argument specs and checks; fail with every problem found."""

    _requires_connection = False
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self.validate_argument_spec(
            argument_spec={"layers": {"type": "list", "elements": "str", "required": True}}
        )[1]
        problems = []
        for layer in args["layers"]:
            problems.extend(self._argument_problems(layer, task_vars))
            problems.extend(self._check_problems(layer, task_vars))
        result.update(changed=False, layers=args["layers"], problems=problems)
        if problems:
            lines = "\n".join(f"- {p['layer']}: {p['check']}: {p['msg']}" for p in problems)
            result.update(failed=True, msg=f"Preflight found {len(problems)} problem(s), before any AWS call:\n{lines}")
        else:
            result["msg"] = f"The settings of {', '.join(args['layers'])} passed their checks"
        return result

    def _load(self, layer, *parts):
        path = os.path.join(ROLES, layer, *parts)
        if not os.path.exists(path):
            raise AnsibleError(f"preflight: no layer {layer!r} ({path} is missing)")
        # Read only, once per layer, in this task's worker: the loader's cached copy itself, not a deep copy of it
        # (the role's argument specs are cached by the controller; a deep copy was half of this task's time).
        return self._loader.load_from_file(path, trusted_as_template=True, unsafe=True) or {}

    def _argument_problems(self, layer, task_vars):
        """The layer's ``preflight`` entry point of meta/argument_specs.yml, as validate_argument_spec checks it."""
        spec = (self._load(layer, "meta", "argument_specs.yml").get("argument_specs") or {}).get("preflight")
        if not spec:
            return []
        options = spec.get("options") or {}
        provided = self._templar.template({name: task_vars[name] for name in options if name in task_vars})
        found = ArgumentSpecValidator(options).validate(provided, validate_role_argument_spec=True)
        return [{"layer": layer, "check": "argument spec", "msg": message} for message in found.error_messages]

    def _check_problems(self, layer, task_vars):
        checks = self._load(layer, "vars", "preflight.yml").get(f"{layer}_preflight_checks") or []
        problems = []
        for check in checks:
            templar = self._templar
            if check.get("vars"):  # rendered when an expression reads them, as a task's vars are
                templar = self._templar.copy_with_new_env(available_variables={**task_vars, **check["vars"]})
            if "when" in check and not all(templar.evaluate_conditional(w) for w in _listed(check["when"])):
                continue
            for that in _listed(check["that"]):
                if not templar.evaluate_conditional(that):
                    msg = templar.template(check.get("fail_msg", "Assertion failed"))
                    problems.append({"layer": layer, "check": check["name"], "assertion": that, "msg": msg})
                    break
        return problems


def _listed(value):
    return value if isinstance(value, list) else [value]
