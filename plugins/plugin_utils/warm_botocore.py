# Copyright (c) 2026 smartstream contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the warm module host changes in botocore, in itself and its forks only.

Every AWS module run creates a new boto3 session and a client per service it
calls. In a fork of the warm host that cost ~22 ms a client, most of it work
whose result depends only on botocore's own code and data: parsing the
service's JSON model, building a Python method (and its docstring model) for
each of the service's operations (~800 for EC2), checking each of the ~130
built-in event handlers' signatures and aliasing their event names. The host
does that work once, before it forks, and the forks find it done:

* ``share_data_loaders``: sessions share one data loader per data path
  (``botocore.session.create_loader`` memoised), so a client finds its
  service model already parsed. The data files are read-only and botocore
  already shares them between the clients of one session.
* ``share_client_methods``: the operation methods of a client class are
  built once per service model (``ClientCreator._create_methods`` memoised by
  the model's parsed JSON, which the shared loader makes one object). Each
  client class is still created per client, from a copy of those methods,
  and the ``creating-client-class`` event still goes to that session's
  handlers, which may add to or change the copy. A method only calls
  ``self._make_api_call`` with its operation's name; the instance holds the
  service model, endpoint, credentials and config, as before.
* ``share_handler_checks``: ``botocore.compat.accepts_kwargs`` (a function's
  signature, read with ``inspect``) is memoised per function, and emitters
  with botocore's default event aliases share one alias cache (the alias of
  an event name depends only on the name and the aliases).

Each is a pure memo of a deterministic result: a module sees the same
classes, methods, handlers and names as without it. The host calls
``share_all`` before it imports and warms the platform's clients; the forks
inherit the filled memos.
"""

from __future__ import annotations

import functools
import types


def share_all() -> None:
    share_data_loaders()
    share_client_methods()
    share_handler_checks()


def share_data_loaders() -> None:
    import botocore.loaders
    import botocore.session

    if getattr(botocore.session.create_loader, "smartstream_shared", False):
        return
    loaders: dict[str | None, botocore.loaders.Loader] = {}
    create_loader = botocore.loaders.create_loader

    def shared_loader(search_path_string=None):
        if search_path_string not in loaders:
            loaders[search_path_string] = create_loader(search_path_string)
        return loaders[search_path_string]

    shared_loader.smartstream_shared = True
    botocore.session.create_loader = shared_loader


def share_client_methods() -> None:
    from botocore.client import ClientCreator

    create_methods = ClientCreator._create_methods
    if getattr(create_methods, "smartstream_shared", False):
        return
    # id(parsed model) -> (the model, its methods); the model is kept so that its id is never reused
    built: dict[int, tuple[dict, dict]] = {}

    @functools.wraps(create_methods)
    def shared_methods(self, service_model):
        description = getattr(service_model, "_service_description", None)
        if not isinstance(description, dict):
            return create_methods(self, service_model)
        entry = built.get(id(description))
        if entry is None or entry[0] is not description:
            entry = built[id(description)] = (description, create_methods(self, service_model))
        return dict(entry[1])

    shared_methods.smartstream_shared = True
    ClientCreator._create_methods = shared_methods


def share_handler_checks() -> None:
    import botocore.compat
    import botocore.hooks

    accepts_kwargs = botocore.compat.accepts_kwargs
    if not getattr(accepts_kwargs, "smartstream_shared", False):
        known: dict = {}

        @functools.wraps(accepts_kwargs)
        def shared_accepts_kwargs(func):
            key = _signature_owner(func)
            if key is None:
                return accepts_kwargs(func)
            if key not in known:
                known[key] = accepts_kwargs(func)
            return known[key]

        shared_accepts_kwargs.smartstream_shared = True
        botocore.compat.accepts_kwargs = shared_accepts_kwargs
        botocore.hooks.accepts_kwargs = shared_accepts_kwargs

    aliaser_init = botocore.hooks.EventAliaser.__init__
    if not getattr(aliaser_init, "smartstream_shared", False):
        default_aliases: dict[str, str] = {}

        @functools.wraps(aliaser_init)
        def shared_alias_cache(self, event_emitter, event_aliases=None):
            aliaser_init(self, event_emitter, event_aliases)
            if event_aliases is None:  # botocore's EVENT_ALIASES: the same name, the same alias
                self._alias_name_cache = default_aliases

        shared_alias_cache.smartstream_shared = True
        botocore.hooks.EventAliaser.__init__ = shared_alias_cache


def _signature_owner(handler):
    """The plain function whose signature is ``handler``'s (as ``inspect`` reads it), or None.

    A function is its own; a bound method's is its function's, less ``self``
    (which never has ``**kwargs``); a callable object's is its class's
    ``__call__``, unless the object sets its own ``__signature__``. Handlers
    are keyed by that function, so a bound method does not keep its object
    alive.
    """
    if isinstance(handler, types.FunctionType):
        return handler
    if isinstance(handler, types.MethodType):
        return handler.__func__ if isinstance(handler.__func__, types.FunctionType) else None
    call = type(handler).__dict__.get("__call__") if callable(handler) else None
    if isinstance(call, types.FunctionType) and "__signature__" not in getattr(handler, "__dict__", {}):
        return call
    return None
