"""Patches of the emulator's HTTP front (moto's dispatcher, werkzeug's server): per-request latency.

AWS answers a cheap call (GetCallerIdentity, DescribeVpcs) in a few
milliseconds; every AWS module of a converge makes several, and the engines
make thousands a minute. moto's server (werkzeug's development server) added
fixed costs to every call, whatever it did: the package list read from disk,
a 10 ms drain wait, a new TLS handshake per request, and, once connections
were kept alive, a ~40 ms Nagle/delayed-ACK stall. Each patch below removes
one; together a cheap call takes ~2 ms on this machine type.
"""

from __future__ import annotations

import selectors
import threading
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
_KEEP_ALIVE = threading.local()  # set while the handler thread answers a request on a kept-alive connection


class _NoWaitSelector:
    """A selector whose ``select`` never waits (the drain after each response)."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()

    def register(self, *args: Any, **kwargs: Any) -> Any:
        return self._selector.register(*args, **kwargs)

    def select(self, timeout: float | None = None) -> list[Any]:  # the timeout is ignored: never waits
        if getattr(_KEEP_ALIVE, "on", False):
            return []  # a kept-alive connection: its request body was read to its end, the rest is the next request
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


# --------------------------------------------------------------------------
# werkzeug: HTTP/1.1 keep-alive connections
# --------------------------------------------------------------------------
# AWS endpoints keep HTTP/1.1 connections open between requests, and the SDKs
# reuse them from a pool (botocore's max_pool_connections), so a client pays
# the TCP and TLS handshakes once, not per call. werkzeug's development server
# answers every response with ``Connection: close`` (werkzeug 3.1 serving.py,
# WSGIRequestHandler.run_wsgi: "They aren't handled well by Python's
# http.server because it doesn't know how to drain the stream before the next
# request line"), so every call of every engine, module and function paid a
# new TLS handshake on both ends: ~15 % of the emulator's CPU at 2,000
# changes/s through the data path. Here a request with a Content-Length (or no
# body) keeps its connection: the body is handed to the app as a stream of
# exactly Content-Length bytes and read to its end after the response, so the
# next request line starts where it should; the drain that would eat it is
# skipped. A chunked request, an HTTP/1.0 client or ``Connection: close`` still
# closes, as before. Gap: a response that fails after its headers were sent
# keeps the connection (werkzeug closes only a chunked one); moto's Flask app
# turns its errors into complete responses, so this is not seen in practice.
# (https://docs.aws.amazon.com/sdkref/latest/guide/feature-smart-config-defaults.html,
# botocore max_pool_connections; RFC 9112 section 9.3 persistence)
@_patch
def werkzeug_keep_alive_connections() -> None:
    """Responses keep HTTP/1.1 connections open; the request body is read exactly, never past its end."""
    from werkzeug import serving
    from werkzeug.wsgi import LimitedStream

    handler = serving.WSGIRequestHandler
    if getattr(handler, "_smartstream_keep_alive", False):
        return
    make_environ, run_wsgi, send_header = handler.make_environ, handler.run_wsgi, handler.send_header

    def keeps(self: Any) -> bool:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        return self.request_version == "HTTP/1.1" and not self.close_connection and not chunked

    def keep_alive_make_environ(self: Any) -> dict[str, Any]:
        environ = make_environ(self)
        self._smartstream_body = None
        if keeps(self):
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                return environ  # a malformed length: werkzeug's own handling, and the connection closes
            self._smartstream_body = LimitedStream(self.rfile, max(length, 0))
            environ["wsgi.input"] = self._smartstream_body
        return environ

    def keep_alive_run_wsgi(self: Any) -> None:
        _KEEP_ALIVE.on = False
        try:
            run_wsgi(self)
        finally:
            body, self._smartstream_body = getattr(self, "_smartstream_body", None), None
            _KEEP_ALIVE.on = False
            if body is not None:
                try:
                    body.exhaust()  # what the app did not read of the body: never taken for the next request
                except Exception:
                    self.close_connection = True

    def keep_alive_send_header(self: Any, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and getattr(self, "_smartstream_body", None):
            _KEEP_ALIVE.on = True  # the response keeps the connection: the drain after it must not read
            return
        send_header(self, keyword, value)

    handler.make_environ = keep_alive_make_environ
    handler.run_wsgi = keep_alive_run_wsgi
    handler.send_header = keep_alive_send_header
    handler._smartstream_keep_alive = True


# --------------------------------------------------------------------------
# werkzeug: no Nagle delay on kept-alive connections
# --------------------------------------------------------------------------
# werkzeug writes a response in two sends (the headers, then the body). On a
# kept-alive connection Nagle's algorithm holds the second, small send until
# the first is acknowledged, and the client's TCP stack delays that ACK by
# ~40 ms (delayed ACK): every API call took ~48 ms however little moto did
# (py-spy: ~2 ms of it in the handler). AWS's endpoints answer in one flight.
# The request handler now sets TCP_NODELAY on each accepted socket
# (socketserver.StreamRequestHandler.disable_nagle_algorithm): a call costs
# what moto does. Same answers, same connections.
@_patch
def werkzeug_no_nagle_delay() -> None:
    """Accepted sockets get TCP_NODELAY, so a response's two writes are not held ~40 ms by delayed ACKs."""
    from werkzeug import serving

    serving.WSGIRequestHandler.disable_nagle_algorithm = True


# --------------------------------------------------------------------------
# moto: the request id put into XML bodies only
# --------------------------------------------------------------------------
# AWS answers each request with its request id (a header; inside <RequestId>
# in XML bodies). moto's BaseResponse._enrich_response puts the id in with
# ``re.sub(r"(?<=<RequestId>).*(?=</RequestId>)", ...)`` over every body, so a
# JSON answer with no such element (a GetRecords page of 10,000 records,
# ~7 MB) is scanned character by character with a look-behind for nothing:
# ~10 % of the HTTP threads' CPU while Firehose reads a busy stream. The
# substitution now runs only on a body that holds ``<RequestId>``; the
# answers are the same.
@_patch
def moto_request_id_only_where_the_body_has_one() -> None:
    """moto's RequestId substitution skips bodies without a ``<RequestId>`` element (same answers)."""
    from moto.core.responses import BaseResponse

    original = BaseResponse._enrich_response
    if getattr(original, "_smartstream_checked", False):
        return

    def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if isinstance(body, str) and "<RequestId>" not in body:
            if "status" in headers:
                headers["status"] = str(headers["status"])
            from moto.utilities.aws_headers import gen_amzn_requestid_long

            gen_amzn_requestid_long(headers)  # the x-amzn-requestid header, as moto sets it
            return headers, body
        return original(headers, body)

    _enrich_response._smartstream_checked = True  # type: ignore[attr-defined]
    BaseResponse._enrich_response = staticmethod(_enrich_response)
