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
``{"metadata":``, ...). A ``{`` after a ``}`` on the same line counts only
when what it opens is a DMS envelope: ``"a}{}"`` inside a string of the bad
record is not a record, and the bad record stays one fragment. The bytes from the failure to that boundary are one
fragment. A fragment longer than ``INLINE_LIMIT`` is streamed to a spill file,
so memory holds one buffer plus one record, never a whole bad stretch.

Input: decompressed bytes from ``source.ByteSource``; decoded as UTF-8 with
invalid bytes escaped (surrogateescape), so a record holding invalid UTF-8
is told apart and its original bytes are kept exactly.

Fast path (``json-unformatted``): a line that is exactly one JSON object
(valid UTF-8, an optional CR at its end) is that record, with no further
scanning; byte offsets are line offsets. This gives what the scanner would
give on such a line. At the first line that is anything else, the scanner
takes over from that line's start to the end of the lines at hand (further
when a record or fragment runs on), then hands back at a buffer end that
falls on whitespace. Each hand-over costs at most one buffer, so time stays
linear whatever the input holds.

Blocks (``block_bytes``): the line path first gathers at least that many
bytes and offers their complete lines, as one ``Block``, to the consumer,
which may take them whole (``Block.taken = True``: the consumer accounted
for every record in them, see ``blocks.py``); lines not taken are framed as
above, so declining a block changes nothing.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

# Exact type checks (type(x) is dict) on the per-record path are deliberate:
# cheaper than isinstance, and they keep bool out where int is meant.
# pylint: disable=unidiomatic-typecheck

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
class Block:
    """Complete lines offered whole: ``data[:end]``, starting at byte ``start`` of the object.
    The consumer sets ``taken`` when it accounted for all of them; else they are framed as usual."""

    data: bytes
    end: int
    start: int
    taken: bool = False
    frame: int = 0  # not taken: frame only data[:frame] (lines), then offer the rest again (0: all)


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

    def __init__(
        self, read: Any, spill_factory: Any, chunk_chars: int = CHUNK_CHARS, lines: bool = True, block_bytes: int = 0
    ):
        self._read = read  # () -> bytes, b"" at the end
        self._lines = lines  # the line fast path (off: the scanner alone, for tests)
        self._block_bytes = block_bytes if lines else 0  # offer Blocks of at least this many bytes (0: never)
        self._held = b""  # bytes read but not yet decoded (the fast path's unfinished last line)
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
            chunk = self._next_bytes()
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

    def _next_bytes(self) -> bytes:
        if self._held:
            data, self._held = self._held, b""
            return data
        return self._read()

    # ------------------------------------------------------------------ records

    def __iter__(self) -> Iterator[Any]:
        if not self._lines:
            yield from self._scanner()
            return
        scan = _scan
        block_bytes = self._block_bytes
        data = b""  # starts at self.base_byte
        while True:
            chunk = self._read()
            if chunk:
                data = data + chunk if data else chunk
                if len(data) < block_bytes:
                    continue  # gather a block
            lines: list[bytes] | None = None
            if block_bytes and data:
                end = data.rfind(b"\n") + 1
                if end:
                    block = Block(data, end, self.base_byte)
                    yield block
                    if block.taken:
                        self.base_byte += end
                        data = data[end:]
                    elif 0 < block.frame < end:  # frame the lines before block.frame, then offer the rest
                        lines = data[: block.frame].split(b"\n")
                        lines.pop()  # the b"" after the last line end
                        tail = data[block.frame :]
            if lines is None:
                if not chunk:
                    if data:  # the lines not taken, or a last line without a line end
                        self.buf, self.eof = self._decoder.decode(data, final=True), True
                        self._ascii = self.buf.isascii()
                        yield from self._scanner()
                    return
                lines = data.split(b"\n")
                tail = lines.pop()
                if not lines:
                    if len(tail) <= self._chunk:
                        continue  # no line end yet
                    tail = b""  # a long stretch without a line end: the scanner handles it
            at = 0  # offset of the line in data
            base = self.base_byte
            for line in lines:
                try:
                    text = line.decode()
                    value, end = scan(text, 0)
                    if type(value) is not dict or (end != len(text) and text[end:].strip(" \t\r")):
                        raise ValueError
                except (StopIteration, ValueError, RecursionError):
                    if not line.strip(b" \t\r"):
                        at += len(line) + 1
                        continue  # whitespace
                    break  # the scanner takes over here
                yield value, text if end == len(text) else text[:end], base + at
                at += len(line) + 1
            else:
                if lines:
                    self.base_byte = base + at
                    data = tail
                    continue
            # hand the lines from the failed one on (and no more) to the scanner
            self.base_byte = base + at
            self._held = tail
            self.buf = self._decoder.decode(data[at : len(data) - len(tail)])
            self._ascii = self.buf.isascii()
            yield from self._scanner()
            if self.eof:
                return
            data = self._decoder.getstate()[0] + self._held  # undecoded bytes, from self.base_byte
            self._decoder.reset()
            self._held = b""

    def _scanner(self) -> Iterator[Any]:
        """Scan self.buf on; in line mode, return at a buffer end that falls on whitespace."""
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
                if self._lines:  # hand back to the line fast path
                    self.base_byte += byte_len(buf)
                    self.buf = ""
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
            outcome, end = _try_candidate(buf, candidate, self.eof)
            if outcome is _MORE and len(buf) - candidate <= MAX_RECORD_CHARS:
                dropped = self._refill(pos, want=len(buf) - pos)
                pos -= dropped
                search = candidate - dropped
                continue
            if outcome is _BAD or outcome is _MORE or not _record_start(buf, candidate, match, outcome):
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


WINDOW = 1024  # a resynchronisation candidate is parsed in a window of this many characters first


def _try_candidate(buf: str, pos: int, eof: bool) -> tuple[Any, int]:
    """``_try`` for a '{' where a record may start after a failure: the same outcome, at a cost of
    the candidate's own length. (A failed parse of ``buf`` itself costs O(pos): json's error counts
    the lines before it, so a bad stretch of many candidates, "\\n{" or '{"data":"' over and over,
    would take quadratic time.) A record opens an object with a key or is ``{}``; a candidate that
    fails within the window fails the same way in the whole buffer (the last few characters, where a
    token may be cut, and unterminated strings excepted)."""
    after = _WS.match(buf, pos + 1).end()
    if after < len(buf) and buf[after] != '"' and buf[after] != "}":
        return _BAD, 0
    if pos + WINDOW < len(buf):
        try:
            value, end = _scan(buf[pos : pos + WINDOW], 0)
        except json.JSONDecodeError as exc:
            if exc.pos < WINDOW - 6 and not exc.msg.startswith("Unterminated string"):
                return _BAD, 0
        except RecursionError:
            return _BAD, 0
        except (StopIteration, ValueError):
            pass
        else:
            if type(value) is dict:
                return value, pos + end
    outcome, end, _why = _try(buf, pos, eof)
    return outcome, end


_ENVELOPE = frozenset({"data", "metadata", "control", "before-image"})


def _record_start(buf: str, candidate: int, match: re.Match[str], value: Any) -> bool:
    """Whether a value found at a boundary after a failure starts a record. A '{' at a line start or
    opening a DMS envelope does; a '{' after '}' on the same line may be inside a string of the bad
    record ("a}{}", "x}{b"), so it does only when the value is a DMS envelope."""
    if match.group(2) is not None or buf[candidate - 1] == "\n":
        return True
    return type(value) is dict and not _ENVELOPE.isdisjoint(value)


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
        # an error within the last few characters may be an escape (\uXXXX) or a token cut by the buffer end
        if not eof and (exc.pos >= len(buf) - 6 or exc.msg.startswith("Unterminated string")):
            return _MORE, 0, ""
        return _BAD, 0, f"not valid JSON: {exc.msg}"
    except RecursionError:
        return _BAD, 0, "not valid JSON: nested too deeply"
    except ValueError as exc:  # an integer of more than 4300 digits, NaN, Infinity
        return _BAD, 0, f"not valid JSON: {exc}"
    if end == len(buf) and not eof and type(value) is not dict and type(value) is not list:
        return _MORE, 0, ""  # a bare number or literal could continue in the next chunk
    return value, end, ""
