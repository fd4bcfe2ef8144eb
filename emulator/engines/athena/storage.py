"""S3 as a query reads and writes it: objects as the caller, in-process from moto where the engine runs beside it.

Reads: ``Objects.fetch`` gives an object's bytes as a local file. Whether the
caller may read it is decided in this process by ``authorise.readable_object``:
the bucket policy, then moto's own request authorisation (identity policies,
kms:Decrypt of an SSE-KMS object, the root key; every emulator patch on it),
as the emulator's S3 decides a GetObject by that caller; the bytes then come
from moto's S3 in this process (no HTTP request per object: 100 of them cost
0.2 s of a 1 s query). What it does not serve (a denial, a missing object,
anything unusual) is a GetObject as the caller over HTTP, so S3 fails the read
with its own error. Files are kept across queries by (account, bucket, key,
ETag, size): an object that has not changed is not copied again (S3's ETag of
a single-part object is the MD5 of its bytes, of a multipart one the MD5 of
its parts' MD5s); a query gets hard links, so evicting (LRU, CACHE_BYTES)
never pulls a file from under a running query. Decisions are never kept: each
query authorises each of its objects once.

Writes: ``put_object`` puts a result object as Athena does, as the caller.
In-process, a conditional PutObject as the caller (If-Match an ETag no object
has: S3 authorises it as any PutObject of that key, bucket policy and IAM,
then answers 404/412 and writes nothing) decides, and the body goes into
moto's S3 in this process with the headers moto's PutObject would apply
(encryption, ACL, Content-Type, the bucket's default retention), with S3's
ObjectCreated:Put notification; this skips moving 20+ MB through HTTP and
moto's eager MD5 of the body. Anything unexpected: a plain PutObject.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from emulator.engines.athena import authorise
from emulator.engines.athena.authorise import Caller
from emulator.engines.athena.errors import QueryFailed
from emulator.engines.glue_crawler.scan import split_s3_url

CACHE_BYTES = 2 << 30
# Smaller results go over HTTP: one PutObject costs less than the probe.
IN_PROCESS_PUT_BYTES = 1 << 20
_PROBE_ETAG = '"smartstream-athena-authorisation-probe"'


def _backend(account: str | None) -> Any:
    if account is None:
        return None
    try:
        from moto.s3.models import s3_backends

        return s3_backends[account]["aws"]
    except Exception:  # moto's internals moved: go through HTTP
        return None


class Objects:
    """Objects fetched to local files, kept across queries by (account, bucket, key, ETag, size)."""

    def __init__(self, limit: int = CACHE_BYTES):
        self.limit = limit
        self.folder: Path | None = None
        self.files: OrderedDict[tuple[str, str, str, str, int], Path] = OrderedDict()
        self.size = 0
        self.made = 0
        self.lock = threading.Lock()

    def _kept(self, ident: tuple[str, str, str, str, int]) -> Path | None:
        with self.lock:
            path = self.files.get(ident)
            if path is not None:
                self.files.move_to_end(ident)
            return path

    def _keep(self, ident: tuple[str, str, str, str, int], body: bytes) -> Path:
        with self.lock:
            if self.folder is None:
                self.folder = Path(tempfile.mkdtemp(prefix="athena-objects-"))
                atexit.register(shutil.rmtree, self.folder, True)
            self.made += 1
            path = self.folder / f"{self.made}.object"
        path.write_bytes(body)
        with self.lock:
            if ident in self.files:  # another query fetched it meanwhile
                path.unlink()
                return self.files[ident]
            self.files[ident] = path
            self.size += ident[4]
            while self.size > self.limit and len(self.files) > 1:
                old, old_path = self.files.popitem(last=False)
                self.size -= old[4]
                old_path.unlink(missing_ok=True)
        return path

    def fetch(self, s3: Any, caller: Caller | None, bucket: str, key: str, target: Path) -> None:
        """The object as the caller may read it, hard-linked (or copied) to ``target``.

        ``authorise.readable_object`` decides in-process as S3 decides the caller's GetObject; what it does
        not serve is asked of S3 over HTTP (a GetObject as the caller), which fails the read as S3 refuses it.
        """
        try:
            found = authorise.readable_object(caller, bucket, key)
            if found is None or caller is None:
                target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                return
            with found.lock:  # moto's etag reads the object's buffer outside of its own lock
                etag, size = found.etag, found.contentsize
            ident = (str(caller.account), bucket, key, etag, size)
            path = self._kept(ident) or self._keep(ident, found.value)
            try:
                os.link(path, target)
            except FileNotFoundError:  # evicted meanwhile
                target.write_bytes(found.value)
            except OSError:  # another file system
                shutil.copyfile(path, target)
        except Exception as exc:
            raise QueryFailed("HIVE_CANNOT_OPEN_SPLIT", f"Error opening Hive split s3://{bucket}/{key}: {exc}") from exc


OBJECTS = Objects()


def put_extra(config: dict[str, Any]) -> dict[str, Any]:
    """The PutObject parameters of a work group's result configuration."""
    extra: dict[str, Any] = {}
    option = (config.get("EncryptionConfiguration") or {}).get("EncryptionOption")
    if option == "SSE_S3":
        extra["ServerSideEncryption"] = "AES256"
    elif option in ("SSE_KMS", "CSE_KMS"):
        extra["ServerSideEncryption"] = "aws:kms"
        if config["EncryptionConfiguration"].get("KmsKey"):
            extra["SSEKMSKeyId"] = config["EncryptionConfiguration"]["KmsKey"]
    if config.get("ExpectedBucketOwner"):
        extra["ExpectedBucketOwner"] = config["ExpectedBucketOwner"]
    if (config.get("AclConfiguration") or {}).get("S3AclOption") == "BUCKET_OWNER_FULL_CONTROL":
        extra["ACL"] = "bucket-owner-full-control"
    return extra


def _authorised(s3: Any, bucket: str, key: str, extra: dict[str, Any], content_type: str) -> bool:
    """Whether S3 authorises the caller's PutObject of the key, asked without writing it; raises what that
    PutObject would have raised (AccessDenied, NoSuchBucket...). False: the probe was written after all."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"", ContentType=content_type, IfMatch=_PROBE_ETAG, **extra)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "PreconditionFailed"):
            return True
        raise
    return False  # S3 (or moto) ignored If-Match: the real put overwrites the empty object


def _put_in_process(backend: Any, bucket: str, key: str, body: bytes, extra: dict[str, Any], content_type: str) -> None:
    """What moto's PutObject does with these headers, done on moto's S3 of this process."""
    from moto.s3.models import get_canned_acl

    target = backend.get_bucket(bucket)
    lock_until = lock_mode = None
    if target.object_lock_enabled and target.has_default_lock:
        lock_until, lock_mode = target.default_retention(), target.default_lock_mode
    new_key = backend.put_object(
        bucket,
        key,
        body,
        storage="STANDARD",
        encryption=extra.get("ServerSideEncryption"),
        kms_key_id=extra.get("SSEKMSKeyId"),
        lock_mode=lock_mode,
        lock_until=lock_until,
    )
    new_key.set_metadata({"Content-Type": content_type})
    new_key.set_acl(get_canned_acl(extra["ACL"]) if "ACL" in extra else target.acl)


class ResultPut:
    """Result objects (URL, content type) put as the caller, with the work group's encryption, owner and ACL.

    In-process (``size`` of 1 MiB or more), S3 is asked whether it authorises each PutObject as soon as the
    writer exists (the probes run while the CSV is being written), and nothing is written unless it authorises
    every one."""

    def __init__(self, s3: Any, account: str | None, targets: list[tuple[str, str]], config: dict[str, Any], size: int):
        self.s3, self.extra = s3, put_extra(config)
        self.targets = [(*split_s3_url(url), content_type) for url, content_type in targets]
        self.targets = [(bucket, key.rstrip("/"), content_type) for bucket, key, content_type in self.targets]
        self.backend = _backend(account) if size >= IN_PROCESS_PUT_BYTES else None
        self.probes: list[Future[bool]] = []
        if self.backend is not None:
            pool = ThreadPoolExecutor(max_workers=len(self.targets), thread_name_prefix="athena-probe")
            self.probes = [pool.submit(_authorised, s3, b, k, self.extra, t) for b, k, t in self.targets]
            pool.shutdown(wait=False)

    def put(self, bodies: list[bytes]) -> None:
        s3, extra, backend = self.s3, self.extra, self.backend
        bucket, key = self.targets[0][:2]
        try:
            for (bucket, key, _type), probe in zip(self.targets, self.probes, strict=False):  # noqa: B007
                if not probe.result():
                    backend = None
            for (bucket, key, content_type), body in zip(self.targets, bodies, strict=True):
                try:
                    if backend is not None:
                        _put_in_process(backend, bucket, key, body, extra, content_type)
                        continue
                except Exception:  # moto's internals moved: put over HTTP
                    backend = None
                s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **extra)
        except s3.exceptions.NoSuchBucket as exc:
            raise QueryFailed("", f"Unable to verify/create output bucket {bucket}") from exc
        except Exception as exc:
            raise QueryFailed(
                "",
                f"Access denied when writing output to url: s3://{bucket}/{key} . Please ensure "
                f"you are allowed to access the S3 bucket. ({exc})",
            ) from exc


def put_objects(s3: Any, account: str | None, objects: list[tuple[str, bytes, str]], config: dict[str, Any]) -> None:
    """Put result objects (URL, body, content type) as the caller (see ``ResultPut``)."""
    targets = [(url, content_type) for url, _body, content_type in objects]
    ResultPut(s3, account, targets, config, sum(len(body) for _url, body, _type in objects)).put(
        [body for _url, body, _type in objects]
    )
