"""What a crawl reads: the objects under an S3 target and the schemas in their Parquet footers.

S3 is reached with ``pyarrow.fs.S3FileSystem`` and the credentials of the
crawler's role: ListObjectsV2 for the listing, ranged GetObject for the
footers (pyarrow reads the tail of each file, never the data pages).
"""

from __future__ import annotations

import fnmatch
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

PARQUET_MAGIC = b"PAR1"


class CrawlError(Exception):
    """A crawl failure, with the message Glue would put in LastCrawl.ErrorMessage."""


_CLIENTS: dict[tuple[str, str, str, str | None, str], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def client(ctx: Any, service: str, region: str | None = None, credentials: dict[str, Any] | None = None) -> Any:
    """``ctx.client`` cached per identity: building a boto3 client costs 0.2-0.8 s, a call a few ms."""
    key = (
        ctx.endpoint_url,
        service,
        region or ctx.regions[0],
        (credentials or {}).get("AccessKeyId"),
        (credentials or {}).get("SessionToken") or "",
    )
    with _CLIENTS_LOCK:
        found = _CLIENTS.get(key)
    if found is None:
        found = ctx.client(service, region, credentials)
        with _CLIENTS_LOCK:
            if len(_CLIENTS) > 64:
                _CLIENTS.clear()
            _CLIENTS[key] = found
    return found


def iam_enforced() -> bool:
    from moto import settings

    return float("inf") != settings.INITIAL_NO_AUTH_ACTION_COUNT


def in_process_object(account: str | None, bucket: str, key: str) -> bytes | None:
    """The latest version of an object from moto's S3 backend in this process (None if not reachable so)."""
    if account is None:
        return None
    try:
        from moto.s3.models import s3_backends

        found = s3_backends[account]["aws"].get_object(bucket, key)
        return None if found is None else found.value
    except Exception:  # moto's internals moved or the object is special (e.g. a delete marker): go through HTTP
        return None


def s3_filesystem(ctx: Any, credentials: dict[str, Any] | None) -> pafs.S3FileSystem:
    """pyarrow's S3 client of the emulator, as the given STS credentials (else the base identity)."""
    creds = credentials or {"AccessKeyId": ctx.access_key, "SecretAccessKey": ctx.secret_key}
    url = urlparse(ctx.endpoint_url)
    return pafs.S3FileSystem(
        access_key=creds["AccessKeyId"],
        secret_key=creds["SecretAccessKey"],
        session_token=creds.get("SessionToken"),
        endpoint_override=url.netloc,
        scheme=url.scheme or "https",
        region=ctx.regions[0],
        tls_ca_file_path=ctx.ca_bundle if url.scheme == "https" and ctx.ca_bundle else None,
        connect_timeout=5,
        request_timeout=60,
    )


def split_s3_url(url: str) -> tuple[str, str]:
    """s3://bucket/a/b -> ("bucket", "a/b/"), the prefix ending with "/" unless empty."""
    parsed = urlparse(url)
    prefix = parsed.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return parsed.netloc, prefix


def glue_type(arrow_type: pa.DataType) -> str:
    """The Glue (Hive) type a crawler gives a Parquet column."""
    t = arrow_type
    if pa.types.is_int64(t) or pa.types.is_uint32(t) or pa.types.is_uint64(t):
        return "bigint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "int"
    if pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int8(t):
        return "tinyint"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_float32(t) or pa.types.is_float16(t):
        return "float"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return f"array<{glue_type(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{glue_type(f.type)}" for f in t) + ">"
    if pa.types.is_map(t):
        return f"map<{glue_type(t.key_type)},{glue_type(t.item_type)}>"
    if pa.types.is_null(t):
        return "string"
    return "string"


@dataclass
class DataFile:
    """One object under a target: its key, folders under the include path, size and footer schema."""

    bucket: str
    key: str
    folders: tuple[str, ...]
    size: int
    columns: list[tuple[str, str]] = field(default_factory=list)
    rows: int = 0

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Glue exclude patterns: ``**`` crosses folders, ``*`` and ``?`` stay in one, ``{a,b}`` alternatives."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "{":
            end = pattern.find("}", i)
            if end > i:
                out += "(" + "|".join(re.escape(p) for p in pattern[i + 1 : end].split(",")) + ")"
                i = end + 1
                continue
            out += re.escape(c)
        elif c == "[":
            end = pattern.find("]", i)
            if end > i:
                out += "[" + pattern[i + 1 : end].replace("!", "^", 1) + "]"
                i = end + 1
                continue
            out += re.escape(c)
        else:
            out += re.escape(c)
        i += 1
    # "**/x" also matches "x" at the top of the include path.
    return re.compile("^" + out.replace(".*/", "(.*/)?") + "$")


def excluded(relative_key: str, patterns: list[str]) -> bool:
    return any(_glob_regex(p).match(relative_key) or fnmatch.fnmatch(relative_key, p) for p in patterns)


def _s3_error(exc: Exception, bucket: str, key: str) -> CrawlError:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "") if hasattr(exc, "response") else ""
    if code in ("AccessDenied", "403", "Forbidden"):
        return CrawlError(
            f"Error Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied) "
            f"retrieving file at s3://{bucket}/{key}"
        )
    return CrawlError(f"Error reading s3://{bucket}/{key}: {exc}")


def list_target(s3: Any, url: str, exclusions: list[str]) -> tuple[list[DataFile], int]:
    """The objects under an S3 target (minus exclusions and folder markers), and the ListObjectsV2 calls made."""
    bucket, prefix = split_s3_url(url)
    files, calls = [], 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            calls += 1
            for obj in page.get("Contents", []):
                relative = obj["Key"][len(prefix) :]
                if obj["Size"] == 0 or obj["Key"].endswith("/") or excluded(relative, exclusions):
                    continue
                *folders, _name = relative.split("/")
                files.append(DataFile(bucket=bucket, key=obj["Key"], folders=tuple(folders), size=obj["Size"]))
    except s3.exceptions.NoSuchBucket:
        return [], max(calls, 1)
    except Exception as exc:
        raise _s3_error(exc, bucket, prefix) from exc
    return files, calls


_TAIL = 64 * 1024


def _tail(s3: Any, data_file: DataFile, length: int, account: str | None = None) -> tuple[bytes, int]:
    """The last ``length`` bytes of the object, and the S3 calls it took."""
    length = min(length, data_file.size)
    if account is not None and not iam_enforced():  # nothing to decide: moto's bytes, in this process
        value = in_process_object(account, data_file.bucket, data_file.key)
        if value is not None:
            return value[-length:], 0
    try:
        answer = s3.get_object(Bucket=data_file.bucket, Key=data_file.key, Range=f"bytes=-{length}")
    except Exception as exc:
        raise _s3_error(exc, data_file.bucket, data_file.key) from exc
    return answer["Body"].read(), 1


def read_footer(s3: Any, data_file: DataFile, account: str | None = None) -> int | None:
    """Fill the file's columns and rows from its Parquet footer (one ranged GET); None if it is not Parquet.

    Returns the GetObject calls made.
    """
    path = f"s3://{data_file.bucket}/{data_file.key}"
    tail, calls = _tail(s3, data_file, _TAIL, account)
    if len(tail) < 12 or tail[-4:] != PARQUET_MAGIC:
        if data_file.name.endswith(".parquet"):
            raise CrawlError(
                f"Unable to read Parquet file {path}: not a Parquet file (magic bytes not found in footer)"
            )
        return 0
    footer = int.from_bytes(tail[-8:-4], "little") + 8
    if footer > len(tail) and footer <= data_file.size:
        tail, more = _tail(s3, data_file, footer, account)
        calls += more
    try:
        parquet = pq.ParquetFile(pa.BufferReader(tail))
        schema, data_file.rows = parquet.schema_arrow, parquet.metadata.num_rows
    except Exception as exc:  # a corrupt footer: pyarrow's ArrowInvalid and friends
        raise CrawlError(f"Unable to read Parquet file {path}: {exc}") from exc
    data_file.columns = [(f.name.lower(), glue_type(f.type)) for f in schema]
    return calls


def read_footers(
    s3: Any, files: list[DataFile], account: str | None = None, workers: int = 4
) -> tuple[list[DataFile], int]:
    """Read every footer (a few in parallel); non-Parquet objects are dropped (no classifier for them).

    When moto does not enforce IAM there is nothing for a GetObject to decide: the footers are then read
    from moto's S3 in this process (``account`` given), 10x faster than ranged GETs over HTTP.
    """
    with ThreadPoolExecutor(max_workers=workers) as pool:
        calls = list(pool.map(lambda f: read_footer(s3, f, account), files))
    return [f for f, n in zip(files, calls, strict=True) if n is not None], sum(n or 0 for n in calls)
