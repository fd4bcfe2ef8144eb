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
    text = str(exc)
    if "ACCESS_DENIED" in text or "AccessDenied" in text or "Forbidden" in text:
        return CrawlError(
            f"Error Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied) "
            f"retrieving file at s3://{bucket}/{key}"
        )
    return CrawlError(f"Error reading s3://{bucket}/{key}: {text}")


def list_target(fs: pafs.S3FileSystem, url: str, exclusions: list[str]) -> tuple[list[DataFile], int]:
    """The objects under an S3 target (minus exclusions and folder markers), and the ListObjects calls made."""
    bucket, prefix = split_s3_url(url)
    try:
        infos = fs.get_file_info(pafs.FileSelector(f"{bucket}/{prefix}".rstrip("/"), recursive=True))
    except FileNotFoundError:
        return [], 1
    except OSError as exc:
        if "NoSuchBucket" in str(exc) or "NO_SUCH_BUCKET" in str(exc):
            return [], 1
        raise _s3_error(exc, bucket, prefix) from exc
    files = []
    for info in infos:
        if info.type != pafs.FileType.File or info.size == 0:
            continue
        key = info.path.split("/", 1)[1]
        relative = key[len(prefix) :]
        if excluded(relative, exclusions):
            continue
        *folders, _name = relative.split("/")
        files.append(DataFile(bucket=bucket, key=key, folders=tuple(folders), size=info.size or 0))
    return files, max(1, (len(infos) + 999) // 1000)


def read_footer(fs: pafs.S3FileSystem, data_file: DataFile) -> bool:
    """Fill the file's columns and row count from its Parquet footer; False if it is not Parquet."""
    path = f"{data_file.bucket}/{data_file.key}"
    try:
        with fs.open_input_file(path) as handle:
            size = handle.size()
            if size >= 8:
                handle.seek(size - 4)
                if handle.read(4) != PARQUET_MAGIC:
                    if data_file.name.endswith(".parquet"):
                        raise CrawlError(
                            f"Unable to read Parquet file s3://{path}: not a Parquet file (magic bytes not found in footer)"
                        )
                    return False
            elif not data_file.name.endswith(".parquet"):
                return False
            handle.seek(0)
            parquet = pq.ParquetFile(handle)
            schema, data_file.rows = parquet.schema_arrow, parquet.metadata.num_rows
    except CrawlError:
        raise
    except OSError as exc:
        raise _s3_error(exc, data_file.bucket, data_file.key) from exc
    except Exception as exc:  # a corrupt footer: pyarrow's ArrowInvalid and friends
        raise CrawlError(f"Unable to read Parquet file s3://{path}: {exc}") from exc
    data_file.columns = [(f.name.lower(), glue_type(f.type)) for f in schema]
    return True


def read_footers(fs: pafs.S3FileSystem, files: list[DataFile], workers: int = 4) -> list[DataFile]:
    """Read every footer (a few in parallel); non-Parquet objects are dropped (no classifier for them)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        kept = list(pool.map(lambda f: read_footer(fs, f), files))
    return [f for f, ok in zip(files, kept, strict=True) if ok]
