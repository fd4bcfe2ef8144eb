"""Output writing with bounded memory: trusted Parquet per table and day, the quarantine file.

Every output lives in a spooled temporary file (memory up to a few MiB, then
/tmp), so neither a large clean object nor a large bad one is held in memory.
Trusted rows are written in row groups of up to ``ROW_GROUP_ROWS`` rows, as
batches arrive. The quarantine is JSON lines, one entry per bad record or
fragment; a fragment longer than ``framing.INLINE_LIMIT`` is stored in the
object's fragment blob and referenced by offset and length.
"""

from __future__ import annotations

import base64
import json
import tempfile
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import ipc

from .accounting import OutputFile

ROW_GROUP_ROWS = 65_536
SPOOL_BYTES = 4 << 20
PARQUET = "application/vnd.apache.parquet"
COPY_CHUNK = 1 << 20


def spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)


class TableWriter:
    """One Parquet file: batches are held until a row group is full, then written."""

    def __init__(self, key: str, schema: pa.Schema | None):
        self.key = key
        self.rows = 0
        self._schema = schema  # None: columns still growing (text tables): batches spill as Arrow IPC
        self._file = spool()
        self._writer: pq.ParquetWriter | None = None
        self._held: list[pa.Table] = []
        self._held_rows = 0
        self._spilled: list[int] = []  # offsets of IPC streams in _file (text tables)

    def add(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self.rows += table.num_rows
        if self._schema is None:
            self._spilled.append(self._file.tell())
            with ipc.new_stream(self._file, table.schema) as stream:
                stream.write_table(table)
            return
        self._held.append(table)
        self._held_rows += table.num_rows
        if self._held_rows >= ROW_GROUP_ROWS:
            self._write_held()

    def _write_held(self) -> None:
        if not self._held:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._file, self._schema, compression="snappy")
        self._writer.write_table(pa.concat_tables(self._held), row_group_size=ROW_GROUP_ROWS)
        self._held, self._held_rows = [], 0

    def finish(self, schema: pa.Schema) -> OutputFile:
        """Close the file; a text table's spilled batches are rewritten under its final columns."""
        if self._schema is None:
            spilled, source = self._spilled, self._file
            self._file, self._schema = spool(), schema
            for offset in spilled:
                source.seek(offset)
                table = ipc.open_stream(source).read_all()
                self._held.append(_conform(table, schema))
                self._held_rows += table.num_rows
                if self._held_rows >= ROW_GROUP_ROWS:
                    self._write_held()
            source.close()
        self._write_held()
        if self._writer is not None:
            self._writer.close()
            self._writer = None  # a closed ParquetWriter still holds about 30 KiB: 10,000 tables, +300 MiB
        return OutputFile(self.key, self._file, self.rows, PARQUET)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The table with every column of the schema (absent ones null), in its order."""
    arrays = [
        table.column(f.name) if f.name in table.column_names else pa.nulls(table.num_rows, f.type) for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


class QuarantineWriter:
    """quarantine/<raw path>/<stem>.jsonl, and <stem>.fragments for fragments too large to inline."""

    def __init__(self, key: str, blob_key: str, source_key: str):
        self.key, self.blob_key, self.source_key = key, blob_key, source_key
        self.entries = 0
        self._file = spool()
        self._blob: IO[bytes] | None = None
        self._blob_size = 0

    def add(self, reason: str, table: str, seq: int | None, start: int, data: bytes | None, spill=None) -> None:
        """One entry: ``data`` (the record's bytes) inline, or ``spill`` (a file) copied into the blob."""
        entry: dict[str, Any] = {"reason": reason, "table": table, "source_key": self.source_key, "position": seq}
        if spill is not None:
            spill.seek(0)
            if self._blob is None:
                self._blob = spool()
            offset = self._blob_size
            while chunk := spill.read(COPY_CHUNK):
                self._blob_size += self._blob.write(chunk)
            spill.close()
            size = self._blob_size - offset
            entry["range"] = [start, start + size]
            entry["record_object"] = self.blob_key
            entry["record_offset"], entry["record_bytes"] = offset, size
        else:
            entry["range"] = [start, start + len(data or b"")]
            try:
                entry["record"] = (data or b"").decode()
            except UnicodeDecodeError:
                entry["record_base64"] = base64.b64encode(data or b"").decode()
        try:
            line = json.dumps(entry, ensure_ascii=False).encode()
        except UnicodeEncodeError:  # a lone surrogate in a name: escaped
            line = json.dumps(entry).encode()
        self._file.write(line + b"\n")
        self.entries += 1

    def finish(self) -> tuple[OutputFile | None, OutputFile | None]:
        if not self.entries:
            self._file.close()
            return None, None
        blob = None
        if self._blob is not None:
            blob = OutputFile(self.blob_key, self._blob, 0, "application/octet-stream")
        return OutputFile(self.key, self._file, self.entries, "application/x-ndjson"), blob
