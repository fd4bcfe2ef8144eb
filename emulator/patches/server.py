"""Patches of the emulator's HTTP front (moto's dispatcher, werkzeug's server): per-request latency.

AWS answers a cheap call (GetCallerIdentity, DescribeVpcs) in a few
milliseconds; every AWS module of a converge makes several, and a no-op
converge is mostly such calls. Two fixed costs of the stack under moto's
server made each call take ~17 ms on this machine type, whatever it did:
"""

from __future__ import annotations

import selectors
import types
from typing import Any

from emulator.patches.registry import patch as _patch


# --------------------------------------------------------------------------
# moto: the list of its service packages, read from disk once
# --------------------------------------------------------------------------
# moto's DomainDispatcherApplication asks ``list_of_moto_modules()`` on every
# request, and that lists moto's package directory and stats each entry
# (~150 os calls per request). The packages of an installed moto do not change
# while it runs, so the answer is computed once.
@_patch
def moto_service_list_read_once() -> None:
    """``moto.backends.list_of_moto_modules`` answers from a tuple computed at the first call."""
    from moto import backends

    original = backends.list_of_moto_modules
    if getattr(original, "_smartstream_cached", False):
        return
    cache: list[tuple[str, ...]] = []

    def list_of_moto_modules() -> tuple[str, ...]:
        if not cache:
            cache.append(tuple(original()))
        return cache[0]

    list_of_moto_modules._smartstream_cached = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules


# --------------------------------------------------------------------------
# werkzeug: no 10 ms wait after each response
# --------------------------------------------------------------------------
# werkzeug's development server (which ``moto_server`` runs) closes the
# connection after every response, and before closing it drains what the
# client may still be sending: ``selector.select(timeout=0.01)`` until the
# socket is quiet, so every request costs at least 10 ms more (werkzeug
# 3.1 serving.py, WSGIRequestHandler.run_wsgi). The drain exists for apps
# that answer before reading the body (a 413); moto reads every body it
# parses, and an AWS SDK sends nothing after its request, so the socket is
# already quiet: one non-blocking look is enough.
class _NoWaitSelector:
    """A selector whose ``select`` never waits (the drain after each response)."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()

    def register(self, *args: Any, **kwargs: Any) -> Any:
        return self._selector.register(*args, **kwargs)

    def select(self, timeout: float | None = None) -> list[Any]:  # the timeout is ignored: never waits
        return self._selector.select(timeout=0)

    def close(self) -> None:
        self._selector.close()

    def __del__(self) -> None:
        self._selector.close()


@_patch
def werkzeug_no_drain_wait_after_response() -> None:
    """werkzeug's post-response drain looks once instead of waiting 10 ms per request."""
    from werkzeug import serving

    if isinstance(serving.selectors, types.SimpleNamespace):
        return
    serving.selectors = types.SimpleNamespace(DefaultSelector=_NoWaitSelector, EVENT_READ=selectors.EVENT_READ)
