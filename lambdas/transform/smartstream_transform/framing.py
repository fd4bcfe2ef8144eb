"""Find the records of a Firehose object, whatever its framing, and account for every byte.

Firehose writes the Kinesis records DMS produced back to back: with the DMS
message format ``json-unformatted`` one JSON object per line (LF or CRLF),
with ``json`` pretty-printed objects concatenated with no delimiter. One
incremental scanner reads both: it parses a JSON value where the previous one
ended, after whitespace. Every byte of the object then belongs to exactly one
of: a parsed value (``Parsed``), a ``Fragment`` that did not parse (with its
byte range and reason), or whitespace between them.

After a failure the scanner resynchronises on the next *record boundary*: a
``{`` at the start of a line, a ``{`` after a ``}`` (``}{``, ``}\\n{``,
``}\\r\\n{``), or a ``{`` that opens a DMS envelope (``{"data":``,
``{"metadata":``, ...). The bytes from the failure to that boundary are one
fragment. A fragment longer than ``INLINE_LIMIT`` is streamed to a spill file,
so memory holds one buffer plus one record, never a whole bad stretch.

Input: decompressed bytes from ``source.ByteSource``; decoded as UTF-8 with
invalid bytes escaped (surrogateescape), so a record holding invalid UTF-8
is told apart and its original bytes are kept exactly.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

CHUNK_CHARS = 1 << 20
MAX_RECORD_CHARS = 32 << 20  # a single record larger than this is a fragment
INLINE_LIMIT = 64 << 10  # fragment text kept inline in its quarantine entry up to this size
_WS = re.compile(r"[ \t\r\n]*")
# A record boundary after position p: group 1 is a '{' at a line start or after '}', group 2 a '{'
# that opens a DMS envelope.
_BOUNDARY = re.compile(r'(?:\n|\}[ \t\r\n]*)(\{)|(\{)(?=[ \t\r\n]*"(?:data|metadata|control|before-image)"[ \t\r\n]*:)')
_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, escaped by surrogateescape


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# The C scanner behind json.loads, called directly: it returns (value, end) and raises
# StopIteration where no value starts (JSONDecodeError inside one). NaN/Infinity are refused.
_scan = json.JSONDecoder(parse_constant=_reject_constant).scan_once


@dataclass(slots=True)
class Fragment:
    """A stretch of the object that is not a JSON value: its byte range, why, and its bytes
    (``data`` when at most INLINE_LIMIT, else ``spill`` holds them)."""

    start: int
    end: int
    reason: str
    data: bytes | None
    spill: IO[bytes] | None = None


def text_bytes(text: str) -> bytes:
    """The original bytes of decoded text (escaped invalid bytes restored)."""
    return text.encode("utf-8", "surrogateescape")


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


def has_invalid_utf8(text: str) -> bool:
    return _ESCAPED.search(text) is not None


class Framer:
    """Iterate ``(value, text, start_byte)`` for each JSON value, or a ``Fragment``.

    ``text`` is the value's original text (a str). The caller asks for byte offsets
    lazily: ``start_byte`` is exact; the end is ``start_byte + len(text_bytes(text))``.
    """

    def __init__(self, read: Any, spill_factory: Any, chunk_chars: int = CHUNK_CHARS):
        self._read = read  # () -> bytes, b"" at the end
        self._spill_factory = spill_factory  # () -> a writable binary file
        self._chunk = chunk_chars
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.buf = ""
        self.eof = False
        self.base_byte = 0  # byte offset of buf[0] in the object
        self._ascii = True

    # ------------------------------------------------------------------ buffer

    def _refill(self, keep_from: int, want: int = 0) -> int:
        """Drop buf[:keep_from], append at least one chunk; returns how many chars were dropped."""
        self.base_byte += _utf8_len(self.buf[:keep_from])
        rest = self.buf[keep_from:]
        parts = [rest]
        got = 0
        target = max(self._chunk, want)
        while got < target:
            chunk = self._read()
            if not chunk:
                parts.append(self._decoder.decode(b"", final=True))
                self.eof = True
                break
            text = self._decoder.decode(chunk)
            parts.append(text)
            got += len(text)
        self.buf = "".join(parts)
        self._ascii = self.buf.isascii()
        return keep_from

    # ------------------------------------------------------------------ records

    def __iter__(self) -> Iterator[Any]:
        scan, ws, byte_len = _scan, _WS.match, _utf8_len
        pos = 0
        cursor_char = cursor_byte = 0  # a (char, byte) pair within buf, for byte offsets
        while True:
            buf = self.buf
            size = len(buf)
            pos = ws(buf, pos).end()
            if pos >= size:
                if self.eof:
                    return
                pos -= self._refill(pos)
                cursor_char = cursor_byte = 0
                continue
            try:
                value, end = scan(buf, pos)
                if end == size and not self.eof and type(value) is not dict and type(value) is not list:
                    raise _NeedMore  # a bare number or literal could continue in the next chunk
            except (StopIteration, ValueError, RecursionError, _NeedMore):
                outcome, end, reason = _try(buf, pos, self.eof)
                if outcome is _MORE and size - pos <= MAX_RECORD_CHARS:
                    pos -= self._refill(pos, want=size - pos)
                    cursor_char = cursor_byte = 0
                    continue
                if outcome is _MORE:
                    outcome, reason = _BAD, f"record longer than {MAX_RECORD_CHARS >> 20} MiB"
                if outcome is _BAD:
                    if pos < cursor_char:
                        cursor_char = cursor_byte = 0
                    cursor_byte += byte_len(buf[cursor_char:pos])
                    fragment, value, pos, text, start = self._resync(pos, self.base_byte + cursor_byte, reason)
                    cursor_char, cursor_byte = pos, start - self.base_byte
                    yield fragment
                    if value is _NONE:
                        continue
                    yield value, text, start
                    pos += len(text)
                    continue
                value = outcome
            text = buf[pos:end]
            if self._ascii:
                yield value, text, self.base_byte + pos
            else:
                cursor_byte += byte_len(buf[cursor_char:pos])
                cursor_char = pos
                yield value, text, self.base_byte + cursor_byte
            pos = end

    def _resync(self, pos: int, start_byte: int, reason: str) -> tuple[Fragment, Any, int, str, int]:
        """The fragment from pos to the next record boundary, the record found there (or _NONE),
        its position in the buffer, its text and its byte offset."""
        spill: IO[bytes] | None = None
        spilled = 0
        search = pos + 1
        while True:
            buf = self.buf
            match = _BOUNDARY.search(buf, search)
            if match is None:
                if self.eof:
                    value, found, end = _NONE, len(buf), len(buf)
                    break
                keep = max(pos, len(buf) - 1024)  # a tail, so a boundary split across buffers is seen
                if keep - pos > INLINE_LIMIT or spill is not None:
                    spill = spill or self._spill_factory()
                    spilled += spill.write(text_bytes(buf[pos:keep]))
                    pos = keep
                dropped = self._refill(pos)
                search = max(len(buf) - 1024, pos + 1) - dropped
                pos -= dropped
                continue
            candidate = match.start(1) if match.group(1) is not None else match.start(2)
            outcome, end, _why = _try(buf, candidate, self.eof)
            if outcome is _MORE and len(buf) - candidate <= MAX_RECORD_CHARS:
                dropped = self._refill(pos, want=len(buf) - pos)
                pos -= dropped
                search = candidate - dropped
                continue
            if outcome is _BAD or outcome is _MORE:
                search = candidate + 1
                continue
            value, found = outcome, candidate
            break
        buf = self.buf
        body = buf[pos:found].rstrip(" \t\r\n")
        tail = text_bytes(body)
        size = spilled + len(tail)
        if spill is None and size > INLINE_LIMIT:
            spill = self._spill_factory()
        if spill is not None:
            spill.write(tail)
            fragment = Fragment(start_byte, start_byte + size, reason, None, spill)
        else:
            fragment = Fragment(start_byte, start_byte + size, reason, tail)
            if has_invalid_utf8(body):
                fragment.reason = f"invalid UTF-8 ({reason})"
        found_byte = start_byte + size + (found - pos - len(body))  # whitespace is one byte a char
        text = buf[found:end] if value is not _NONE else ""
        return fragment, value, found, text, found_byte


class _NeedMore(Exception):
    pass


_BAD = object()
_MORE = object()
_NONE = object()


def _try(buf: str, pos: int, eof: bool) -> tuple[Any, int, str]:
    """Parse one value at pos: (value, end, "") or (_MORE, 0, "") when the buffer ends inside it,
    or (_BAD, 0, reason)."""
    try:
        value, end = _scan(buf, pos)
    except StopIteration as stop:  # no value where one must start; stop.value is where
        if not eof and stop.value >= len(buf) - 5:  # perhaps a literal or number cut by the buffer's end
            return _MORE, 0, ""
        return _BAD, 0, "not valid JSON: expecting a value"
    except json.JSONDecodeError as exc:
        if not eof and (exc.pos >= len(buf) - 1 or exc.msg.startswith("Unterminated string")):
            return _MORE, 0, ""
        return _BAD, 0, f"not valid JSON: {exc.msg}"
    except RecursionError:
        return _BAD, 0, "not valid JSON: nested too deeply"
    except ValueError as exc:  # an integer of more than 4300 digits, NaN, Infinity
        return _BAD, 0, f"not valid JSON: {exc}"
    if end == len(buf) and not eof and type(value) is not dict and type(value) is not list:
        return _MORE, 0, ""  # a bare number or literal could continue in the next chunk
    return value, end, ""
