"""Compiled templates come from Jinja's bytecode cache only when the code would be the same; a template renders as without it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jinja2
import pytest
from ansible_collections.smartstream.pipeline.plugins.plugin_utils import template_code_cache as cache
from jinja2.utils import pass_context, pass_environment


class CountingEnvironment(jinja2.Environment):
    """An environment whose real compiles (the ones the cache does not answer) are counted."""

    compiles = 0

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        type(self).compiles += 1
        return super().compile(source, name, filename, raw, defer_init)


@pytest.fixture
def env_class(tmp_path):
    class Env(CountingEnvironment):
        compiles = 0

    assert cache.install(Env, str(tmp_path))
    yield Env
    cache.uninstall()


def fresh_process_memo():
    """What a new worker process has: the files of the cache, not the codes compiled in this process."""
    cache._memo.clear()
    cache._names_memo.clear()


def code_entries(folder):
    return sorted(folder.glob("smartstream-template-*.cache"))


def names_entries(folder):
    return sorted(folder.glob("smartstream-template-*.names"))


class ParseCountingEnvironment(CountingEnvironment):
    parses = 0

    def _parse(self, source, name, filename):
        type(self).parses += 1
        return super()._parse(source, name, filename)


def test_a_template_compiled_once_is_loaded_by_the_next_process_and_renders_the_same(env_class, tmp_path):
    source = "{% for x in items %}{{ x | upper }}-{% endfor %}{{ n + 1 }}"
    first = env_class().from_string(source).render(items=["a", "b"], n=1)
    fresh_process_memo()
    second = env_class().from_string(source).render(items=["c"], n=41)
    assert (first, second) == ("A-B-2", "C-42")
    assert env_class.compiles == 1
    assert len(code_entries(tmp_path)) == len(names_entries(tmp_path)) == 1
    assert len(list(tmp_path.iterdir())) == 2


def test_an_expression_is_cached_apart_from_a_template_of_the_same_text(env_class):
    env = env_class()
    assert env.compile_expression("a + b")(a=1, b=2) == 3
    assert env.from_string("a + b").render(a=1, b=2) == "a + b"
    fresh_process_memo()
    assert env.compile_expression("a + b")(a=2, b=2) == 4
    assert env.from_string("a + b").render() == "a + b"
    assert env_class.compiles == 2


def test_different_syntax_settings_compile_apart(env_class):
    plain, other = env_class(), env_class(variable_start_string="[[", variable_end_string="]]")
    source = "[[ a ]]{{ a }}"
    assert plain.from_string(source).render(a=1) == "[[ a ]]1"
    assert other.from_string(source).render(a=1) == "1{{ a }}"
    trimmed = env_class(trim_blocks=True)
    block = "{% if true %}\nx{% endif %}"
    assert plain.from_string(block).render() == "\nx"
    assert trimmed.from_string(block).render() == "x"
    assert env_class.compiles == 4


def test_a_filter_that_now_takes_its_context_is_compiled_again(tmp_path):
    """The generated code passes the context, environment or nothing, as the filter asked when it was compiled."""

    class Env(CountingEnvironment):
        compiles = 0

    try:
        cache.install(Env, str(tmp_path))
        plain = Env()
        plain.filters["tag"] = lambda value: f"<{value}>"
        assert plain.from_string("{{ x | tag }}").render(x=1) == "<1>"
        fresh_process_memo()
        contextual = Env()
        contextual.filters["tag"] = pass_context(lambda ctx, value: f"<{value}:{ctx['y']}>")
        assert contextual.from_string("{{ x | tag }}").render(x=1, y=2) == "<1:2>"
        with_env = Env()
        with_env.filters["tag"] = pass_environment(lambda env, value: f"<{value}:{type(env).__name__}>")
        assert with_env.from_string("{{ x | tag }}").render(x=1) == "<1:Env>"
        assert Env.compiles == 3
    finally:
        cache.uninstall()


def test_a_missing_filter_fails_as_without_the_cache_and_is_never_stored(env_class, tmp_path):
    env = env_class()
    with pytest.raises(jinja2.TemplateSyntaxError, match="No filter named 'nope'"):
        env.from_string("{{ x | nope }}")
    # In a conditional Jinja compiles a call that fails when it runs; that code is not cached either.
    template = env.from_string("{% if x %}{{ x | nope }}{% endif %}")
    assert template.render(x=0) == ""
    with pytest.raises(jinja2.TemplateRuntimeError, match="No filter named 'nope'"):
        template.render(x=1)
    assert list(tmp_path.iterdir()) == []


def test_a_syntax_error_reads_as_without_the_cache(env_class, tmp_path):
    with pytest.raises(jinja2.TemplateSyntaxError) as cached:
        env_class().from_string("line one\n{{ a + }}")
    with pytest.raises(jinja2.TemplateSyntaxError) as plain:
        jinja2.Environment().from_string("line one\n{{ a + }}")
    assert (str(cached.value), cached.value.lineno) == (str(plain.value), plain.value.lineno)
    assert list(tmp_path.iterdir()) == []


def test_raw_and_named_compiles_are_left_to_jinja(env_class, tmp_path):
    env = env_class()
    assert "def root" in env.compile("{{ a }}", raw=True)
    env.compile("{{ a }}", name="page.html")
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_cache_file_is_compiled_again(env_class, tmp_path):
    env = env_class()
    env.from_string("{{ a }}!")
    (entry,) = code_entries(tmp_path)
    entry.write_bytes(b"not marshalled code")
    fresh_process_memo()
    assert env.from_string("{{ a }}!").render(a=3) == "3!"
    assert env_class.compiles == 2


@pytest.fixture
def parse_counting(tmp_path):
    class Env(ParseCountingEnvironment):
        compiles = 0
        parses = 0

    assert cache.install(Env, str(tmp_path))
    yield Env
    cache.uninstall()


def test_a_known_template_is_loaded_without_parsing_it_and_its_plugins_are_still_looked_up(parse_counting):
    """The names file spares the parse; each filter's calling convention is read from the plugin as it is now."""
    source = "{{ x | tag }}{% if y is odd %}!{% endif %}"
    plain = parse_counting()
    plain.filters["tag"] = lambda value: f"<{value}>"
    assert plain.from_string(source).render(x=1, y=3) == "<1>!"
    assert (parse_counting.compiles, parse_counting.parses) == (1, 2)  # the names found, then Jinja's compile
    fresh_process_memo()
    again = parse_counting()
    again.filters["tag"] = lambda value: f"<{value}>"
    assert again.from_string(source).render(x=2, y=2) == "<2>"
    assert (parse_counting.compiles, parse_counting.parses) == (1, 2)
    fresh_process_memo()
    contextual = parse_counting()
    contextual.filters["tag"] = pass_context(lambda ctx, value: f"<{value}:{ctx['y']}>")
    assert contextual.from_string(source).render(x=1, y=5) == "<1:5>!"
    assert (parse_counting.compiles, parse_counting.parses) == (2, 3)  # compiled again, for the new convention
    fresh_process_memo()
    missing = parse_counting()
    with pytest.raises(jinja2.TemplateSyntaxError, match="No filter named 'tag'"):
        missing.from_string(source)  # a filter gone: compiled (and failing) as without the cache


def test_an_expression_is_read_from_its_tree_and_keeps_no_names(env_class, tmp_path):
    env = env_class()
    assert env.compile_expression("xs | length > 1")(xs=[1, 2]) is True
    assert len(code_entries(tmp_path)) == 1
    assert names_entries(tmp_path) == []
    env.from_string("{{ xs | length }}")
    assert len(names_entries(tmp_path)) == 1


def test_a_damaged_names_file_means_a_parse_as_before(parse_counting, tmp_path):
    env = parse_counting()
    assert env.from_string("{{ a | upper }}").render(a="x") == "X"
    for damaged in (b"not json", b'[["Filter"]]', b'[["Macro", "upper"]]'):
        (entry,) = names_entries(tmp_path)
        entry.write_bytes(damaged)
        fresh_process_memo()
        assert env.from_string("{{ a | upper }}").render(a="y") == "Y"
    assert (parse_counting.compiles, parse_counting.parses) == (1, 5)  # 2 for the compile, then 1 per damaged file
    (entry,) = names_entries(tmp_path)
    assert entry.read_text() == '[["Filter", "upper"]]'


def test_ansible_templating_renders_the_same_with_the_cache(tmp_path):
    """Through Ansible's own Templar: expressions, conditionals, filters with a context, escaped backslashes."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from ansible.plugins.loader import init_plugin_loader
        init_plugin_loader([])
        from ansible.parsing.dataloader import DataLoader
        from ansible.template import Templar, trust_as_template
        from ansible_collections.smartstream.pipeline.plugins.plugin_utils import template_code_cache
        if sys.argv[1] == "cached":
            assert template_code_cache.install(directory={str(tmp_path)!r})
        templar = Templar(loader=DataLoader(), variables={{"xs": [3, 1, 2], "name": "a\\\\b", "when": "xs | length > 2"}})
        out = [
            templar.template(trust_as_template("{{{{ xs | sort | map('string') | join(',') }}}}")),
            templar.template(trust_as_template("{{{{ name | regex_replace('\\\\\\\\', '/') }}}}")),
            templar.template(trust_as_template("{{{{ lookup('ansible.builtin.vars', 'name') }}}}")),
            templar.evaluate_conditional(trust_as_template("xs | length > 2")),
            templar.template(trust_as_template("{{{{ xs | default(omit) | max }}}}")),
        ]
        print(json.dumps(out))
        """
    )

    def run(mode):
        collections = str(Path(__file__).resolve().parents[2] / ".collections")
        environ = {**os.environ, "PYTHONPATH": collections}
        done = subprocess.run(
            [sys.executable, "-c", script, mode], capture_output=True, text=True, check=False, env=environ
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    plain, cached, loaded = run("plain"), run("cached"), run("cached")
    assert plain == cached == loaded
    assert '["1,2,3", "a/b", "a\\\\b", true, 3]' in plain
    assert len(code_entries(tmp_path)) >= 5
