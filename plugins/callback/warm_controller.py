# Copyright (c) 2026 smartstream contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: warm_controller
type: aggregate
short_description: Prepare the controller once for its workers (the warm_local connection, compiled templates)
version_added: 1.0.0
description:
  - Ansible runs every task in a new worker process, a fork of the
    C(ansible-playbook) process. A worker that needs a connection plugin the
    controller has not imported imports it itself, and the collection loader
    compiles a collection's Python files from source every time (it keeps no
    bytecode). With the C(smartstream.pipeline.warm_local) connection that is
    every task; its plugin and helpers (~1,000 lines) were compiled ~200 times
    in a converge of the platform, ~1 s of CPU.
  - This callback imports the connection plugin once, in the controller, when
    the playbook starts; every worker then finds it imported.
  - Every worker also compiles each template it renders (task arguments,
    conditionals, variables), and dies with what it compiled; a no-op
    converge of the platform compiled ~2,600 templates, ~700 distinct, in
    ~0.6 s of CPU, on the path of every task. With O(template_code_cache) on (the default), compiled
    templates are kept in Jinja's bytecode cache, the one Jinja uses for
    template files (a directory only the user may enter, C(_jinja2-cache-<uid>)
    in the temporary directory), by a key of everything the compiled code
    depends on; see C(plugins/plugin_utils/template_code_cache.py) for the
    key and for what is never cached.
  - Every worker also loaded the Jinja plugins its templates call (all of
    ansible-core's filter and test files, which the loader reads to find any
    one short name, and this collection's filters, tests and lookups) and the
    JSON profile that decodes a module's result, ~130 times each in a no-op
    converge of the platform (~0.6 s of the workers' CPU). The callback loads
    them once, in the controller, as a worker's first use would, into the
    plugin loader's own caches (which it clears itself when a play adds a
    plugin folder).
  - It prints nothing and changes no task or result.
  - Enable it with C(callbacks_enabled = smartstream.pipeline.warm_controller)
    in C(ansible.cfg) (the repository's does), next to the C(warm_local)
    connection. Without it everything works the same, only slower.
author:
  - SmartStream platform team (@smartstream)
requirements:
  - enabled in C(callbacks_enabled)
options:
  template_code_cache:
    description:
      - Keep the code of compiled templates in Jinja's bytecode cache, for
        every worker of this and later runs.
      - Turn it off to compile every template in every worker, as Ansible does
        without this callback.
    type: bool
    default: true
    env:
      - name: SMARTSTREAM_TEMPLATE_CODE_CACHE
    ini:
      - section: smartstream
        key: template_code_cache
"""

import importlib
import pkgutil

from ansible.module_utils.common.json import Direction, get_module_decoder, get_module_encoder
from ansible.plugins.callback import CallbackBase
from ansible.plugins.loader import connection_loader, filter_loader, lookup_loader, test_loader
from ansible.utils.display import Display
from ansible_collections.smartstream.pipeline.plugins.plugin_utils import template_code_cache

display = Display()
CONNECTION = "smartstream.pipeline.warm_local"
JINJA_PLUGIN_KINDS = ("filter", "test", "lookup")
# This collection's Jinja plugin packages: every worker that templates imports their modules.
COLLECTION_JINJA_PLUGINS = tuple(
    f"ansible_collections.smartstream.pipeline.plugins.{kind}" for kind in JINJA_PLUGIN_KINDS
)
# The packages an ansible.builtin.<name> plugin is found in (the collection loader's, for the FQCN).
BUILTIN_JINJA_PACKAGES = tuple(f"ansible_collections.ansible.builtin.plugins.{kind}" for kind in JINJA_PLUGIN_KINDS)
# Lookups that every inventory of the repository calls (the AWS settings read the environment).
INVENTORY_LOOKUPS = ("ansible.builtin.env",)


class CallbackModule(CallbackBase):
    """Imports the warm_local connection plugin and caches compiled templates, at the start of each playbook."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "smartstream.pipeline.warm_controller"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        if self.get_option("template_code_cache") and not template_code_cache.install():
            display.vvv("compiled templates are not cached: no private cache directory")
        try:
            connection_loader.get(CONNECTION, class_only=True)
        except Exception as ex:  # an optimisation only: each worker imports it then, as without this callback
            display.vvv(f"{CONNECTION} not imported in the controller: {ex}")
        try:
            warm_jinja_plugins()
        except Exception as ex:  # an optimisation only: each worker loads what it uses, as without this callback
            display.vvv(f"Jinja plugins not loaded in the controller: {ex}")


def warm_jinja_plugins():
    """Load what every worker's templating and module result loaded on its own, once, before the workers fork."""
    for loader in (filter_loader, test_loader):
        for _plugin in loader.all():  # ansible-core's files, each a map of many plugins: all read to find one name
            pass
    for package_name in COLLECTION_JINJA_PLUGINS:
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{module.name}")
    for package_name in BUILTIN_JINJA_PACKAGES:
        importlib.import_module(package_name)
    for name in INVENTORY_LOOKUPS:
        lookup_loader.get(name, class_only=True)
    # The JSON profile of modules' arguments and results (imported by name on first use).
    get_module_encoder("legacy", Direction.CONTROLLER_TO_MODULE)
    get_module_decoder("legacy", Direction.MODULE_TO_CONTROLLER)
