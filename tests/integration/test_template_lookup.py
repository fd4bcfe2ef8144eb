"""smartstream.pipeline.template renders files exactly as the builtin template lookup does."""

from __future__ import annotations

from .conftest import run_playbook


def test_renders_as_the_builtin_lookup_and_names_a_missing_file():
    result = run_playbook("../tests/integration/lookup/render.yml", inventory="localhost,")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "ok=3" in result.stdout and "failed=0" in result.stdout
