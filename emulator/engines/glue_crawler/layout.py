"""Where a crawler puts tables: the table roots, partition keys and merged schemas of a target's files.

AWS ("How does a crawler determine when to create partitions?", "Specifying
the table location and partitioning level", knowledge-center
glue-crawler-detect-schema): starting at the include path, a folder is the
root of ONE table when the data under it is compatible (same format, same
folder depth) and the majority of the schemas of its sub-folders are similar
(the crawler's threshold is 70 % similarity); the table is named after that
folder (the include path's own folder, or the bucket, at the top). Otherwise
each sub-folder is considered on its own, and a file lying next to those
folders becomes a table named after the file. ``Grouping.TableGroupingPolicy
= CombineCompatibleSchemas`` ignores schema similarity (compatibility only);
``Grouping.TableLevelConfiguration = N`` puts every table at the absolute
level N of the key (the bucket's top folder is level 1). Below the root,
``key=value`` folders give partition column ``key``, other folders
``partition_<i>``; every partition column is a string.

Similarity here: |common (name, type)| / |union| of two schemas; the
reference is the most frequent schema among the sub-folders.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

from emulator.engines.glue_crawler.scan import DataFile

SIMILARITY = 0.7


def table_name(folder: str, prefix: str = "") -> str:
    """Glue's table name: lower case, every character but a-z, 0-9 and _ turned into _."""
    return re.sub(r"[^a-z0-9_]", "_", (prefix + folder).lower())


@dataclass
class TableSpec:
    """A table found by a crawl: root location, partition keys, merged columns and its partitions."""

    name: str
    bucket: str
    root: tuple[str, ...]  # key segments of the table folder
    partition_keys: list[str] = field(default_factory=list)
    columns: list[tuple[str, str]] = field(default_factory=list)
    partitions: dict[tuple[str, ...], str] = field(default_factory=dict)  # values -> location
    files: list[DataFile] = field(default_factory=list)

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/" + "".join(f"{s}/" for s in self.root)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def merge_columns(schemas: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """Columns in order of first appearance; a column keeps the type it was first seen with."""
    merged: dict[str, str] = {}
    for columns in schemas:
        for name, type_ in columns:
            merged.setdefault(name, type_)
    return list(merged.items())


def similarity(a: set[tuple[str, str]], b: set[tuple[str, str]]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def _similar_majority(units: list[list[DataFile]]) -> bool:
    schemas = [frozenset(merge_columns([f.columns for f in unit])) for unit in units]
    if len(schemas) <= 1:
        return True
    reference = Counter(schemas).most_common(1)[0][0]
    similar = sum(1 for s in schemas if similarity(set(s), set(reference)) >= SIMILARITY)
    return similar * 2 > len(schemas)


def _one_table(files: list[DataFile], depth: int, combine: bool) -> bool:
    """Whether the files under a folder (``depth`` segments below the include root) make one table."""
    if len({len(f.folders) for f in files}) != 1:
        return False  # data at different folder depths is not compatible
    if len(files[0].folders) == depth:  # files side by side in one folder
        return combine or _similar_majority([[f] for f in files])
    by_child: dict[str, list[DataFile]] = {}
    for f in files:
        by_child.setdefault(f.folders[depth], []).append(f)
    return combine or _similar_majority(list(by_child.values()))


def _roots(files: list[DataFile], depth: int, combine: bool) -> list[tuple[int, list[DataFile], str | None]]:
    """(depth of the table root below the include path, its files, a file name if the table is one file)."""
    if _one_table(files, depth, combine):
        return [(depth, files, None)]
    out: list[tuple[int, list[DataFile], str | None]] = []
    by_child: dict[str, list[DataFile]] = {}
    for f in files:
        if len(f.folders) == depth:
            out.append((depth, [f], f.name))
        else:
            by_child.setdefault(f.folders[depth], []).append(f)
    for child in sorted(by_child):
        out.extend(_roots(by_child[child], depth + 1, combine))
    return out


def group(
    files: list[DataFile],
    bucket: str,
    include_prefix: str,
    table_prefix: str = "",
    table_level: int | None = None,
    combine: bool = False,
) -> list[TableSpec]:
    """The tables a crawl of one S3 target creates from its (footer-read) files."""
    include = tuple(s for s in include_prefix.split("/") if s)
    if not files:
        return []
    if table_level:
        # Absolute level from the bucket (top folder = 1); never above the include path.
        depth = max(0, table_level - len(include))
        roots = []
        by_root: dict[tuple[str, ...], list[DataFile]] = {}
        for f in files:
            if len(f.folders) >= depth:
                by_root.setdefault(f.folders[:depth], []).append(f)
        roots = [(depth, by_root[r], None) for r in sorted(by_root)]
    else:
        roots = _roots(files, 0, combine)
    tables: list[TableSpec] = []
    seen: set[str] = set()
    for depth, table_files, file_name in roots:
        root = include + table_files[0].folders[:depth]
        folder = file_name.rsplit(".", 1)[0] if file_name else (root[-1] if root else bucket)
        name = table_name(folder, table_prefix)
        if name in seen:  # Glue makes clashing names unique with a hash of the location
            name = f"{name}_{hashlib.md5('/'.join(root).encode()).hexdigest()[:8]}"
        seen.add(name)
        spec = TableSpec(name=name, bucket=bucket, root=root, files=table_files)
        spec.columns = merge_columns([f.columns for f in table_files])
        levels = len(table_files[0].folders) - depth if not file_name else 0
        for i in range(levels):
            names = {f.folders[depth + i] for f in table_files}
            keys = {n.split("=", 1)[0].lower() for n in names if "=" in n}
            hive = len(keys) == 1 and all("=" in n for n in names)
            spec.partition_keys.append(keys.pop() if hive else f"partition_{i}")
        part_names = {k for k, _ in spec.columns}
        spec.partition_keys = [k if k not in part_names else f"{k}_partition" for k in spec.partition_keys]
        for f in table_files:
            below = f.folders[depth : depth + levels]
            values = tuple(
                s.split("=", 1)[1] if "=" in s and spec.partition_keys[i] != f"partition_{i}" else s
                for i, s in enumerate(below)
            )
            if levels:
                spec.partitions.setdefault(
                    values, f"s3://{bucket}/" + "".join(f"{s}/" for s in include + f.folders[: depth + levels])
                )
        tables.append(spec)
    return tables
