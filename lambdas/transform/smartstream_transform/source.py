"""The bytes of a raw object, decompressed when it is GZIP, with what could not be read.

GZIP is detected by its magic bytes and inflated with ``zlib`` one slice at a
time (several members follow each other as GZIP allows). A truncated or
corrupt stream does not raise: everything that inflated is returned, and
``problem`` says what went wrong, with the compressed byte range and bytes
that could not be read (the tail), for the quarantine.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import IO, Any

GZIP_MAGIC = b"\x1f\x8b"
READ_SIZE = 1 << 20
MAX_OUT = 1 << 20  # inflate at most this much per call: a small bomb cannot blow memory up


@dataclass(slots=True)
class Unreadable:
    """The part of the object that could not be decompressed."""

    reason: str
    start: int  # compressed byte offset
    end: int
    spill: IO[bytes] | None  # its bytes (None when empty)


class ByteSource:
    """``read()`` gives the next slice of decompressed bytes, b"" at the end; then ``problem``."""

    def __init__(self, raw: IO[bytes], spill_factory: Any):
        self._raw = raw
        self._spill_factory = spill_factory
        self.problem: Unreadable | None = None
        self._pending = raw.read(READ_SIZE)
        self._read_total = len(self._pending)  # bytes read from the raw stream so far
        self.gzip = self._pending[:2] == GZIP_MAGIC
        self._inflate = zlib.decompressobj(wbits=31) if self.gzip else None
        self._done = False

    def read(self) -> bytes:
        if self._done:
            return b""
        if not self.gzip:
            data = self._pending or self._raw.read(READ_SIZE)
            self._pending = b""
            if not data:
                self._done = True
            return data
        while True:
            inflate = self._inflate
            if not self._pending and not inflate.unconsumed_tail:
                self._pending = self._next()
                if not self._pending:
                    self._finish_truncated()
                    return b""
            data = inflate.unconsumed_tail or self._pending
            from_pending = not inflate.unconsumed_tail
            try:
                out = inflate.decompress(data, MAX_OUT)
            except zlib.error as exc:
                self._fail(f"corrupt GZIP data: {exc}", data)
                return b""
            if from_pending:
                self._pending = b""
            if inflate.eof:
                rest = inflate.unused_data + inflate.unconsumed_tail + self._pending
                self._pending = b""
                if not rest:
                    rest = self._next()
                if not rest:
                    self._done = True
                    return out
                if rest[:2] != GZIP_MAGIC:
                    self._fail("data after the end of the GZIP stream", rest)
                    return out
                self._inflate = zlib.decompressobj(wbits=31)
                self._pending = rest
            if out:
                return out

    def _next(self) -> bytes:
        data = self._raw.read(READ_SIZE)
        self._read_total += len(data)
        return data

    def _finish_truncated(self) -> None:
        self._done = True
        self.problem = Unreadable(
            "GZIP stream truncated: the object ends before the end of its compressed data",
            self._read_total,
            self._read_total,
            None,
        )

    def _fail(self, reason: str, first: bytes) -> None:
        """Keep the unreadable tail (from ``first`` to the end of the object) for the quarantine."""
        self._done = True
        start = self._read_total - len(first)
        spill = self._spill_factory()
        size = spill.write(first)
        while chunk := self._next():
            size += spill.write(chunk)
        self.problem = Unreadable(reason, start, start + size, spill)
