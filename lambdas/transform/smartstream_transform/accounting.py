"""What one raw object became: the files to write and the counts that prove nothing was lost.

Counting unit: a *record found by framing* — a parsed JSON value or a
fragment that did not parse (one quarantine entry each). Every one ends in
exactly one of ``written`` (its row is in a trusted file), ``quarantined``
(an entry in the quarantine file) or ``skipped`` (DMS control records and
DMS's own tables), so ``read == written + quarantined + skipped`` per table
whatever the input held. A primary-key change writes two rows (the delete of
the old key, the new row) for one record: ``rows`` of the outputs can exceed
``written``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import IO, Any

UNPARSED = "_unparsed"  # records and fragments without a usable schema-name/table-name


@dataclass(slots=True)
class TableCounts:
    read: int = 0
    written: int = 0
    quarantined: int = 0
    skipped: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.written + self.quarantined + self.skipped


@dataclass(slots=True)
class OutputFile:
    """One file to write: its key, and its body in a (spooled) temporary file."""

    key: str
    file: IO[bytes]
    rows: int
    content_type: str

    @property
    def size(self) -> int:
        self.file.seek(0, 2)
        return self.file.tell()

    def open(self) -> IO[bytes]:
        """The body, from its start (for a streamed upload)."""
        self.file.seek(0)
        return self.file

    @property
    def body(self) -> bytes:
        return self.open().read()


@dataclass(slots=True)
class TransformResult:
    source_key: str
    outputs: list[OutputFile] = field(default_factory=list)
    quarantine: OutputFile | None = None
    quarantine_blob: OutputFile | None = None  # fragments too large to inline, referenced by offset
    counts: dict[str, TableCounts] = field(default_factory=dict)

    @property
    def totals(self) -> TableCounts:
        total = TableCounts()
        for c in self.counts.values():
            total.read += c.read
            total.written += c.written
            total.quarantined += c.quarantined
            total.skipped += c.skipped
        return total

    @property
    def files(self) -> list[OutputFile]:
        return [*self.outputs, *(f for f in (self.quarantine, self.quarantine_blob) if f is not None)]

    def log_record(self) -> dict[str, Any]:
        """The structured log line: counts per table and in total."""
        return {
            "event": "transform",
            "source_key": self.source_key,
            "tables": {name: asdict(c) for name, c in sorted(self.counts.items())},
            "totals": asdict(self.totals),
            "balanced": all(c.balanced for c in self.counts.values()),
            "outputs": [o.key for o in self.outputs],
            "quarantine": self.quarantine.key if self.quarantine else None,
            "quarantine_blob": self.quarantine_blob.key if self.quarantine_blob else None,
        }

    def close(self) -> None:
        for f in self.files:
            f.file.close()
