# Copyright (c) 2026 smartstream contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: warm_controller
type: aggregate
short_description: Import the warm_local connection once in the controller, before its workers fork
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
    the playbook starts; every worker then finds it imported. It prints
    nothing and changes no task or result.
  - Enable it with C(callbacks_enabled = smartstream.pipeline.warm_controller)
    in C(ansible.cfg) (the repository's does), next to the C(warm_local)
    connection. Without it everything works the same, only slower.
author:
  - SmartStream platform team (@smartstream)
requirements:
  - enabled in C(callbacks_enabled)
"""

from ansible.plugins.callback import CallbackBase
from ansible.plugins.loader import connection_loader
from ansible.utils.display import Display

display = Display()
CONNECTION = "smartstream.pipeline.warm_local"


class CallbackModule(CallbackBase):
    """Imports the warm_local connection plugin in the controller at the start of each playbook."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "smartstream.pipeline.warm_controller"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        try:
            connection_loader.get(CONNECTION, class_only=True)
        except Exception as ex:  # an optimisation only: each worker imports it then, as without this callback
            display.vvv(f"{CONNECTION} not imported in the controller: {ex}")
