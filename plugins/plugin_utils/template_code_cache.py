# Copyright (c) 2026 smartstream contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja's bytecode cache for the templates Ansible compiles from strings.

Ansible templates every task's arguments, conditionals and variables in the
task's worker process, a fork of ``ansible-playbook`` that compiles every
template it renders (Jinja's ``Environment.compile``: parse, generate Python,
``compile()``) and dies with what it compiled. A no-op converge of the
platform compiled ~2,600 templates, ~700 distinct (the ``module_defaults``
block ~90 times per template), in ~0.6 s of the workers' CPU, which is on
the path of every task: with the cache the no-op converge took 0.3-0.7 s
less, and 0.55 s less user CPU.

Jinja has the remedy for templates loaded from files, its bytecode cache
(``FileSystemBytecodeCache``: the compiled code, marshalled, in a directory
private to the user, by a key of the template). Ansible's templates are
strings, which Jinja never caches. ``install()`` extends that cache to them:
``compile`` of a string template (and of ``compile_expression``'s tree) looks
its code up in the cache first, and stores it after a compile.

The key is what the compiled code depends on (a SHA-256 of all of it):

* the template's text, and whether it is a template or an expression;
* the environment's syntax and code-generation settings (delimiters,
  whitespace control, extensions, optimizer, async, finalize, autoescape,
  its classes);
* Ansible's compile-time settings: backslash escaping of the template, and
  whether embedded templates are allowed;
* for every filter and test the template uses, how Jinja calls it (with the
  context, the evaluation context, the environment or none): the generated
  code passes that argument, so it is read from the plugin each time;
* the Python, Jinja and ansible-core versions (Jinja's bucket also checks
  Python's and its own bytecode version).

Finding the filters and tests a template uses needs its parse, half the work
of a compile. So the names found in a template are kept too, by a key of
everything but the plugins' calling conventions
(``smartstream-template-<key>.names``): a later compile of the same text reads
the names, looks each plugin up as it is now, and so computes the full key
without parsing. The names are only a hint to the full key: a template's
filters and tests follow from its text and the syntax settings, all in that
key, and a damaged or missing names file means a parse, as before. An
expression's tree reaches the cache already parsed (``compile_expression``):
its names are read from the tree, and none are kept.

A template that is not cached is compiled exactly as before: one that uses a
filter or test not found (Jinja compiles a call that fails when it runs),
Ansible's template debugging, ``raw`` or ``defer_init`` compiles, and any
template whose key cannot be made. A syntax error is never cached (the compile
raises before anything is stored) and is raised by Jinja's own compile, so the
message is unchanged. The cache only replaces work whose result depends on
nothing but the key; a template renders with its task's variables as before.

The cache's directory is Jinja's default for a user (``_jinja2-cache-<uid>``
in the temporary directory, created with mode 0700 and refused when another
user owns it); its files are named ``smartstream-template-<key>.cache`` (code)
and ``smartstream-template-<key>.names`` (the names a template uses).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import sys

import jinja2
from jinja2 import nodes
from jinja2.bccache import Bucket, FileSystemBytecodeCache
from jinja2.utils import _PassArg

_FILE_PATTERN = "smartstream-template-%s.cache"
_NAMES_PATTERN = "smartstream-template-%s.names"
_CACHE_FORMAT = 1  # bumped when the key's contents change
# The text of the expression compile_expression is compiling (its tree reaches compile()).
_expression_text: contextvars.ContextVar[str | None] = contextvars.ContextVar("smartstream_expression", default=None)
_memo: dict[str, object] = {}  # key -> code, in this process
_names_memo: dict[str, tuple] = {}  # names key -> ((node kind, plugin name), ...), in this process
_state: dict[str, object] = {}  # "cache": the FileSystemBytecodeCache, "original": the patched methods


def install(environment_class: type | None = None, directory: str | None = None) -> bool:
    """Patch ``compile`` and ``compile_expression`` of Ansible's environment class; True when installed."""
    if environment_class is None:
        from ansible._internal._templating._jinja_bits import AnsibleEnvironment

        environment_class = AnsibleEnvironment
    if getattr(environment_class, "_smartstream_code_cache", False):
        return True
    try:
        _state["cache"] = FileSystemBytecodeCache(directory, _FILE_PATTERN)
    except (OSError, RuntimeError):  # no private directory to keep code in: compile as before
        return False
    compile_original = environment_class.compile
    expression_original = environment_class.compile_expression

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        found = None
        if not (raw or defer_init or name is not None or filename is not None):
            found = _key(self, source)
        if found is None:
            return compile_original(self, source, name, filename, raw, defer_init)
        key, names_key, names = found
        code = _load(self, key)
        if code is None:
            code = compile_original(self, source, name, filename, raw, defer_init)
            _store(self, key, code)
        if names_key is not None:
            _store_names(names_key, names)
        return code

    def compile_expression(self, source, undefined_to_none=True):
        token = _expression_text.set(source)
        try:
            return expression_original(self, source, undefined_to_none)
        finally:
            _expression_text.reset(token)

    environment_class.compile = compile
    environment_class.compile_expression = compile_expression
    environment_class._smartstream_code_cache = True
    _state["original"] = (environment_class, compile_original, expression_original)
    return True


def uninstall() -> None:
    """Undo ``install()`` (for tests)."""
    original = _state.pop("original", None)
    if original is not None:
        environment_class, compile_original, expression_original = original
        environment_class.compile = compile_original
        environment_class.compile_expression = expression_original
        environment_class._smartstream_code_cache = False
    _memo.clear()
    _names_memo.clear()


def _key(environment, source) -> tuple[str, str | None, tuple] | None:
    """(the cache key, the key of the names to keep or None, the names) of a compile; None when it is not cached."""
    if getattr(environment, "_debuggable_template_source", False):
        return None
    tree = None
    if isinstance(source, str):
        kind, text = "template", source
    elif isinstance(source, nodes.Template):
        text = _expression_text.get()
        if text is None:  # a tree not built by compile_expression
            return None
        _expression_text.set(None)  # this compile only: not a nested one
        kind, tree = "expression", source
    else:
        return None
    parts = (
        _CACHE_FORMAT,
        sys.version,
        jinja2.__version__,
        _ansible_version(),
        kind,
        text,
        _settings(environment),
        _ansible_compile_settings(),
    )
    names_key = None
    if tree is None:  # a template's text: its names as kept by an earlier compile spare its parse
        names_key = _digest(parts)
        names = _load_names(names_key)
        if names is not None:
            names_key = None  # known: nothing to keep
        else:
            try:
                tree = environment._parse(source, None, None)
            except Exception:  # a syntax error: Jinja's compile raises it as usual
                return None
    if tree is not None:  # parsed now, or an expression's tree (compile_expression parsed it)
        names = tuple(sorted({(type(node).__name__, node.name) for node in tree.find_all((nodes.Filter, nodes.Test))}))
    calls = _plugin_calls(environment, names)
    if calls is None:
        return None
    return _digest((*parts, calls)), names_key, names


def _digest(parts: tuple) -> str:
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _plugin_calls(environment, names: tuple) -> tuple | None:
    """(kind, name, how Jinja passes it an argument) of every filter and test used; None when one is missing."""
    calls = []
    for kind, name in names:
        plugins = environment.filters if kind == "Filter" else environment.tests
        try:
            func = plugins.get(name)
        except Exception:  # a plugin that fails to load: the compile reports it, uncached
            return None
        if func is None:
            return None
        calls.append((kind, name, _pass_name(func)))
    return tuple(calls)


def _settings(environment) -> tuple:
    finalize = environment.finalize
    autoescape = environment.autoescape
    return (
        f"{type(environment).__module__}.{type(environment).__qualname__}",
        f"{environment.code_generator_class.__module__}.{environment.code_generator_class.__qualname__}",
        environment.block_start_string,
        environment.block_end_string,
        environment.variable_start_string,
        environment.variable_end_string,
        environment.comment_start_string,
        environment.comment_end_string,
        environment.line_statement_prefix,
        environment.line_comment_prefix,
        environment.trim_blocks,
        environment.lstrip_blocks,
        environment.newline_sequence,
        environment.keep_trailing_newline,
        environment.optimized,
        environment.is_async,
        environment.sandboxed,
        tuple(sorted(environment.extensions)),
        None if finalize is None else (getattr(finalize, "__qualname__", repr(type(finalize))), _pass_name(finalize)),
        getattr(autoescape, "__qualname__", None) if callable(autoescape) else bool(autoescape),
    )


def _pass_name(func) -> str | None:
    pass_arg = _PassArg.from_obj(func)
    return pass_arg.name if pass_arg else None


def _ansible_compile_settings() -> tuple:
    """Ansible's settings that change the code of a template: backslash escaping, embedded templates."""
    try:
        from ansible._internal._templating._jinja_bits import _TemplateCompileContext
        from ansible._internal._templating._jinja_common import _TemplateConfig
    except ImportError:  # plain Jinja (tests)
        return ()
    context = _TemplateCompileContext.current(optional=True)
    return (
        None if context is None else bool(context.escape_backslashes),
        bool(_TemplateConfig.allow_embedded_templates),
    )


def _ansible_version() -> str:
    try:
        from ansible.release import __version__
    except ImportError:
        return ""
    return __version__


def _load(environment, key: str):
    code = _memo.get(key)
    if code is None:
        bucket = Bucket(environment, key, key)
        try:
            _state["cache"].load_bytecode(bucket)
        except Exception:  # an unreadable file: compile
            return None
        code = bucket.code
        if code is not None:
            _memo[key] = code
    return code


def _store(environment, key: str, code) -> None:
    _memo[key] = code
    bucket = Bucket(environment, key, key)
    bucket.code = code
    with contextlib.suppress(Exception):  # a full disk: the next worker compiles it again
        _state["cache"].dump_bytecode(bucket)


def _load_names(names_key: str) -> tuple | None:
    """The filters and tests a template uses, as kept by an earlier compile of it; None when not kept."""
    names = _names_memo.get(names_key)
    if names is None:
        try:
            with open(os.path.join(_state["cache"].directory, _NAMES_PATTERN % names_key), encoding="utf-8") as handle:
                loaded = json.load(handle)
            names = tuple((kind, name) for kind, name in loaded)
        except Exception:  # none, or damaged: parse
            return None
        if not all(kind in ("Filter", "Test") and isinstance(name, str) for kind, name in names):
            return None
        _names_memo[names_key] = names
    return names


def _store_names(names_key: str, names: tuple) -> None:
    _names_memo[names_key] = names
    path = os.path.join(_state["cache"].directory, _NAMES_PATTERN % names_key)
    part = f"{path}.{os.getpid()}"
    with contextlib.suppress(OSError):  # a full disk: the next worker parses it again
        with open(part, "w", encoding="utf-8") as handle:
            json.dump(names, handle)
        os.replace(part, path)
