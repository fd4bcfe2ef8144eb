"""The Glue tables, partitions and S3 listings a query reads, answered in this process where S3 and Glue would
answer the caller.

The same pattern as ``authorise.readable_object``: a query's GetTable,
GetPartitions and ListObjectsV2 are authorised here by moto's own request
authorisation, as the emulator's front door authorises them
(``authorise.authorised``: identity policies, the root key, every patch on
it; Glue against resource ``*``, as moto names no Glue resource;
ListObjectsV2 as ``s3:ListBucket`` on the bucket, with no bucket-policy check,
as moto makes none for bucket reads), and answered from moto's backends with
what the HTTP answer carries: the table's and the partitions' ``as_dict()``
(what moto's GlueResponse serialises), the keys under the prefix (moto's
ListObjectsV2, in key order). Each costs microseconds where a request through
the front door costs milliseconds (three of them on a query's critical path).
None: not authorised, not found, or moto's internals moved; the engine then
makes the request over HTTP, whose answer or error decides, as before.
Nothing is kept between queries.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import quote

from emulator.engines.athena.authorise import Caller, authorised


def glue_table(caller: Caller | None, database: str, name: str) -> dict[str, Any] | None:
    """GetTable's ``Table``, if moto lets the caller's GetTable through and the table exists."""
    if caller is None or not authorised(caller, "glue", "GetTable", "*"):
        return None
    try:
        from moto.glue.models import glue_backends

        table = glue_backends[caller.account][caller.region].get_table(database, name)
        return copy.deepcopy(table.as_dict())
    except Exception:  # not found, or moto's internals moved: GetTable over HTTP answers
        return None


def glue_partitions(caller: Caller | None, database: str, table: str) -> list[dict[str, Any]] | None:
    """Every partition GetPartitions (no expression) gives, if moto lets the caller's GetPartitions through."""
    if caller is None or not authorised(caller, "glue", "GetPartitions", "*"):
        return None
    try:
        from moto.glue.models import glue_backends

        found = glue_backends[caller.account][caller.region].get_partitions(database, table, None)
        return [copy.deepcopy(p.as_dict()) for p in found]
    except Exception:  # not found, or moto's internals moved: GetPartitions over HTTP answers
        return None


def s3_files(caller: Caller | None, bucket: str, prefix: str) -> list[tuple[str, int]] | None:
    """(``bucket/key``, size) of the objects under the prefix, in key order (``/``-ending keys are folders),
    if moto lets the caller's ListObjectsV2 through."""
    if caller is None or caller.account is None:
        return None
    path = f"/{bucket}?list-type=2&prefix={quote(prefix)}"
    if not authorised(caller, "s3", "ListBucket", f"arn:aws:s3:::{bucket}", "GET", path, {"BucketName": bucket}):
        return None
    try:
        from moto.s3.models import FakeKey, s3_backends

        backend = s3_backends[caller.account]["aws"]
        found = backend.buckets.get(bucket)
        if found is None or found.logging:  # none (NoSuchBucket), or a request writes an access log record
            return None
        keys = backend.list_objects(found, prefix, None, marker=None, max_keys=None)[0]
    except Exception:  # moto's internals moved: ListObjectsV2 over HTTP answers
        return None
    files = [(k.name, k.size) for k in keys if isinstance(k, FakeKey) and not k.name.endswith("/")]
    return [(f"{bucket}/{name}", size) for name, size in sorted(files)]
