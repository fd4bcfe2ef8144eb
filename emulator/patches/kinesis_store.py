"""A Kinesis shard's records held compactly: the store of the ``kinesis_records_held_compressed`` patch.

A shard's sequence numbers are consecutive (moto: the last one + 1 on every
put), so a record is found by arithmetic, not by a dict: per record the store
keeps its arrival time (microseconds, an ``array('q')``) and where its entry
starts in its segment (an ``array('I')``). The entries themselves (partition
key, explicit hash key, data) are appended to a segment of about
``SEGMENT_BYTES``; a full segment is compressed (zlib, level 1: DMS's JSON
records shrink about tenfold) and the last few segments read are kept
decompressed. A record costs about 12 bytes of index plus its compressed
entry, where moto's OrderedDict of objects cost about 1 KB.

The store answers the part of the mapping interface moto's Kinesis model and
the emulator's patches use (``len``, iteration, ``reversed``, ``in``,
``[seq]``, ``get``, ``keys`` / ``values`` / ``items``, ``popitem(last=False)``,
append by ``store[next_seq] = record``), plus ``put`` (the next number, atomically), ``append``, ``slice`` (one
GetRecords page), ``trim`` (retention) and ``sequence_at`` (AT_TIMESTAMP).
A record read back is a new object of the record class with the same
attributes and answers; changing it does not change the stored record.
"""

from __future__ import annotations

import bisect
import struct
import threading
import zlib
from array import array
from base64 import b64decode
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

SEGMENT_BYTES = 256 * 1024
CACHED_SEGMENTS = 4
_HEAD = struct.Struct("<HiI")  # partition key length, explicit hash key length (-1: None), data length
_EPOCH = datetime(1970, 1, 1)  # moto's times are naive UTC


class ShardRecords:
    """The records of one shard, in sequence-number order (see the module docstring)."""

    def __init__(self, record_type: type) -> None:
        self._type = record_type
        self._lock = threading.RLock()
        self._base = self._first = self._next = 1  # arrays' index 0, first held, next to append
        self._arrival = array("q")
        self._offset = array("I")
        self._seg_start: list[int] = []  # sequence number of each segment's first entry
        self._segments: list[bytes | bytearray] = []  # compressed when sealed; the last one is open (bytearray)
        self._cache: OrderedDict[int, bytes] = OrderedDict()  # decompressed sealed segments by start

    # ------------------------------------------------------------------ writing
    def append(self, sequence: int, partition_key: str, data: bytes, explicit_hash_key: str | None, us: int) -> None:
        """Add the record ``sequence`` (the next one, or any when the store is empty) arrived at ``us``."""
        key = partition_key.encode()
        hash_key = explicit_hash_key.encode() if explicit_hash_key is not None else b""
        entry = _HEAD.pack(len(key), len(hash_key) if explicit_hash_key is not None else -1, len(data))
        with self._lock:
            if self._first == self._next:  # empty: start afresh at this sequence number
                self._reset(sequence)
            elif sequence != self._next:
                raise ValueError(f"sequence number {sequence} is not the next one ({self._next})")
            if not self._segments or len(self._segments[-1]) >= SEGMENT_BYTES:
                if self._segments:
                    self._segments[-1] = zlib.compress(bytes(self._segments[-1]), 1)
                self._segments.append(bytearray())
                self._seg_start.append(sequence)
            segment = self._segments[-1]
            self._offset.append(len(segment))
            segment += entry
            segment += key
            segment += hash_key
            segment += data
            self._arrival.append(us)
            self._next += 1

    def put(self, partition_key: str, data: bytes, explicit_hash_key: str | None, us: int) -> int:
        """Append a record as moto numbers it (the last sequence number + 1; 1 when empty), atomically."""
        with self._lock:
            sequence = self._next if self._next > self._first else 1
            if self._arrival and sequence > 1:  # arrival times do not go back (AT_TIMESTAMP bisects them)
                us = max(us, self._arrival[-1])
            self.append(sequence, partition_key, data, explicit_hash_key, us)
            return sequence

    def __setitem__(self, sequence: int, record: Any) -> None:
        data = record.raw if hasattr(record, "raw") else b64decode(record.data)
        self.append(sequence, record.partition_key, data, record.explicit_hash_key, to_us(record.created_at_datetime))

    def _reset(self, sequence: int) -> None:
        self._base = self._first = self._next = sequence
        self._arrival, self._offset = array("q"), array("I")
        self._seg_start, self._segments = [], []
        self._cache.clear()

    # ------------------------------------------------------------------ trimming
    def trim(self, horizon_us: int) -> int:
        """Drop the records arrived before ``horizon_us``, oldest first, always keeping the newest one."""
        with self._lock:
            first = self._first
            while self._next - first > 1 and self._arrival[first - self._base] < horizon_us:
                first += 1
            dropped, self._first = first - self._first, first
            if dropped:
                self._compact()
            return dropped

    def popitem(self, last: bool = True) -> tuple[int, Any]:
        if last:
            raise NotImplementedError("a shard drops its oldest records only")
        with self._lock:
            if self._first == self._next:
                raise KeyError("popitem(): no records")
            sequence = self._first
            record = self._read(sequence)
            self._first += 1
            self._compact()
            return sequence, record

    def _compact(self) -> None:
        """Free the index entries and whole segments that are before the first held record."""
        while len(self._seg_start) > 1 and self._seg_start[1] <= self._first:
            self._cache.pop(self._seg_start.pop(0), None)
            self._segments.pop(0)
        gone = self._first - self._base
        if gone >= 4096 and gone * 2 >= len(self._arrival):
            del self._arrival[:gone]
            del self._offset[:gone]
            self._base = self._first

    # ------------------------------------------------------------------ reading
    def _raw(self, index: int) -> bytes | bytearray:
        segment = self._segments[index]
        if isinstance(segment, bytearray):
            return segment
        start = self._seg_start[index]
        raw = self._cache.get(start)
        if raw is None:
            raw = self._cache[start] = zlib.decompress(segment)
            while len(self._cache) > CACHED_SEGMENTS:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(start)
        return raw

    def _read(self, sequence: int, raw: bytes | bytearray | None = None) -> Any:
        if raw is None:
            raw = self._raw(bisect.bisect_right(self._seg_start, sequence) - 1)
        index = sequence - self._base
        at = self._offset[index]
        key_len, hash_len, data_len = _HEAD.unpack_from(raw, at)
        at += _HEAD.size
        record = self._type.__new__(self._type)
        record.partition_key = raw[at : at + key_len].decode()
        at += key_len
        record.explicit_hash_key = None if hash_len < 0 else raw[at : at + hash_len].decode()
        at += max(hash_len, 0)
        record.raw = bytes(raw[at : at + data_len])
        record.sequence_number = sequence
        us = self._arrival[index]
        record.created_at_datetime = _EPOCH + timedelta(microseconds=us)
        record.created_at = us / 1e6
        return record

    def slice(self, after: int, limit: int | None) -> list[Any]:
        """The records after sequence number ``after``, at most ``limit`` (one GetRecords page)."""
        with self._lock:
            start = max(after + 1, self._first)
            end = self._next if not limit else min(self._next, start + limit)
            out, sequence = [], start
            while sequence < end:
                index = bisect.bisect_right(self._seg_start, sequence) - 1
                raw = self._raw(index)
                stop = min(end, self._seg_start[index + 1]) if index + 1 < len(self._seg_start) else end
                out.extend(self._read(s, raw) for s in range(sequence, stop))
                sequence = stop
            return out

    def arrival(self, sequence: int) -> float:
        """The arrival time (epoch seconds) of a held record."""
        with self._lock:
            if not self._first <= sequence < self._next:
                raise KeyError(sequence)
            return self._arrival[sequence - self._base] / 1e6

    def sequence_at(self, at_timestamp: float) -> int:
        """moto's Shard.get_sequence_number_at: 0 when ``at_timestamp`` is at or before the first record,
        else the last record that arrived before it (arrival times do not decrease)."""
        with self._lock:
            if self._first == self._next or at_timestamp <= self._arrival[self._first - self._base] / 1e6:
                return 0
            at_us = round(at_timestamp * 1e6)
            index = bisect.bisect_left(self._arrival, at_us, self._first - self._base)
            return self._base + index - 1

    def stored_bytes(self) -> int:
        """Bytes the store holds (segments and index), for tests and status."""
        with self._lock:
            held = sum(len(s) for s in self._segments) + sum(len(r) for r in self._cache.values())
            return held + self._arrival.itemsize * len(self._arrival) + self._offset.itemsize * len(self._offset)

    # ------------------------------------------------------------------ the mapping interface moto uses
    def __len__(self) -> int:
        return self._next - self._first

    def __bool__(self) -> bool:
        return self._next > self._first

    def __contains__(self, sequence: object) -> bool:
        return isinstance(sequence, int) and self._first <= sequence < self._next

    def __iter__(self) -> Iterator[int]:
        return iter(range(self._first, self._next))

    def __reversed__(self) -> Iterator[int]:
        return reversed(range(self._first, self._next))

    def __getitem__(self, sequence: int) -> Any:
        with self._lock:
            if sequence not in self:
                raise KeyError(sequence)
            return self._read(sequence)

    def get(self, sequence: int, default: Any = None) -> Any:
        try:
            return self[sequence]
        except KeyError:
            return default

    def keys(self) -> list[int]:
        return list(self)

    def values(self) -> list[Any]:
        with self._lock:
            return self.slice(self._first - 1, None)

    def items(self) -> list[tuple[int, Any]]:
        return [(r.sequence_number, r) for r in self.values()]


def to_us(when: datetime) -> int:
    """A naive UTC datetime (moto's utcnow()) as integer microseconds since the epoch."""
    delta = when - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
