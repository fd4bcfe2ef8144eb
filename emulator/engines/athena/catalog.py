"""Tables of a query, resolved through the Glue Data Catalog and read from S3 as the caller.

Each table a query names (``db.table``, or the context database) is looked
up with GetTable; a VIRTUAL_VIEW is expanded from its Presto view text; an
external table becomes a DuckDB view over the objects under its location
(or its partitions' locations, from GetPartitions): Parquet fetched whole and
read by DuckDB's Parquet reader, other formats as a ``pyarrow.dataset``. Partition columns come from the partition values (strings unless
Glue says otherwise). Partition pruning: the WHERE conjuncts of the query
block that reads the table and only name its partition columns are
evaluated on the partition values first, so pruned partitions are neither
listed nor read; the scan's bytes are the sizes of the files kept.

GetTable, GetPartitions and the listings are answered in-process where moto's
request authorisation lets the caller's request through (``catalog_reads``),
objects are read in-process where S3 would serve the caller's GetObject
(``authorise``); anything else goes over HTTP as the caller.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from sqlglot import exp

from emulator.engines.athena import authorise, catalog_reads
from emulator.engines.athena.authorise import Caller
from emulator.engines.athena.errors import QueryFailed
from emulator.engines.athena.glue_types import arrow_type, duck_type, glue_cast
from emulator.engines.athena.storage import OBJECTS
from emulator.engines.athena.translate import cte_names, parse
from emulator.engines.glue_crawler.scan import split_s3_url

CUTOFF_REASON = "Bytes scanned limit was exceeded"
# Tables up to this size are fetched whole into memory (one GET per object, fastest through the emulator);
# larger ones are read with ranged GETs as DuckDB asks for column chunks.
PREFETCH_BYTES = 1 << 30
_PRESTO_VIEW = re.compile(r"/\*\s*Presto View:\s*(\S+)\s*\*/")


def view_text(table: dict[str, Any]) -> tuple[str, str | None]:
    """A view's SQL and the schema it was created in."""
    original = table.get("ViewOriginalText") or ""
    match = _PRESTO_VIEW.search(original)
    if match:
        payload = json.loads(base64.b64decode(match.group(1)))
        return payload["originalSql"], payload.get("schema")
    return original, None


def _format(table: dict[str, Any]) -> ds.FileFormat:
    sd = table.get("StorageDescriptor") or {}
    serde = (sd.get("SerdeInfo") or {}).get("SerializationLibrary") or ""
    hints = f"{sd.get('InputFormat', '')} {serde} {(table.get('Parameters') or {}).get('classification', '')}".lower()
    if "parquet" in hints:
        return ds.ParquetFileFormat()
    if "json" in hints:
        return ds.JsonFileFormat()
    if "csv" in hints or "lazysimple" in hints or "textinputformat" in hints:
        params = (sd.get("SerdeInfo") or {}).get("Parameters") or {}
        delimiter = params.get("field.delim") or params.get("separatorChar") or ","
        skip = int((table.get("Parameters") or {}).get("skip.header.line.count", "0"))
        names = [c["Name"] for c in sd.get("Columns", [])]
        return ds.CsvFileFormat(
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=skip),
        )
    raise QueryFailed("HIVE_UNSUPPORTED_FORMAT", f"Unable to create input format for {sd.get('InputFormat')}")


class Catalog:
    """Resolves a query's tables into DuckDB relations; counts scanned bytes and API calls."""

    def __init__(
        self,
        glue: Any,
        fs: pafs.S3FileSystem,
        con: duckdb.DuckDBPyConnection,
        log: logging.Logger,
        s3: Any = None,
        cutoff: int | None = None,
        caller: Caller | None = None,
    ):
        self.glue, self.fs, self.con, self.log, self.s3, self.cutoff = glue, fs, con, log, s3, cutoff
        self.caller = caller
        self.workdir: str | None = None
        self.scanned = 0
        self.calls = 0
        self._tables: dict[tuple[str, str], dict[str, Any]] = {}
        self._registered = 0
        self.phases: dict[str, float] = {}

    @contextlib.contextmanager
    def _timed(self, phase: str) -> Iterator[None]:
        mark = time.perf_counter()
        try:
            yield
        finally:
            self.phases[phase] = round(self.phases.get(phase, 0.0) + time.perf_counter() - mark, 3)

    def get_table(self, database: str, name: str) -> dict[str, Any]:
        key = (database, name)
        if key not in self._tables:
            self.calls += 1
            found = catalog_reads.glue_table(self.caller, database, name)
            try:
                self._tables[key] = found or self.glue.get_table(DatabaseName=database, Name=name)["Table"]
            except self.glue.exceptions.EntityNotFoundException as exc:
                what = "Schema" if "database" in str(exc).lower() and "table" not in str(exc).lower() else "Table"
                target = f"awsdatacatalog.{database}" if what == "Schema" else f"awsdatacatalog.{database}.{name}"
                raise QueryFailed(f"{what.upper()}_NOT_FOUND", f"{what} '{target}' does not exist") from exc
        return self._tables[key]

    def resolve(self, tree: exp.Expression, database: str, depth: int = 0) -> exp.Expression:
        """The tree with every catalog table replaced by a registered relation and every view expanded."""
        if depth > 16:
            raise QueryFailed("VIEW_IS_RECURSIVE", "View is recursive")
        ctes = cte_names(tree)
        for table in list(tree.find_all(exp.Table)):
            if not table.name or (not table.db and table.name.lower() in ctes):
                continue
            catalog = (table.catalog or "awsdatacatalog").lower()
            if catalog != "awsdatacatalog":
                raise QueryFailed("CATALOG_NOT_FOUND", f"Catalog '{catalog}' does not exist")
            db, name = (table.db or database).lower(), table.name.lower()
            glue_table = self.get_table(db, name)
            alias = exp.TableAlias(this=exp.to_identifier(table.alias or name))
            if glue_table.get("TableType") == "VIRTUAL_VIEW":
                sql, schema = view_text(glue_table)
                body = self.resolve(parse(sql), (schema or db).lower(), depth + 1)
                table.replace(exp.Subquery(this=body, alias=alias))
            else:
                keep = self._pruning_conjuncts(table, glue_table)
                relation = self.register(glue_table, keep)
                table.replace(exp.Table(this=exp.to_identifier(relation), alias=alias))
        return tree

    @staticmethod
    def _pruning_conjuncts(table: exp.Table, glue_table: dict[str, Any]) -> list[exp.Expression]:
        keys = {k["Name"].lower() for k in glue_table.get("PartitionKeys") or []}
        select = table.find_ancestor(exp.Select)
        if not keys or select is None or select.args.get("where") is None:
            return []
        sources = [select.args.get("from_") or select.args.get("from"), *(select.args.get("joins") or [])]
        single = len([s for s in sources if s is not None]) == 1
        names = {(table.alias or table.name).lower()}
        kept = []
        for conjunct in (
            select.args["where"].this.flatten()
            if isinstance(select.args["where"].this, exp.And)
            else [select.args["where"].this]
        ):
            columns = list(conjunct.find_all(exp.Column))
            if not columns or conjunct.find(exp.Select) is not None:
                continue
            if all(
                c.name.lower() in keys and ((c.table or "").lower() in names or (not c.table and single))
                for c in columns
            ):
                kept.append(conjunct)
        return kept

    def _partitions(self, glue_table: dict[str, Any], conjuncts: list[exp.Expression]) -> list[tuple[list, str]]:
        keys = [k["Name"].lower() for k in glue_table.get("PartitionKeys") or []]
        location = glue_table["StorageDescriptor"].get("Location") or ""
        if not keys:
            return [([], location)]
        found = catalog_reads.glue_partitions(self.caller, glue_table["DatabaseName"], glue_table["Name"])
        self.calls += found is not None
        parts = [(p["Values"], p["StorageDescriptor"]["Location"]) for p in found or []]
        token = None
        while found is None:
            self.calls += 1
            page = self.glue.get_partitions(
                DatabaseName=glue_table["DatabaseName"],
                TableName=glue_table["Name"],
                **({"NextToken": token} if token else {}),
            )
            parts.extend((p["Values"], p["StorageDescriptor"]["Location"]) for p in page.get("Partitions", []))
            token = page.get("NextToken")
            if not token:
                break
        if not conjuncts or not parts:
            return parts
        condition = exp.and_(*[c.copy() for c in conjuncts])
        for column in condition.find_all(exp.Column):
            column.set("table", None)
        try:
            values = pa.table(
                {"__i": list(range(len(parts))), **{k: [p[0][i] for p in parts] for i, k in enumerate(keys)}}
            )
            probe = self.con.cursor()  # a connection of its own on the query's database (no new database)
            try:
                probe.register("__parts", values)
                kept = probe.execute(f"SELECT __i FROM __parts WHERE {condition.sql(dialect='duckdb')}").fetchall()
            finally:
                probe.close()
        except Exception as exc:  # a predicate DuckDB cannot evaluate on strings: read every partition
            self.log.info("no partition pruning for %s: %s", glue_table["Name"], exc)
            return parts
        return [parts[i] for (i,) in kept]

    def _list(self, location: str) -> list[tuple[str, int]]:
        bucket, prefix = split_s3_url(location)
        self.calls += 1
        listed = catalog_reads.s3_files(self.caller, bucket, prefix)
        if listed is not None:
            return [(path, size) for path, size in listed if _is_data_file(path, size)]
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(f"{bucket}/{prefix}".rstrip("/"), recursive=True))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise QueryFailed(
                "HIVE_CANNOT_OPEN_SPLIT" if "DENIED" not in str(exc).upper() else "PERMISSION_DENIED",
                f"Error listing {location}: {exc}",
            ) from exc
        return [
            (info.path, info.size)
            for info in infos
            if info.type == pafs.FileType.File and _is_data_file(info.path, info.size)
        ]

    def _fetch(self, path: str) -> pa.Buffer:
        """An object's bytes as the caller may read them: decided in-process as S3 decides the caller's
        GetObject (``authorise``), else a GetObject as the caller over HTTP (S3 fails what it refuses)."""
        bucket, key = path.split("/", 1)
        try:
            found = authorise.readable_object(self.caller, bucket, key)
            value = found.value if found is not None else self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            return pa.py_buffer(value)
        except Exception as exc:
            raise QueryFailed("HIVE_CANNOT_OPEN_SPLIT", f"Error opening Hive split s3://{path}: {exc}") from exc

    def _fragments(self, file_format: ds.FileFormat, files: list[tuple[str, int, Any]]) -> list[ds.Fragment]:
        """Fragments of the files: fetched whole (one GET each, in parallel) up to PREFETCH_BYTES, else ranged."""
        total = sum(size for _, size, _ in files)
        if self.s3 is not None and total <= PREFETCH_BYTES:
            with ThreadPoolExecutor(max_workers=4) as pool:
                buffers = list(pool.map(self._fetch, [path for path, _, _ in files]))
            self.calls += len(files)
            return [
                file_format.make_fragment(pa.BufferReader(buf), partition_expression=expression)
                for buf, (_, _, expression) in zip(buffers, files, strict=True)
            ]
        extra = (
            (lambda size: {"file_size": size}) if isinstance(file_format, ds.ParquetFileFormat) else (lambda size: {})
        )
        return [
            file_format.make_fragment(path, filesystem=self.fs, partition_expression=expression, **extra(size))
            for path, size, expression in files
        ]

    def register(self, glue_table: dict[str, Any], conjuncts: list[exp.Expression]) -> str:
        """A DuckDB relation over the table's (kept) files; returns its name."""
        sd = glue_table.get("StorageDescriptor") or {}
        file_format = _format(glue_table)
        keys = glue_table.get("PartitionKeys") or []
        fields = [(c["Name"].lower(), arrow_type(c["Type"])) for c in sd.get("Columns", [])]
        fields += [(k["Name"].lower(), arrow_type(k.get("Type", "string"))) for k in keys]
        schema = pa.schema(fields)
        root = sd.get("Location") or ""
        with self._timed("glue_partitions_and_s3_list_s"), ThreadPoolExecutor(max_workers=1) as pool:
            # Every partition is kept when nothing prunes: list the table's root meanwhile (one listing for all)
            whole = pool.submit(self._list, root) if keys and root and not conjuncts else None
            partitions = self._partitions(glue_table, conjuncts)
            listed: dict[str, list[tuple[str, int]]] = {}
            if partitions and all(loc.startswith(root) for _, loc in partitions) and len(partitions) > 1:
                listed[root] = whole.result() if whole is not None else self._list(root)
        files: list[tuple[str, int, ds.Expression | None]] = []
        for values, location in partitions:
            loc = location if location.endswith("/") else location + "/"
            bucket_path = "/".join(split_s3_url(loc)).rstrip("/") + "/"
            found = [f for f in listed[root] if f[0].startswith(bucket_path)] if root in listed else self._list(loc)
            expression = None
            for key, value in zip(keys, values, strict=False):
                term = ds.field(key["Name"].lower()) == pa.scalar(value).cast(arrow_type(key.get("Type", "string")))
                expression = term if expression is None else expression & term
            files.extend((path, size, expression, tuple(values)) for path, size in found)
        self.scanned += sum(f[1] for f in files)
        if self.cutoff and self.scanned > self.cutoff:
            raise QueryFailed("", CUTOFF_REASON, state="CANCELLED")
        self._registered += 1
        name = f"__t{self._registered}_{glue_table['Name']}"
        if (
            isinstance(file_format, ds.ParquetFileFormat)
            and self.s3 is not None
            and sum(f[1] for f in files) <= PREFETCH_BYTES
        ):
            columns = [(c["Name"].lower(), c["Type"]) for c in sd.get("Columns", [])]
            self._parquet_view(name, columns, [(k["Name"].lower(), k.get("Type", "string")) for k in keys], files)
            return name
        fragments = self._fragments(file_format, files)
        self.con.register(name, ds.FileSystemDataset(fragments, schema, file_format, self.fs))
        return name

    def _parquet_view(
        self,
        name: str,
        columns: list[tuple[str, str]],
        keys: list[tuple[str, str]],
        files: list[tuple[str, int, Any, tuple[str, ...]]],
    ) -> None:
        """A DuckDB view over the table's Parquet: objects fetched whole into a scratch folder laid out as
        Hive partitions (``key=value``, from Glue's partition values), read by DuckDB's own Parquet reader
        (parallel, projection and filter pushdown), columns cast to the Glue types."""
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="athena-query-")
        base = Path(self.workdir) / name

        def fetch(item: tuple[int, tuple[str, int, Any, tuple[str, ...]]]) -> str:
            i, (path, _size, _expression, values) = item
            folder = base.joinpath(*[f"{k}={quote(v, safe='')}" for (k, _t), v in zip(keys, values, strict=False)])
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{i}.parquet"
            bucket, key = path.split("/", 1)
            OBJECTS.fetch(self.s3, self.caller, bucket, key, target)
            return str(target)

        with self._timed("s3_fetch_s"), ThreadPoolExecutor(max_workers=4) as pool:
            paths = list(pool.map(fetch, enumerate(files)))
        self.calls += len(paths)
        wanted = columns + keys
        if not paths:
            nulls = ", ".join(f'CAST(NULL AS {duck_type(t)}) AS "{c}"' for c, t in wanted)
            self.con.execute(f'CREATE TEMP VIEW "{name}" AS SELECT {nulls} WHERE false')
            return
        listing = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
        hive = (
            ", hive_partitioning = true, hive_types = {" + ", ".join(f"'{k}': '{duck_type(t)}'" for k, t in keys) + "}"
            if keys
            else ", hive_partitioning = false"
        )
        source = f"read_parquet({listing}, union_by_name = true{hive})"
        with self._timed("parquet_schema_s"):
            found = self.con.sql(f"SELECT * FROM {source}")
        present = {c.lower(): str(t) for c, t in zip(found.columns, found.types, strict=True)}
        select = []
        for column, glue_type in wanted:
            target = duck_type(glue_type)
            if column not in present:
                select.append(f'CAST(NULL AS {target}) AS "{column}"')
            elif present[column] != target:
                select.append(f'{glue_cast(column, present[column], target)} AS "{column}"')
            else:
                select.append(f'"{column}"')
        self.con.execute(f'CREATE TEMP VIEW "{name}" AS SELECT {", ".join(select)} FROM {source}')

    def close(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def _is_data_file(path: str, size: int) -> bool:
    """A file a table's scan reads: not empty, and not hidden (``_SUCCESS``, ``.crc``...), as Athena skips them."""
    return bool(size) and not path.rsplit("/", 1)[-1].startswith(("_", "."))
