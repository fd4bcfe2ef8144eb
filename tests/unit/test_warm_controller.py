"""The warm_controller callback imports the warm_local connection in the controller, and never fails a run."""

from __future__ import annotations

import pytest
from ansible_collections.smartstream.pipeline.plugins.callback import warm_controller


def test_the_connection_plugin_is_imported_when_the_playbook_starts(monkeypatch):
    asked = []
    monkeypatch.setattr(warm_controller.connection_loader, "get", lambda name, **kw: asked.append((name, kw)))
    warm_controller.CallbackModule().v2_playbook_on_start(playbook=None)
    assert asked == [("smartstream.pipeline.warm_local", {"class_only": True})]


@pytest.mark.parametrize("error", [ImportError("no such plugin"), SyntaxError("bad"), RuntimeError("loader")])
def test_a_failed_import_leaves_it_to_the_workers(monkeypatch, error):
    def fail(name, **kw):
        raise error

    monkeypatch.setattr(warm_controller.connection_loader, "get", fail)
    warm_controller.CallbackModule().v2_playbook_on_start(playbook=None)  # no exception
