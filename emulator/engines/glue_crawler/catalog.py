"""What a crawl writes: tables and partitions in the Glue Data Catalog, as the crawler's role.

Honours SchemaChangePolicy (UpdateBehavior UPDATE_IN_DATABASE | LOG,
DeleteBehavior DELETE_FROM_DATABASE | DEPRECATE_IN_DATABASE | LOG) and the
crawler Configuration ``CrawlerOutput.Tables.AddOrUpdateBehavior =
MergeNewColumns`` (columns only added, never changed or removed) and
``CrawlerOutput.Partitions.AddOrUpdateBehavior = InheritFromTable``
(partitions take the table's schema when it changes). Nothing is written
when nothing changed, so a second crawl of the same data changes nothing.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

from emulator.engines.glue_crawler.layout import TableSpec

PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
_BATCH = 100


@dataclass
class CrawlCounts:
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    partitions_created: int = 0
    partitions_updated: int = 0
    glue_calls: int = 0
    messages: list[str] = field(default_factory=list)


def _parameters(spec: TableSpec, crawler: str) -> dict[str, str]:
    rows = spec.rows
    return {
        "CrawlerSchemaDeserializerVersion": "1.0",
        "CrawlerSchemaSerializerVersion": "1.0",
        "UPDATED_BY_CRAWLER": crawler,
        "averageRecordSize": str(spec.size // rows if rows else 0),
        "classification": "parquet",
        "compressionType": "none",
        "objectCount": str(len(spec.files)),
        "recordCount": str(rows),
        "sizeKey": str(spec.size),
        "typeOfData": "file",
    }


def _descriptor(columns: list[dict[str, str]], location: str, parameters: dict[str, str]) -> dict[str, Any]:
    return {
        "Columns": columns,
        "Location": location,
        "InputFormat": PARQUET_INPUT,
        "OutputFormat": PARQUET_OUTPUT,
        "Compressed": False,
        "NumberOfBuckets": -1,
        "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
        "BucketColumns": [],
        "SortColumns": [],
        "Parameters": parameters,
        "StoredAsSubDirectories": False,
    }


def table_input(spec: TableSpec, crawler: str, columns: list[dict[str, str]] | None = None) -> dict[str, Any]:
    params = _parameters(spec, crawler)
    cols = columns if columns is not None else [{"Name": n, "Type": t} for n, t in spec.columns]
    return {
        "Name": spec.name,
        "Owner": "owner",
        "Retention": 0,
        "StorageDescriptor": _descriptor(cols, spec.location, params),
        "PartitionKeys": [{"Name": k, "Type": "string"} for k in spec.partition_keys],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": params,
    }


_TABLE_INPUT_KEYS = (
    "Name",
    "Description",
    "Owner",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "TableType",
    "Parameters",
    "ViewOriginalText",
    "ViewExpandedText",
)


def _as_input(table: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(table[k]) for k in _TABLE_INPUT_KEYS if k in table}


def _all_partitions(glue: Any, database: str, name: str, counts: CrawlCounts) -> list[dict[str, Any]]:
    out, token = [], None
    while True:
        counts.glue_calls += 1
        page = glue.get_partitions(DatabaseName=database, TableName=name, **({"NextToken": token} if token else {}))
        out.extend(page.get("Partitions", []))
        token = page.get("NextToken")
        if not token:
            return out


def write_table(
    glue: Any,
    database: str,
    spec: TableSpec,
    crawler: str,
    policy: dict[str, Any],
    merge_new_columns: bool,
    counts: CrawlCounts,
    log: logging.Logger,
) -> None:
    """Create or update one table and add its new partitions."""
    counts.glue_calls += 1
    try:
        existing = glue.get_table(DatabaseName=database, Name=spec.name)["Table"]
    except glue.exceptions.EntityNotFoundException:
        existing = None
    wanted = table_input(spec, crawler)
    columns_changed = False
    if existing is None:
        counts.glue_calls += 1
        glue.create_table(DatabaseName=database, TableInput=wanted)
        counts.tables_created += 1
        log.info("crawler %s: table %s.%s created at %s", crawler, database, spec.name, spec.location)
    else:
        current = _as_input(existing)
        old_columns = current.get("StorageDescriptor", {}).get("Columns", [])
        if merge_new_columns:
            known = {c["Name"] for c in old_columns}
            new_columns = old_columns + [c for c in wanted["StorageDescriptor"]["Columns"] if c["Name"] not in known]
            wanted = table_input(spec, crawler, new_columns)
        columns_changed = wanted["StorageDescriptor"]["Columns"] != old_columns
        merged = {**current, **wanted}
        if merged != current:
            if policy.get("UpdateBehavior", "UPDATE_IN_DATABASE") == "LOG":
                counts.messages.append(f"table {spec.name}: schema change logged, not applied (UpdateBehavior LOG)")
                log.info("crawler %s: table %s changed; UpdateBehavior LOG: not updated", crawler, spec.name)
                wanted, columns_changed = current, False
            else:
                counts.glue_calls += 1
                glue.update_table(DatabaseName=database, TableInput=merged)
                counts.tables_updated += 1
                log.info("crawler %s: table %s.%s updated", crawler, database, spec.name)
    if not spec.partition_keys:
        return
    existing_parts = (
        {} if existing is None else {tuple(p["Values"]): p for p in _all_partitions(glue, database, spec.name, counts)}
    )
    descriptor = wanted["StorageDescriptor"]
    new_parts = [
        {
            "Values": list(values),
            "StorageDescriptor": {**copy.deepcopy(descriptor), "Location": location},
            "Parameters": dict(wanted["Parameters"]),
        }
        for values, location in sorted(spec.partitions.items())
        if values not in existing_parts
    ]
    for i in range(0, len(new_parts), _BATCH):
        counts.glue_calls += 1
        answer = glue.batch_create_partition(
            DatabaseName=database, TableName=spec.name, PartitionInputList=new_parts[i : i + _BATCH]
        )
        for error in answer.get("Errors", []):
            counts.messages.append(f"partition {error.get('PartitionValues')}: {error.get('ErrorDetail')}")
        counts.partitions_created += len(new_parts[i : i + _BATCH]) - len(answer.get("Errors", []))
    if columns_changed and existing_parts:  # InheritFromTable: partitions follow the table's schema
        updates = []
        for values, part in existing_parts.items():
            sd = {**part["StorageDescriptor"], "Columns": descriptor["Columns"]}
            updates.append(
                {
                    "PartitionValueList": list(values),
                    "PartitionInput": {
                        "Values": list(values),
                        "StorageDescriptor": sd,
                        "Parameters": part.get("Parameters", {}),
                    },
                }
            )
        for i in range(0, len(updates), _BATCH):
            counts.glue_calls += 1
            glue.batch_update_partition(DatabaseName=database, TableName=spec.name, Entries=updates[i : i + _BATCH])
            counts.partitions_updated += len(updates[i : i + _BATCH])


def retire_tables(
    glue: Any,
    database: str,
    found: set[str],
    locations: list[str],
    crawler: str,
    policy: dict[str, Any],
    counts: CrawlCounts,
    log: logging.Logger,
) -> None:
    """Tables this crawler made under its targets whose data is gone: DeleteBehavior decides."""
    behavior = policy.get("DeleteBehavior", "DEPRECATE_IN_DATABASE")
    if behavior == "LOG":
        return
    token = None
    while True:
        counts.glue_calls += 1
        page = glue.get_tables(DatabaseName=database, **({"NextToken": token} if token else {}))
        for table in page.get("TableList", []):
            params = table.get("Parameters") or {}
            location = (table.get("StorageDescriptor") or {}).get("Location", "")
            if table["Name"] in found or params.get("UPDATED_BY_CRAWLER") != crawler:
                continue
            if not any(location.startswith(loc) for loc in locations) or "DEPRECATED_BY_CRAWLER" in params:
                continue
            counts.glue_calls += 1
            if behavior == "DELETE_FROM_DATABASE":
                glue.delete_table(DatabaseName=database, Name=table["Name"])
                counts.tables_deleted += 1
                log.info("crawler %s: table %s deleted (its data is gone)", crawler, table["Name"])
            else:
                updated = _as_input(table)
                updated["Parameters"] = {**params, "DEPRECATED_BY_CRAWLER": crawler}
                glue.update_table(DatabaseName=database, TableInput=updated)
                counts.tables_updated += 1
                log.info("crawler %s: table %s deprecated (its data is gone)", crawler, table["Name"])
        token = page.get("NextToken")
        if not token:
            return
