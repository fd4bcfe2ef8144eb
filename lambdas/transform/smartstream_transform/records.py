"""Stream DMS records out of a Firehose object, whatever its framing.

Firehose writes the Kinesis records DMS produced back to back. With the DMS
message format ``json-unformatted`` that is one JSON object per line; with
``json`` it is pretty-printed objects concatenated with no delimiter. Both
share one property this parser relies on: a record starts with ``{`` at the
start of a line, and nothing inside a record does (JSON strings cannot hold a
raw newline, and DMS indents nested objects). So one incremental parser reads
both, resynchronising on the next ``\\n{`` after a malformed record.

The object is read in chunks (GZIP detected by its magic bytes), so memory
holds one chunk plus one partial record, never a copy of the whole object.
"""

from __future__ import annotations

import codecs
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_SIZE = 1 << 20
_WHITESPACE = " \t\r\n"
# The C scanner behind json.loads, called directly: it returns (value, end)
# and raises StopIteration where no value starts (JSONDecodeError inside one).
_scan = json.JSONDecoder().scan_once


@dataclass(slots=True)
class Malformed:
    """A stretch of the object that is not a JSON value, with why."""

    text: str
    reason: str


class _Peekable:
    """Lets the first bytes be inspected without losing them."""

    def __init__(self, raw: IO[bytes]):
        self._raw = raw
        self._head = raw.read(2)

    @property
    def head(self) -> bytes:
        return self._head

    def read(self, size: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            if size < 0:
                return head + self._raw.read()
            return head + self._raw.read(max(size - len(head), 0))
        return self._raw.read(size)

    def readable(self) -> bool:
        return True


def open_maybe_gzip(raw: IO[bytes]) -> IO[bytes]:
    """The decompressed stream when ``raw`` starts with the GZIP magic bytes, else ``raw``."""
    peek = _Peekable(raw)
    if peek.head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=peek, mode="rb")  # type: ignore[arg-type]
    return peek  # type: ignore[return-value]


def iter_documents(raw: IO[bytes], chunk_size: int = CHUNK_SIZE) -> Iterator[tuple[Any, str, int, int]]:
    """Yield ``(value, buffer, start, end)`` for each JSON value, or ``(Malformed, ...)``.

    ``buffer[start:end]`` is the value's original text; it is valid until the
    next item is requested, so a consumer slices it only when it needs it.
    """
    stream = open_maybe_gzip(raw)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buf = ""
    pos = 0
    eof = False
    while True:
        # skip whitespace between records
        n = len(buf)
        while pos < n and buf[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            if eof:
                return
            buf, pos, eof = _refill(stream, decoder, buf, pos, chunk_size)
            continue
        try:
            value, end = _scan(buf, pos)
        except (json.JSONDecodeError, StopIteration):
            nxt = buf.find("\n{", pos + 1)
            if nxt == -1:
                if not eof:
                    buf, pos, eof = _refill(stream, decoder, buf, pos, chunk_size)
                    continue
                nxt = len(buf)
            text = buf[pos:nxt]
            yield Malformed(text.rstrip(), "not valid JSON"), buf, pos, nxt
            pos = nxt
            continue
        if end == len(buf) and not eof and not isinstance(value, dict | list):
            # a bare number or literal could continue in the next chunk
            buf, pos, eof = _refill(stream, decoder, buf, pos, chunk_size)
            continue
        yield value, buf, pos, end
        pos = end


def _refill(stream: IO[bytes], decoder: Any, buf: str, pos: int, chunk_size: int) -> tuple[str, int, bool]:
    """Drop what was consumed, append the next chunk; returns (buf, pos, eof)."""
    chunk = stream.read(chunk_size)
    if not chunk:
        return buf[pos:] + decoder.decode(b"", final=True), 0, True
    return buf[pos:] + decoder.decode(chunk), 0, False
