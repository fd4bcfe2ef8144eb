"""One query execution: Trino SQL resolved through Glue, run in DuckDB, results written to S3 as the caller."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from emulator.engines.athena.catalog import Catalog
from emulator.engines.athena.ddl import Ddl
from emulator.engines.athena.errors import QueryFailed
from emulator.engines.athena.results import ResultSet
from emulator.engines.athena.translate import duckdb_failure, parse, strip_comments, to_duckdb
from emulator.engines.glue_crawler.scan import client, s3_filesystem, split_s3_url

DML = ("SELECT", "WITH", "VALUES", "TABLE", "(")
DDL = ("CREATE", "DROP", "ALTER", "DESCRIBE", "SHOW", "MSCK")
CUTOFF_REASON = "Bytes scanned limit was exceeded"


def statement_type(query: str) -> str:
    word = strip_comments(query).split(None, 1)[0].upper() if strip_comments(query) else ""
    if word.startswith(DML):
        return "DML"
    if word in DDL:
        return "DDL"
    return "UTILITY" if word == "EXPLAIN" else "DML"


@dataclass
class Run:
    """What the engine keeps on a moto Execution (``execution.engine``)."""

    query: str
    database: str
    output: str  # full s3:// URL of the result object
    result_config: dict[str, Any]
    cutoff: int | None
    credentials: dict[str, Any] | None
    region: str
    state: str = "QUEUED"
    reason: str | None = None
    error: dict[str, Any] | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    completed: float | None = None
    scanned: int = 0
    result: ResultSet | None = None
    connection: duckdb.DuckDBPyConnection | None = None

    def statistics(self) -> dict[str, Any]:
        now = time.time()
        start = self.started or now
        end = self.completed or now
        engine_ms = int((end - start) * 1000) if self.started else 0
        queue_ms = int((start - self.submitted) * 1000)
        return {
            "EngineExecutionTimeInMillis": engine_ms,
            "DataScannedInBytes": self.scanned,
            "TotalExecutionTimeInMillis": int((end - self.submitted) * 1000),
            "QueryQueueTimeInMillis": queue_ms,
            "ServicePreProcessingTimeInMillis": 0,
            "QueryPlanningTimeInMillis": 0,
            "ServiceProcessingTimeInMillis": 0,
            "ResultReuseInformation": {"ReusedPreviousResult": False},
        }


def _put(s3: Any, url: str, body: bytes, config: dict[str, Any], content_type: str) -> None:
    bucket, key = split_s3_url(url)
    key = key.rstrip("/")
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
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **extra)
    except s3.exceptions.NoSuchBucket as exc:
        raise QueryFailed("", f"Unable to verify/create output bucket {bucket}") from exc
    except Exception as exc:
        raise QueryFailed(
            "",
            f"Access denied when writing output to url: s3://{bucket}/{key} . Please ensure "
            f"you are allowed to access the S3 bucket. ({exc})",
        ) from exc


def execute(host: Any, run: Run, log: logging.Logger) -> None:
    """Run the query; leaves run.state SUCCEEDED, FAILED or CANCELLED (never raises)."""
    if run.state == "CANCELLED":
        return
    run.state, run.started = "RUNNING", time.time()
    con = duckdb.connect()
    run.connection = con
    try:
        con.execute("SET threads TO 2")
        glue = client(host.ctx, "glue", run.region, run.credentials)
        s3 = client(host.ctx, "s3", run.region, run.credentials)
        fs = s3_filesystem(host.ctx, run.credentials)
        catalog = Catalog(glue, fs, con, log)
        text = strip_comments(run.query)
        if statement_type(run.query) == "DML" and text.split(None, 1)[0].upper().startswith(DML):
            tree = catalog.resolve(parse(run.query), run.database)
            run.scanned = catalog.scanned
            if run.cutoff and catalog.scanned > run.cutoff:
                run.scanned = run.cutoff
                raise QueryFailed("", CUTOFF_REASON, state="CANCELLED")
            sql = to_duckdb(tree)
            try:
                table = con.sql(sql).to_arrow_table()
            except duckdb.InterruptException as exc:
                raise QueryFailed("", "Query cancelled by user", state="CANCELLED") from exc
            except duckdb.Error as exc:
                raise duckdb_failure(exc) from exc
            run.result = ResultSet.from_arrow(table)
            if run.state == "CANCELLED":
                return
            _put(s3, run.output, run.result.csv(), run.result_config, "text/csv")
            _put(s3, run.output + ".metadata", run.result.metadata(), run.result_config, "application/octet-stream")
        elif statement_type(run.query) == "DDL":
            first = text.split(None, 1)[0].upper()
            is_view = re.match(r"CREATE\s+(OR\s+REPLACE\s+)?VIEW\s", text, re.IGNORECASE)
            tree = parse(text) if first in ("CREATE", "DROP", "DESCRIBE") and not is_view else None

            def schema_of(body: str, database: str) -> pa.Schema:
                resolved = Catalog(glue, fs, con, log).resolve(parse(body), database)
                try:
                    return con.sql(to_duckdb(resolved)).limit(0).to_arrow_table().schema
                except duckdb.Error as exc:
                    raise duckdb_failure(exc) from exc

            def lister(location: str) -> list[tuple[str, int]]:
                return catalog._list(location)

            run.result = Ddl(glue, run.database, schema_of, lister).run(text, tree)
            if run.result is not None and run.result.rows:
                _put(s3, run.output, run.result.text(), run.result_config, "text/plain")
        else:
            parse(run.query)  # a statement that is not even SQL fails as a syntax error
            raise QueryFailed("NOT_SUPPORTED", f"the local Athena does not run this statement: {text[:80]}")
        run.state = "SUCCEEDED" if run.state != "CANCELLED" else run.state
    except QueryFailed as exc:
        if run.state != "CANCELLED":
            run.state, run.reason = exc.state, exc.reason
            run.error = {
                "ErrorCategory": exc.category,
                "ErrorType": 1006 if exc.state == "FAILED" else 1101,
                "Retryable": False,
                "ErrorMessage": exc.reason,
            }
        log.info("query failed: %s", exc.reason)
    except Exception as exc:  # never a crash: the query fails with what went wrong
        log.exception("query error")
        run.state, run.reason = "FAILED", f"GENERIC_INTERNAL_ERROR: {type(exc).__name__}: {exc}"
        run.error = {"ErrorCategory": 1, "ErrorType": 1003, "Retryable": False, "ErrorMessage": run.reason}
    finally:
        run.completed = time.time()
        run.connection = None
        con.close()
