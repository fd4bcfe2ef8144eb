"""One query execution: Trino SQL resolved through Glue, run in DuckDB, results written to S3 as the caller."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from emulator.engines.athena.authorise import Caller
from emulator.engines.athena.catalog import Catalog
from emulator.engines.athena.ddl import Ddl
from emulator.engines.athena.errors import QueryFailed
from emulator.engines.athena.results import ResultSet, duck_column, java_double
from emulator.engines.athena.storage import ResultPut, put_objects
from emulator.engines.athena.translate import (
    athena_column_names,
    duckdb_failure,
    parse,
    reject_hidden_columns,
    strip_comments,
    to_duckdb,
)
from emulator.engines.athena.trino_functions import trino_functions
from emulator.engines.athena.trino_types import trino_result_types
from emulator.engines.glue_crawler.scan import client, s3_filesystem

DML = ("SELECT", "WITH", "VALUES", "TABLE", "(")
DDL = ("CREATE", "DROP", "ALTER", "DESCRIBE", "SHOW", "MSCK")
# Results of this many rows or more are written as CSV by two threads.
CSV_SPLIT_ROWS = 20_000


def statement_type(query: str) -> str:
    word = strip_comments(query).split(None, 1)[0].upper() if strip_comments(query) else ""
    if word.startswith(DML):
        return "DML"
    if word in DDL:
        return "DDL"
    return "UTILITY" if word == "EXPLAIN" else "DML"


@contextlib.contextmanager
def _interrupted_when_cancelled(run: Any, con: duckdb.DuckDBPyConnection) -> Any:
    """Interrupt DuckDB as soon as the run is CANCELLED, also when StopQueryExecution came before the query began.

    ``connection.interrupt()`` only stops a statement that is running: a stop
    that lands between connecting and executing would otherwise leave the
    query running (and holding its memory) long after Athena said CANCELLED.
    """
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            if run.state == "CANCELLED":
                con.interrupt()

    watcher = threading.Thread(target=watch, name="athena-cancel", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


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
    account: str | None = None
    state: str = "QUEUED"
    reason: str | None = None
    error: dict[str, Any] | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    completed: float | None = None
    scanned: int = 0
    result: ResultSet | None = None
    connection: duckdb.DuckDBPyConnection | None = None
    phases: dict[str, float] = field(default_factory=dict)

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


def csv_bytes(table: pa.Table) -> bytes:
    """The ``.csv`` of text columns as Athena writes it: a header, every value in double quotes (``"`` doubled),
    NULL an empty field. pyarrow's writer, a half per core: DuckDB's COPY ... (FORCE_QUOTE *) scans every value
    for quotes and takes 5x longer over a 20 MB result."""

    def write(part: pa.Table, header: bool) -> pa.Buffer:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(part, sink, pacsv.WriteOptions(include_header=header, quoting_style="all_valid"))
        return sink.getvalue()

    if table.num_rows < CSV_SPLIT_ROWS:
        return write(table, True).to_pybytes()
    half = table.num_rows // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(write, [table.slice(0, half), table.slice(half)], [True, False]))
    return b"".join(memoryview(part) for part in parts)


def _select(
    con: duckdb.DuckDBPyConnection, sql: str, phases: dict[str, float], ran: Callable[[int], None]
) -> ResultSet:
    """Run a SELECT; DuckDB gives Trino's text of each value, pyarrow writes the CSV, unless a column is nested."""
    relation = con.sql(sql)
    names, types = relation.columns, [str(t) for t in relation.types]
    specs = [duck_column(n, t) for n, t in zip(names, types, strict=True)]
    if any(spec is None for spec in specs) or len({n.lower() for n in names}) != len(names):
        table = relation.to_arrow_table()
        ran(table.nbytes)
        return ResultSet.from_arrow(table)
    if any(t in ("DOUBLE", "FLOAT") for t in types):
        with contextlib.suppress(duckdb.Error):  # registered by an earlier statement of this connection
            con.create_function("__java_double", java_double, ["DOUBLE"], "VARCHAR")
    select = ", ".join(
        f'{expr} AS "{n.replace(chr(34), chr(34) * 2)}"' for n, (_i, expr) in zip(names, specs, strict=True)
    )
    mark = time.perf_counter()
    text = con.sql(f"SELECT {select} FROM ({sql}) AS __result").to_arrow_table()
    phases["duckdb_query_s"] = round(time.perf_counter() - mark, 3)
    ran(text.nbytes)  # the result's size is known: its puts can be authorised while the CSV is written
    mark = time.perf_counter()
    raw = csv_bytes(text)
    phases["csv_s"] = round(time.perf_counter() - mark, 3)
    return ResultSet([info for info, _e in specs], None, True, raw)


SETTINGS = ("SET threads TO 2", "SET TimeZone = 'UTC'", "SET parquet_metadata_cache = true")
_spare: list[duckdb.DuckDBPyConnection] = []
_spare_lock = threading.Lock()


def _new_connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for setting in SETTINGS:
        con.execute(setting)
    return con


def _make_spare() -> None:
    con = _new_connection()
    with _spare_lock:
        if not _spare:
            _spare.append(con)
            return
    con.close()


def _connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB of its own for one query (its temporary views, functions and settings are the
    query's alone). Opening a database costs ~10 ms: the next query's is opened ahead, on a thread, as soon
    as this one is taken; an unused one is never shared, it is only ready earlier."""
    with _spare_lock:
        con = _spare.pop() if _spare else None
    threading.Thread(target=_make_spare, name="athena-duckdb-spare", daemon=True).start()
    return con if con is not None else _new_connection()


def _binder(con: duckdb.DuckDBPyConnection) -> Callable[[str], list[str]]:
    """DuckDB's result column types of a statement, bound over the tables registered in ``con``."""
    return lambda sql: [str(t) for t in con.sql(sql).types]


def execute(host: Any, run: Run, log: logging.Logger) -> None:
    """Run the query; leaves run.state SUCCEEDED, FAILED or CANCELLED (never raises)."""
    if run.state == "CANCELLED":
        return
    run.state, run.started = "RUNNING", time.time()
    con = _connection()
    run.connection = con
    catalogs: list[Catalog] = []
    try:
        glue = client(host.ctx, "glue", run.region, run.credentials)
        s3 = client(host.ctx, "s3", run.region, run.credentials)
        fs = s3_filesystem(host.ctx, run.credentials)
        caller = Caller.of(host.ctx, run.credentials, run.region, run.account)
        catalog = Catalog(glue, fs, con, log, s3=s3, cutoff=run.cutoff, caller=caller)
        catalogs.append(catalog)
        text = strip_comments(run.query)
        if statement_type(run.query) == "DML" and text.split(None, 1)[0].upper().startswith(DML):
            mark = time.perf_counter()
            try:
                tree = catalog.resolve(reject_hidden_columns(parse(run.query)), run.database)
            finally:
                run.phases["resolve_and_fetch_s"] = round(time.perf_counter() - mark, 3)
                run.phases.update(catalog.phases)
                run.scanned = min(catalog.scanned, run.cutoff) if run.cutoff else catalog.scanned
            sql = to_duckdb(athena_column_names(trino_result_types(trino_functions(tree), _binder(con))))
            targets = [(run.output, "text/csv"), (run.output + ".metadata", "application/octet-stream")]
            writer: list[ResultPut] = []

            def result_put(size: int) -> ResultPut:
                return ResultPut(s3, run.account, targets, run.result_config, size)

            mark = time.perf_counter()
            try:
                with _interrupted_when_cancelled(run, con):
                    run.result = _select(con, sql, run.phases, lambda size: writer.append(result_put(size)))
            except duckdb.InterruptException as exc:
                raise QueryFailed("", "Query cancelled by user", state="CANCELLED") from exc
            except duckdb.Error as exc:
                raise duckdb_failure(exc) from exc
            run.phases["duckdb_s"] = round(time.perf_counter() - mark, 3)
            if run.state == "CANCELLED":
                return
            mark = time.perf_counter()
            put = writer[0] if writer else result_put(0)
            put.put([run.result.csv(), run.result.metadata()])
            run.phases["results_put_s"] = round(time.perf_counter() - mark, 3)
        elif statement_type(run.query) == "DDL":
            first = text.split(None, 1)[0].upper()
            is_view = re.match(r"CREATE\s+(OR\s+REPLACE\s+)?VIEW\s", text, re.IGNORECASE)
            tree = parse(text) if first in ("CREATE", "DROP", "DESCRIBE") and not is_view else None

            def schema_of(body: str, database: str) -> pa.Schema:
                catalogs.append(Catalog(glue, fs, con, log, s3=s3, caller=caller))
                resolved = catalogs[-1].resolve(parse(body), database)
                try:
                    typed = trino_result_types(trino_functions(resolved), _binder(con))
                    return con.sql(to_duckdb(typed)).limit(0).to_arrow_table().schema
                except duckdb.Error as exc:
                    raise duckdb_failure(exc) from exc

            def lister(location: str) -> list[tuple[str, int]]:
                return catalog._list(location)

            run.result = Ddl(glue, run.database, schema_of, lister).run(text, tree)
            if run.result is not None and run.result.rows:
                put_objects(s3, run.account, [(run.output, run.result.text(), "text/plain")], run.result_config)
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
        for used in catalogs:
            used.close()
