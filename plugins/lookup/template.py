# Copyright (c) 2026 smartstream contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: template
short_description: Render template files as ansible.builtin.template does, without copying every variable
version_added: 1.0.0
description:
  - Returns, for each file, its content rendered with the task's variables,
    the C(template_*) variables and O(template_vars), exactly as the
    C(ansible.builtin.template) lookup renders it (same search path, same
    trust rules, same result).
  - The builtin lookup deep-copies all of the host's variables for every file
    it renders before adding its own (a C(FIXME) in its source asks why). With
    the platform's ~1,000 variables that copy is most of the lookup's cost,
    ~0.8 s of a no-op converge, which renders ~30 IAM and resource policies.
    This lookup layers its variables over the task's variables instead; the
    task's variables are read, never changed (a template that changes a
    variable's value in place would change it for the rest of its task).
author:
  - SmartStream platform team (@smartstream)
options:
  _terms:
    description: Template files (found as the builtin lookup finds them, in the role's C(templates/) first).
    required: true
  template_vars:
    description: More variables for the templates, over the task's.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: A role's policy, rendered with the task's variables
  amazon.aws.iam_policy:
    iam_type: role
    iam_name: my-role
    policy_name: my-policy
    policy_json: "{{ lookup('smartstream.pipeline.template', 'my_policy.json.j2') }}"

- name: With variables of its own
  ansible.builtin.debug:
    msg: "{{ lookup('smartstream.pipeline.template', 'bucket_policy.json.j2', template_vars={'bucket': 'b'}) }}"
"""

RETURN = r"""
_raw:
  description: Each file's content after templating.
  type: list
  elements: raw
"""

import os
from collections import ChainMap

from ansible._internal._templating import _template_vars
from ansible._internal._templating._engine import TemplateOptions
from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from ansible.template import trust_as_template


class LookupModule(LookupBase):
    """ansible.builtin.template's rendering, with the variables layered instead of copied."""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        rendered = []
        for term in terms:
            path = self.find_file_in_search_path(variables, "templates", term)
            if not path:
                raise AnsibleError(f"the template file {term} could not be found for the lookup")
            data = trust_as_template(self._loader.get_text_file_contents(path))
            searchpath = [os.path.dirname(path)]
            for folder in variables.get("ansible_search_path", []):
                searchpath.extend((os.path.join(folder, "templates"), folder))
            own = _template_vars.generate_ansible_template_vars(
                path=term, fullpath=path, include_ansible_managed="ansible_managed" not in variables
            )
            layered = ChainMap(dict(self.get_option("template_vars")), own, variables)
            templar = self._templar.copy_with_new_env(available_variables=layered, searchpath=searchpath)
            # the internal API, as the builtin lookup uses it: no top-level finalization of the result
            rendered.append(templar._engine.template(data, options=TemplateOptions(escape_backslashes=False)))
        return rendered
