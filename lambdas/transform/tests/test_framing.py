"""The framer's line fast path gives exactly what the scanner alone gives, whatever the bytes hold."""

from __future__ import annotations

import io
import json
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from smartstream_transform import framing
from smartstream_transform.framing import Fragment, Framer
from smartstream_transform.output import spool

RECORD = {"data": {"id": 1, "name": "Zoë 名前"}, "metadata": {"operation": "load", "table-name": "t"}}
PIECES = [
    json.dumps(RECORD).encode(),
    json.dumps(RECORD, ensure_ascii=False).encode(),
    json.dumps(RECORD, indent=2).encode(),
    b'{"data": {"id": 2}, "metadata": {"operation": "load"}}\r',
    b'{"data": {"id": 3}}   ',
    b'  {"data": {"id": 4}}',
    b'{"data": {"id": 5}}{"data": {"id": 6}}',
    b'{"data": {"name": "\xff\xfe bad"}}',
    b'{"data": {"name": "\xed\xa0\x80"}}',
    b'{"data": {"id": 7, "cut',
    b"garbage } {",
    b"12345",
    b"[1, 2]",
    b"",
    b"\r",
    b" \t ",
    b"\x0c",
    b'"\\ud800"',
    b"{" * 40,
    b'{"data": {"a": {"b": {"c": {"d": 1}}}}, "metadata": {"operation": "load"}}',
    b'{\n{\n{"data"x}{"data":"y}{"metadata": 1, "x": [1, 2, 3, 4, 5, 6, 7, 8, 9]} {}',
]


def frame(body: bytes, read_size: int, chunk: int, lines: bool) -> list:
    stream = io.BytesIO(body)
    out = []
    for item in Framer(lambda: stream.read(read_size), spool, chunk_chars=chunk, lines=lines):
        if type(item) is Fragment:
            data = item.data if item.spill is None else (item.spill.seek(0), item.spill.read())[1]
            out.append(("fragment", item.start, item.end, item.reason, data))
        else:
            out.append(("value", *item))
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(range(len(PIECES))), max_size=30),
    st.lists(st.sampled_from([b"\n", b"\r\n", b"\n\n", b"", b" "]), min_size=1, max_size=30),
    st.sampled_from([7, 61, 1 << 20]),
    st.sampled_from([13, 97, 1 << 20]),
)
def test_line_fast_path_gives_what_the_scanner_gives(picks, separators, read_size, chunk):
    body = b"".join(PIECES[p] + separators[i % len(separators)] for i, p in enumerate(picks))

    fast = frame(body, read_size, chunk, lines=True)
    scanner = frame(body, read_size, chunk, lines=False)

    assert fast == scanner


def test_long_line_without_a_line_end_and_a_clean_line_after_it():
    body = b"x" * 300 + b'\n{"data": {"id": 1}}\n{"data": {"id": 2}}'

    fast = frame(body, 50, 100, lines=True)

    assert fast == frame(body, 50, 100, lines=False)
    assert [item[0] for item in fast] == ["fragment", "value", "value"]
    assert fast[1][3] == 301 and fast[2][3] == 301 + len(b'{"data": {"id": 1}}\n')


def test_an_escape_cut_by_the_buffer_end_is_read_on():
    record = json.dumps(RECORD).encode()  # "Zo\u00eb \u540d\u524d"
    cut = record.index(b"\\u540d") + 3

    values = [item for item in frame(record * 3, cut, cut, lines=False) if item[0] == "value"]

    assert [v[1] for v in values] == [RECORD] * 3


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(range(len(PIECES))), max_size=30),
    st.lists(st.sampled_from([b"\n", b"\r\n", b"", b" "]), min_size=1, max_size=30),
    st.sampled_from([1, 8, 21, 64]),
)
def test_the_resynchronisation_window_changes_nothing_whatever_its_size(picks, separators, window):
    body = b"".join(PIECES[p] + separators[i % len(separators)] for i, p in enumerate(picks))
    want = frame(body, 1 << 20, 1 << 20, lines=False)
    default = framing.WINDOW
    framing.WINDOW = window
    try:
        assert frame(body, 1 << 20, 1 << 20, lines=False) == want
        assert frame(body, 1 << 20, 1 << 20, lines=True) == want
    finally:
        framing.WINDOW = default


def test_a_bad_stretch_of_many_record_starts_is_framed_in_linear_time():
    # each '{' at a line start (or opening '{"data":') is a candidate record after a failure; a
    # failed json parse used to cost O(its offset in the buffer): 1 MiB of them took minutes
    good = b'{"data": {"id": 1}, "metadata": {"operation": "load"}}\n'
    for unit in (b"\n{", b'{"data":"', b"\n{x"):
        body = good + unit * ((512 << 10) // len(unit)) + b"\n" + good

        began = time.process_time()
        items = frame(body, 1 << 20, 1 << 20, lines=True)
        spent = time.process_time() - began

        assert [item[0] for item in items] == ["value", "fragment", "value"], unit
        assert spent < 5, (unit, spent)  # quadratic: about 26 s for b"\n{"; linear: well under 1 s
