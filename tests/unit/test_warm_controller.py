"""The warm_controller callback prepares the controller (warm_local imported, templates cached), and never fails a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from ansible import constants as C
from ansible_collections.smartstream.pipeline.plugins.callback import warm_controller

NAME = "smartstream.pipeline.warm_controller"


def callback(monkeypatch, **options):
    """The callback with its options read as Ansible reads them (from its DOCUMENTATION, the environment, ``direct``)."""
    installed = []
    monkeypatch.setattr(warm_controller.template_code_cache, "install", lambda: installed.append(True) or True)
    documented = yaml.safe_load(warm_controller.DOCUMENTATION)["options"]
    C.config.initialize_plugin_configuration_definitions("callback", NAME, documented)
    module = warm_controller.CallbackModule()
    module._load_name = NAME
    module.set_options(direct=options)
    return module, installed


def test_the_connection_plugin_is_imported_and_templates_cached_when_the_playbook_starts(monkeypatch):
    asked = []
    monkeypatch.setattr(warm_controller.connection_loader, "get", lambda name, **kw: asked.append((name, kw)))
    module, installed = callback(monkeypatch)
    module.v2_playbook_on_start(playbook=None)
    assert asked == [("smartstream.pipeline.warm_local", {"class_only": True})]
    assert installed == [True]


def test_the_template_code_cache_can_be_turned_off(monkeypatch):
    monkeypatch.setattr(warm_controller.connection_loader, "get", lambda name, **kw: None)
    module, installed = callback(monkeypatch, template_code_cache=False)
    module.v2_playbook_on_start(playbook=None)
    assert installed == []


def test_the_option_reads_its_environment_variable(monkeypatch):
    monkeypatch.setenv("SMARTSTREAM_TEMPLATE_CODE_CACHE", "false")
    module, _ = callback(monkeypatch)
    assert module.get_option("template_code_cache") is False


@pytest.mark.parametrize("error", [ImportError("no such plugin"), SyntaxError("bad"), RuntimeError("loader")])
def test_a_failed_import_leaves_it_to_the_workers(monkeypatch, error):
    def fail(name, **kw):
        raise error

    monkeypatch.setattr(warm_controller.connection_loader, "get", fail)
    module, _ = callback(monkeypatch)
    module.v2_playbook_on_start(playbook=None)  # no exception


def test_templating_imports_nothing_more_once_the_jinja_plugins_are_warm(tmp_path):
    """What a worker (a fork of the controller) renders after warm_jinja_plugins() finds every plugin loaded already."""
    script = textwrap.dedent(
        """
        import json, sys
        from ansible.plugins.loader import init_plugin_loader
        init_plugin_loader([])
        from ansible.parsing.dataloader import DataLoader
        from ansible.template import Templar, trust_as_template
        from ansible_collections.smartstream.pipeline.plugins.callback import warm_controller
        if sys.argv[1] == "warm":
            warm_controller.warm_jinja_plugins()
        templar = Templar(loader=DataLoader(), variables={"xs": [3, 1], "cidr": "10.0.0.0/16"})
        before = set(sys.modules)
        out = [
            templar.template(trust_as_template("{{ xs | to_json }}")),
            templar.template(trust_as_template("{{ 'key/1' | smartstream.pipeline.arn('kms', 'us-east-1', '123456789012') }}")),
            templar.evaluate_conditional(trust_as_template("cidr is smartstream.pipeline.ipv4_cidr")),
            templar.evaluate_conditional(trust_as_template("xs is ansible.builtin.contains(3)")),
            templar.template(trust_as_template("{{ lookup('ansible.builtin.env', 'HOME') | length > 0 }}")),
        ]
        print(json.dumps({"out": out, "imported": sorted(set(sys.modules) - before)}))
        """
    )
    collections = str(Path(__file__).resolve().parents[2] / ".collections")

    def run(mode):
        done = subprocess.run(
            [sys.executable, "-c", script, mode],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONPATH": collections},
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.splitlines()[-1])

    cold, warm = run("cold"), run("warm")
    assert cold["out"] == warm["out"] == ["[3, 1]", "arn:aws:kms:us-east-1:123456789012:key/1", True, True, True]
    assert any(".plugins.filter.core" in name for name in cold["imported"])  # what each worker loaded before
    assert warm["imported"] == []
