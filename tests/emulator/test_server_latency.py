"""The emulator's HTTP front adds no fixed cost per request (emulator/patches/server.py)."""

from __future__ import annotations

import os
import socket
import time

from emulator import patches

patches.apply_all()


def test_moto_lists_its_service_packages_once(monkeypatch):
    from moto import backends

    first = backends.list_of_moto_modules()
    assert "s3" in first and "ec2" in first and "__pycache__" not in first

    def no_disk(*_args):
        raise AssertionError("the package directory is read again")

    monkeypatch.setattr(os, "listdir", no_disk)
    assert backends.list_of_moto_modules() is first


def test_the_drain_after_a_response_does_not_wait_on_a_quiet_socket():
    from werkzeug import serving

    server_end, client_end = socket.socketpair()
    try:
        selector = serving.selectors.DefaultSelector()
        selector.register(server_end, serving.selectors.EVENT_READ)
        started = time.monotonic()
        quiet = [selector.select(timeout=0.01) for _ in range(50)]
        waited = time.monotonic() - started
        # werkzeug's own drain waits 10 ms per look: 50 looks >= 0.5 s
        assert quiet == [[]] * 50 and waited < 0.25
        # and what a client did send is still seen and drained
        client_end.sendall(b"left over")
        assert selector.select(timeout=0.01)
        assert server_end.recv(100) == b"left over"
        selector.close()
    finally:
        server_end.close()
        client_end.close()


def test_a_connection_is_kept_alive_and_an_unread_body_is_not_taken_for_the_next_request(emulator_url):
    import http.client
    from urllib.parse import urlparse

    url = urlparse(emulator_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        # a body the app never reads, shaped like a request that would wipe the emulator
        sneaky = b"POST /moto-api/reset HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
        conn.request("GET", "/moto-api/data.json", body=sneaky)
        first = conn.getresponse()
        assert first.status == 200 and first.getheader("Connection", "").lower() != "close"
        first.read()
        assert not first.will_close
        sock = conn.sock
        conn.request("GET", "/moto-api/data.json")
        second = conn.getresponse()
        assert second.status == 200 and second.read().startswith(b"{")
        assert conn.sock is sock  # the same connection answered both
        # a client asking to close still gets its connection closed
        conn.request("GET", "/moto-api/data.json", headers={"Connection": "close"})
        third = conn.getresponse()
        third.read()
        assert third.will_close
    finally:
        conn.close()


def test_the_request_id_goes_into_xml_bodies_and_other_bodies_are_not_scanned(monkeypatch):
    import re

    from moto.core.responses import BaseResponse

    headers, body = BaseResponse._enrich_response({}, "<R><RequestId>old</RequestId></R>")
    assert body == f"<R><RequestId>{headers['x-amzn-requestid']}</RequestId></R>"
    scans = []
    real_sub = re.sub
    monkeypatch.setattr(re, "sub", lambda *args, **kwargs: scans.append(args) or real_sub(*args, **kwargs))
    page = '{"Records": [' + ", ".join(['{"Data": "eA=="}'] * 1000) + "]}"
    headers, body = BaseResponse._enrich_response({"status": 200}, page)
    assert body == page and headers["status"] == "200" and len(headers["x-amzn-requestid"]) == 52
    assert scans == []


def test_an_accepted_connection_sends_without_nagle_delay():
    """The socket that answers a request has TCP_NODELAY: the body is not held for the ACK of the headers."""
    import threading

    from werkzeug import serving

    seen: list[int] = []

    def app(environ, start_response):
        sock = environ["werkzeug.socket"]
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            assert client.recv(1000).startswith(b"HTTP/1.1 200")
    finally:
        server.shutdown()
    assert seen and seen[0] != 0  # werkzeug's default handler leaves Nagle on: 0
