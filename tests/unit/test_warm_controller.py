"""The warm_controller callback prepares the controller (warm_local imported, templates cached), and never fails a run."""

from __future__ import annotations

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
