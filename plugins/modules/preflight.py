#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: preflight
short_description: Check layers' settings before any AWS call, every problem at once
version_added: 0.1.0
description:
  - Runs on the controller (an action plugin) and makes no AWS call.
  - For each layer named, validates the variables against the C(preflight) entry point of the layer's
    C(meta/argument_specs.yml), as C(ansible.builtin.validate_argument_spec) does, then evaluates the
    layer's checks, the list C(<layer>_preflight_checks) in C(roles/<layer>/vars/preflight.yml). A check
    has a C(name), C(that) (a conditional or a list of them, as for C(ansible.builtin.assert)), a
    C(fail_msg) (templated only when it fails) and optionally C(when) (the check applies only then) and
    C(vars) (local variables of its expressions).
  - Fails listing every problem found in every layer (the first failing expression of each check),
    not only the first one.
author:
  - SmartStream platform team (@smartstream)
options:
  layers:
    description: Layers (role names of this collection) whose settings to check.
    type: list
    elements: str
    required: true
attributes:
  check_mode:
    support: full
    description: Reads nothing but variables, changes nothing.
  diff_mode:
    support: none
    description: Changes nothing.
notes:
  - The layers' variables (their role defaults and the inventory's values) must be visible to the task,
    as they are in a role of the layer or in a play that lists the layers' roles.
"""

EXAMPLES = r"""
- name: Check every layer's settings before any AWS call
  smartstream.pipeline.preflight:
    layers: [keys, network, storage]

- name: Inside a role, its own settings
  smartstream.pipeline.preflight:
    layers: [network]
"""

RETURN = r"""
layers:
  description: The layers checked.
  returned: always
  type: list
  elements: str
  sample: [network]
problems:
  description: One entry per failed check (C(layer), C(check), C(assertion) for a check, C(msg)).
  returned: always
  type: list
  elements: dict
  sample:
    - layer: network
      check: Database admin CIDRs are valid and never the whole internet
      assertion: network_db_admin_cidrs | length <= 10
      msg: "network_db_admin_cidrs [...]: valid IPv4 CIDRs only, never 0.0.0.0/0, at most 10."
"""
