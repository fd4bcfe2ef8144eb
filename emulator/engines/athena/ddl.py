"""Athena DDL on the Glue Data Catalog: views, external tables, SHOW / DESCRIBE, MSCK REPAIR, databases.

Views are stored as Athena stores them: TableType VIRTUAL_VIEW, Parameters
``presto_view=true`` and ``comment=Presto View``, ViewOriginalText
``/* Presto View: <base64 of {originalSql, catalog, schema, columns, owner,
runAsInvoker}> */``, ViewExpandedText ``/* Presto View */``, and the view's
columns (Hive types) in an empty StorageDescriptor.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from sqlglot import exp

from emulator.engines.athena.errors import QueryFailed
from emulator.engines.athena.results import ResultSet, athena_type
from emulator.engines.glue_crawler.catalog import PARQUET_INPUT, PARQUET_OUTPUT, PARQUET_SERDE
from emulator.engines.glue_crawler.scan import glue_type

_VIEW = re.compile(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?VIEW\s+(.+?)\s+AS\s+(.*)$", re.IGNORECASE | re.DOTALL)
_SHOW_TABLES = re.compile(r"^SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+(\S+))?(?:\s+(?:LIKE\s+)?'([^']*)')?$", re.I)
_SHOW_PARTITIONS = re.compile(r"^SHOW\s+PARTITIONS\s+(\S+)$", re.IGNORECASE)
_MSCK = re.compile(r"^MSCK\s+REPAIR\s+TABLE\s+(\S+)$", re.IGNORECASE)
_DATABASE = re.compile(r"^(CREATE|DROP)\s+(?:DATABASE|SCHEMA)\s+(IF\s+(?:NOT\s+)?EXISTS\s+)?`?([\w-]+)`?", re.I)
_JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
_TEXT_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"


def trino_type(t: pa.DataType) -> str:
    name, precision, scale = athena_type(t)
    if name == "decimal":
        return f"decimal({precision},{scale})"
    if name == "timestamp":
        return "timestamp(3)"
    if name == "array":
        return f"array({trino_type(t.value_type)})"
    if name == "map":
        return f"map({trino_type(t.key_type)}, {trino_type(t.item_type)})"
    if name == "row":
        return "row(" + ", ".join(f"{f.name} {trino_type(f.type)}" for f in t) + ")"
    return name


def _name(text: str, database: str) -> tuple[str, str]:
    parts = [p.strip('"`').lower() for p in re.findall(r'"[^"]*"|`[^`]*`|[^.]+', text.strip())]
    if parts and parts[0] == "awsdatacatalog" and len(parts) == 3:
        parts = parts[1:]
    return (parts[0], parts[1]) if len(parts) == 2 else (database, parts[0])


class Ddl:
    """Runs one DDL statement; ``schema_of`` gives the Arrow schema of a SELECT (for view columns)."""

    def __init__(self, glue: Any, database: str, schema_of: Callable[[str, str], pa.Schema], lister: Any = None):
        self.glue, self.database, self.schema_of, self.lister = glue, database, schema_of, lister

    def _get(self, database: str, name: str) -> dict[str, Any] | None:
        try:
            return self.glue.get_table(DatabaseName=database, Name=name)["Table"]
        except self.glue.exceptions.EntityNotFoundException:
            return None

    def run(self, text: str, tree: exp.Expression | None) -> ResultSet | None:
        if match := _VIEW.match(text):
            return self.create_view(match.group(2), match.group(3).strip().rstrip(";"), bool(match.group(1)))
        if isinstance(tree, exp.Drop) and (tree.args.get("kind") or "").upper() in ("VIEW", "TABLE"):
            return self.drop(tree, tree.args["kind"].upper() == "VIEW")
        if isinstance(tree, exp.Create) and (tree.args.get("kind") or "").upper() == "TABLE":
            return self.create_table(tree)
        if isinstance(tree, exp.Describe):
            return self.describe(tree.this)
        if match := _SHOW_TABLES.match(text):
            return self.show_tables(match.group(1), match.group(2))
        if match := _SHOW_PARTITIONS.match(text):
            return self.show_partitions(*_name(match.group(1), self.database))
        if match := _MSCK.match(text):
            return self.repair(*_name(match.group(1), self.database))
        if match := _DATABASE.match(text):
            return self.database_ddl(match.group(1).upper(), bool(match.group(2)), match.group(3).lower())
        raise QueryFailed("NOT_SUPPORTED", f"the local Athena does not run this statement: {text[:80]}")

    def create_view(self, name_text: str, body: str, replace: bool) -> None:
        database, name = _name(name_text, self.database)
        existing = self._get(database, name)
        if existing and not replace:
            raise QueryFailed("", f"line 1:1: View 'awsdatacatalog.{database}.{name}' already exists")
        if existing and existing.get("TableType") != "VIRTUAL_VIEW":
            raise QueryFailed("", f"line 1:1: Table 'awsdatacatalog.{database}.{name}' is not a view")
        schema = self.schema_of(body, database)
        payload = {
            "originalSql": body,
            "catalog": "awsdatacatalog",
            "schema": database,
            "columns": [{"name": f.name, "type": trino_type(f.type)} for f in schema],
            "owner": "arn:aws:iam::123456789012:root",
            "runAsInvoker": False,
        }
        encoded = base64.b64encode(json.dumps(payload).encode()).decode()
        table_input = {
            "Name": name,
            "TableType": "VIRTUAL_VIEW",
            "Owner": payload["owner"],
            "Retention": 0,
            "Parameters": {"presto_view": "true", "comment": "Presto View"},
            "PartitionKeys": [],
            "StorageDescriptor": {
                "Columns": [{"Name": f.name, "Type": glue_type(f.type)} for f in schema],
                "Location": "",
                "InputFormat": "",
                "OutputFormat": "",
                "Compressed": False,
                "NumberOfBuckets": 0,
                "SerdeInfo": {},
                "SortColumns": [],
                "StoredAsSubDirectories": False,
            },
            "ViewOriginalText": f"/* Presto View: {encoded} */",
            "ViewExpandedText": "/* Presto View */",
        }
        if existing:
            self.glue.update_table(DatabaseName=database, TableInput=table_input)
        else:
            self.glue.create_table(DatabaseName=database, TableInput=table_input)

    def drop(self, tree: exp.Drop, view: bool) -> None:
        """DROP VIEW, or DROP TABLE of an external table: its Glue entry goes, its data stays (as in Athena)."""
        table = tree.this if isinstance(tree.this, exp.Table) else (tree.args.get("tables") or [None])[0]
        database, name = (table.db or self.database).lower(), table.name.lower()
        existing, what = self._get(database, name), "View" if view else "Table"
        if existing is None:
            if tree.args.get("exists"):
                return
            raise QueryFailed("", f"line 1:1: {what} 'awsdatacatalog.{database}.{name}' does not exist")
        if (existing.get("TableType") == "VIRTUAL_VIEW") != view:
            if view:
                raise QueryFailed("", f"line 1:1: View 'awsdatacatalog.{database}.{name}' does not exist")
            raise QueryFailed("", f"line 1:1: Table 'awsdatacatalog.{database}.{name}' is a view; use DROP VIEW")
        self.glue.delete_table(DatabaseName=database, Name=name)

    def create_table(self, tree: exp.Create) -> None:
        schema = tree.this
        table = schema.this if isinstance(schema, exp.Schema) else schema
        database, name = (table.db or self.database).lower(), table.name.lower()
        columns = [
            {"Name": c.name.lower(), "Type": c.args["kind"].sql("hive").lower().replace(" ", "")}
            for c in (schema.expressions if isinstance(schema, exp.Schema) else [])
        ]
        props = {type(p).__name__: p for p in (tree.args.get("properties") or exp.Properties()).expressions}
        parts = props.get("PartitionedByProperty")
        keys = [
            {"Name": c.name.lower(), "Type": c.args["kind"].sql("hive").lower()}
            for c in (parts.this.expressions if parts else [])
        ]
        location = props["LocationProperty"].this.name if "LocationProperty" in props else ""
        stored = props["FileFormatProperty"].this.name.upper() if "FileFormatProperty" in props else "TEXTFILE"
        tbl = {
            p.this.name: p.text("value")
            for p in (tree.args.get("properties") or exp.Properties()).expressions
            if isinstance(p, exp.Property) and type(p) is exp.Property
        }
        if self._get(database, name):
            if tree.args.get("exists"):
                return
            raise QueryFailed("", f"Table {name} already exists")
        serde, input_format, output_format = {
            "PARQUET": (PARQUET_SERDE, PARQUET_INPUT, PARQUET_OUTPUT),
        }.get(
            stored,
            (
                _TEXT_SERDE,
                "org.apache.hadoop.mapred.TextInputFormat",
                "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            ),
        )
        if "ROWFORMATSERDEPROPERTY" in {k.upper() for k in props} and "json" in tree.sql().lower():
            serde = _JSON_SERDE
        self.glue.create_table(
            DatabaseName=database,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "PartitionKeys": keys,
                "Parameters": {
                    "EXTERNAL": "TRUE",
                    **({"classification": stored.lower()} if stored == "PARQUET" else {}),
                    **tbl,
                },
                "StorageDescriptor": {
                    "Columns": columns,
                    "Location": location,
                    "InputFormat": input_format,
                    "OutputFormat": output_format,
                    "Compressed": False,
                    "NumberOfBuckets": -1,
                    "SerdeInfo": {"SerializationLibrary": serde, "Parameters": {"serialization.format": "1"}},
                    "BucketColumns": [],
                    "SortColumns": [],
                    "StoredAsSubDirectories": False,
                },
            },
        )

    def show_tables(self, database: str | None, pattern: str | None) -> ResultSet:
        database = (database or self.database).strip('"`').lower()
        names = []
        for page in self.glue.get_paginator("get_tables").paginate(DatabaseName=database):
            names.extend(t["Name"] for t in page["TableList"])
        if pattern:
            regex = re.compile("^(" + "|".join(p.replace("*", ".*") for p in pattern.split("|")) + ")$", re.I)
            names = [n for n in names if regex.match(n)]
        return ResultSet.of_strings(["tab_name"], [[n] for n in sorted(names)])

    def describe(self, table: exp.Expression) -> ResultSet:
        database, name = (table.db or self.database).lower(), table.name.lower()
        found = self._get(database, name)
        if found is None:
            raise QueryFailed("", f"FAILED: SemanticException [Error 10001]: Table not found {database}.{name}")

        def line(a: str, b: str, c: str = "") -> list[str | None]:
            return [f"{a:<20}\t{b:<20}\t{c:<20}"]

        rows = [line(c["Name"], c["Type"], c.get("Comment", "")) for c in found["StorageDescriptor"]["Columns"]]
        keys = found.get("PartitionKeys") or []
        rows += [line(k["Name"], k["Type"], k.get("Comment", "")) for k in keys]
        if keys:
            rows += [
                ["\t \t "],
                ["# Partition Information"],
                line("# col_name", "data_type", "comment"),
                ["\t \t "],
            ] + [line(k["Name"], k["Type"], k.get("Comment", "")) for k in keys]
        return ResultSet.of_strings(["col_name"], rows)

    def _partitions(self, database: str, name: str) -> list[dict[str, Any]]:
        out = []
        for page in self.glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name):
            out.extend(page["Partitions"])
        return out

    def show_partitions(self, database: str, name: str) -> ResultSet:
        table = self._get(database, name)
        if table is None:
            raise QueryFailed("", f"FAILED: SemanticException [Error 10001]: Table not found {database}.{name}")
        keys = [k["Name"] for k in table.get("PartitionKeys") or []]
        rows = sorted(
            "/".join(f"{k}={v}" for k, v in zip(keys, p["Values"], strict=False))
            for p in self._partitions(database, name)
        )
        return ResultSet.of_strings(["partition"], [[r] for r in rows])

    def repair(self, database: str, name: str) -> ResultSet:
        """MSCK REPAIR TABLE: add the ``key=value`` folders under the location that Glue lacks."""
        table = self._get(database, name)
        if table is None or self.lister is None:
            raise QueryFailed("", f"FAILED: SemanticException [Error 10001]: Table not found {database}.{name}")
        keys = [k["Name"] for k in table.get("PartitionKeys") or []]
        root = table["StorageDescriptor"]["Location"].rstrip("/") + "/"
        known = {tuple(p["Values"]) for p in self._partitions(database, name)}
        found: dict[tuple[str, ...], str] = {}
        for path, _size in self.lister(root):
            folders = path.split("/", 1)[1][len(root.split("/", 3)[3]) :].split("/")[:-1]
            if len(folders) >= len(keys) and all(
                f.split("=", 1)[0].lower() == k.lower() for f, k in zip(folders, keys, strict=False)
            ):
                values = tuple(f.split("=", 1)[1] for f in folders[: len(keys)])
                found.setdefault(values, root + "/".join(folders[: len(keys)]) + "/")
        new = [v for v in sorted(found) if v not in known]
        sd = table["StorageDescriptor"]
        for i in range(0, len(new), 100):
            self.glue.batch_create_partition(
                DatabaseName=database,
                TableName=name,
                PartitionInputList=[
                    {"Values": list(v), "StorageDescriptor": {**sd, "Location": found[v]}} for v in new[i : i + 100]
                ],
            )
        rows = [
            [f"Partitions not in metastore:\t{name}:" + "/".join(f"{k}={x}" for k, x in zip(keys, v, strict=False))]
            for v in new
        ]
        rows += [
            [
                f"Repair: Added partition to metastore {name}:"
                + "/".join(f"{k}={x}" for k, x in zip(keys, v, strict=False))
            ]
            for v in new
        ]
        return ResultSet.of_strings(["result"], rows)

    def database_ddl(self, verb: str, guarded: bool, name: str) -> None:
        if verb == "CREATE":
            try:
                self.glue.create_database(DatabaseInput={"Name": name})
            except self.glue.exceptions.AlreadyExistsException as exc:
                if not guarded:
                    raise QueryFailed("", f"FAILED: AlreadyExistsException: Database {name} already exists") from exc
        else:
            try:
                self.glue.delete_database(Name=name)
            except self.glue.exceptions.EntityNotFoundException as exc:
                if not guarded:
                    raise QueryFailed(
                        "", f"FAILED: SemanticException [Error 10072]: Database does not exist: {name}"
                    ) from exc
