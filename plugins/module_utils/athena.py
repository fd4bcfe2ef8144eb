# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the Athena modules of smartstream.pipeline: SQL text, Presto views, running a statement."""

from __future__ import annotations

import base64
import hashlib
import json
import time

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import wait_for

PRESTO_VIEW_PREFIX = "/* Presto View: "
PRESTO_VIEW_SUFFIX = " */"
DATA_CATALOG = "awsdatacatalog"
# Statements whose first keyword only reads: they change nothing.
READ_KEYWORDS = frozenset(("select", "with", "values", "show", "describe", "desc", "explain", "table"))
FAILED_STATES = ("FAILED", "CANCELLED")


# --------------------------------------------------------------------------- SQL text
def _quoted_end(text, start):
    """Index just past the quoted string or identifier opening at ``start`` ('' or "" escapes the quote)."""
    quote, j, n = text[start], start + 1, len(text)
    while j < n:
        if text[j] == quote:
            if j + 1 < n and text[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return n


def strip_comments(sql):
    """``sql`` without its ``--`` and ``/* */`` comments; quoted strings and identifiers are kept as written."""
    out = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in ("'", '"'):
            j = _quoted_end(sql, i)
            out.append(sql[i:j])
            i = j
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
            out.append(" ")
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def normalise_sql(sql):
    """Comparable form of a statement: comments dropped, runs of whitespace outside quotes made one space,
    no space inside brackets or around commas, no trailing semicolon. Case is kept (literals are case-sensitive)."""
    text = strip_comments(sql or "")
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in ("'", '"'):
            j = _quoted_end(text, i)
            out.append(text[i:j])
            i = j
        elif c.isspace():
            while i < n and text[i].isspace():
                i += 1
            out.append(" ")
        else:
            out.append(c)
            i += 1
    flat = "".join(out)
    # Spacing around brackets and commas carries no meaning outside quotes; the quoted parts were kept
    # whole above, so only unquoted text is touched here.
    pieces = _split_quoted(flat)
    for k in range(0, len(pieces), 2):
        piece = pieces[k]
        for before, after in (("( ", "("), (" )", ")"), (" ,", ","), (", ", ",")):
            while before in piece:
                piece = piece.replace(before, after)
        pieces[k] = piece
    return "".join(pieces).strip().rstrip(";").strip()


def _split_quoted(text):
    """[unquoted, quoted, unquoted, ...] pieces of ``text``."""
    pieces, start, i, n = [], 0, 0, len(text)
    while i < n:
        c = text[i]
        if c in ("'", '"'):
            j = _quoted_end(text, i)
            pieces.extend([text[start:i], text[i:j]])
            start = i = j
        else:
            i += 1
    pieces.append(text[start:])
    return pieces


def sql_digest(sql):
    """SHA-256 of the normalised statement: equal for statements that differ only in comments and spacing."""
    return hashlib.sha256(normalise_sql(sql).encode("utf-8")).hexdigest()


def text_digest(text):
    """SHA-256 of a text exactly as stored."""
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()


def first_keyword(sql):
    """The statement's first keyword, lower case ('' for an empty statement)."""
    words = normalise_sql(sql).lstrip("(").split(None, 1)
    return words[0].lower().rstrip("(") if words else ""


def is_read_only(sql):
    """Whether the statement only reads (SELECT, WITH ... SELECT, SHOW, DESCRIBE, EXPLAIN, VALUES)."""
    return first_keyword(sql) in READ_KEYWORDS


def quote_identifier(name):
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------- Presto views in the Glue catalog
def decode_presto_view(view_original_text):
    """The JSON document Athena keeps in a view's ``ViewOriginalText`` (``/* Presto View: <base64> */``).

    Raises ValueError when the text is not a Presto view (a Hive or Spark view keeps plain SQL there).
    """
    text = (view_original_text or "").strip()
    if not (text.startswith(PRESTO_VIEW_PREFIX) and text.endswith(PRESTO_VIEW_SUFFIX)):
        raise ValueError("not a Presto view text")
    encoded = text[len(PRESTO_VIEW_PREFIX) : -len(PRESTO_VIEW_SUFFIX)].strip()
    try:
        doc = json.loads(base64.b64decode(encoded, validate=True).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"unreadable Presto view text: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("originalSql"), str):
        raise ValueError("Presto view text without originalSql")
    return doc


def encode_presto_view(original_sql, schema, columns, catalog=DATA_CATALOG):
    """``ViewOriginalText`` of a view as Athena writes it; ``columns`` is [{"name", "type"}] in Presto types."""
    doc = {
        "originalSql": original_sql,
        "catalog": catalog,
        "schema": schema,
        "columns": [{"name": c["name"], "type": c["type"]} for c in columns],
    }
    encoded = base64.b64encode(json.dumps(doc, separators=(",", ":")).encode("utf-8")).decode("ascii")
    return f"{PRESTO_VIEW_PREFIX}{encoded}{PRESTO_VIEW_SUFFIX}"


def get_table(glue, database, name):
    """The Glue table (or view) ``database.name``, or None when there is none."""
    try:
        return glue.get_table(aws_retry=True, DatabaseName=database, Name=name)["Table"]
    except is_boto3_error_code("EntityNotFoundException"):
        return None


def get_all_tables(glue, database):
    """Every Glue table (and view) of ``database`` by name, in one listing; None when the database does not exist."""
    tables = {}
    kwargs = {"DatabaseName": database}
    try:
        while True:
            page = glue.get_tables(aws_retry=True, **kwargs)
            tables.update((table["Name"], table) for table in page.get("TableList", []))
            if not page.get("NextToken"):
                return tables
            kwargs["NextToken"] = page["NextToken"]
    except is_boto3_error_code("EntityNotFoundException"):
        return None


def database_exists(glue, database):
    try:
        glue.get_database(aws_retry=True, Name=database)
        return True
    except is_boto3_error_code("EntityNotFoundException"):
        return False


# --------------------------------------------------------------------------- running a statement
def workgroup_problem(athena, workgroup):
    """Why statements cannot run in ``workgroup`` (it is missing or disabled), or None."""
    try:
        group = athena.get_work_group(aws_retry=True, WorkGroup=workgroup).get("WorkGroup")
    except is_boto3_error_code("InvalidRequestException"):
        return f"Athena workgroup {workgroup} does not exist: create it first (the analytics layer)"
    if group is None:
        return f"Athena workgroup {workgroup} does not exist: create it first (the analytics layer)"
    if group.get("State", "ENABLED") != "ENABLED":
        return f"Athena workgroup {workgroup} is disabled: enable it to run statements"
    return None


def failure_reason(execution):
    """Athena's reason for a FAILED or CANCELLED execution (None while it may still succeed)."""
    status = execution.get("Status", {})
    if status.get("State") not in FAILED_STATES:
        return None
    error = status.get("AthenaError") or {}
    return status.get("StateChangeReason") or error.get("ErrorMessage") or f"the query ended {status['State']}"


def start_query(athena, sql, workgroup, database=None):
    """Start ``sql`` in ``workgroup`` (its enforced settings apply); returns the QueryExecutionId."""
    request = {"QueryString": sql, "WorkGroup": workgroup}
    if database:
        request["QueryExecutionContext"] = {"Database": database, "Catalog": "AwsDataCatalog"}
    return athena.start_query_execution(aws_retry=True, **request)["QueryExecutionId"]


def wait_for_query(athena, execution_id, timeout, delay, sleep=time.sleep, clock=time.monotonic):
    """Poll GetQueryExecution until SUCCEEDED; raises WaitFailed (with Athena's reason) or WaitTimeout."""
    return wait_for(
        lambda: athena.get_query_execution(aws_retry=True, QueryExecutionId=execution_id)["QueryExecution"],
        lambda e: e["Status"]["State"] == "SUCCEEDED",
        f"Athena query {execution_id}",
        timeout=timeout,
        delay=delay,
        failed=failure_reason,
        sleep=sleep,
        clock=clock,
    )


def describe_execution(execution):
    """The module's view of a finished execution."""
    stats = execution.get("Statistics") or {}
    result = execution.get("ResultConfiguration") or {}
    return {
        "query_execution_id": execution["QueryExecutionId"],
        "state": execution["Status"]["State"],
        "statement_type": execution.get("StatementType", ""),
        "output_location": result.get("OutputLocation", ""),
        "data_scanned_in_bytes": int(stats.get("DataScannedInBytes", 0)),
        "engine_execution_time_in_millis": int(stats.get("EngineExecutionTimeInMillis", 0)),
    }


def fetch_results(athena, execution, max_rows, page_size=1000):
    """(columns, rows, truncated) of a SUCCEEDED execution: at most ``max_rows`` rows of strings (None for NULL).

    GetQueryResults repeats the column names as the first row of a SELECT (statement type DML); that row is
    dropped. Pages of up to ``page_size`` rows are read until ``max_rows`` or the end.
    """
    execution_id = execution["QueryExecutionId"]
    columns, rows, token, first_page = [], [], None, True
    skip_header = execution.get("StatementType") == "DML"
    while True:
        wanted = max(1, min(page_size, max_rows - len(rows) + (1 if first_page and skip_header else 0)))
        request = {"QueryExecutionId": execution_id, "MaxResults": wanted}
        if token:
            request["NextToken"] = token
        page = athena.get_query_results(aws_retry=True, **request)
        result_set = page.get("ResultSet", {})
        if first_page:
            info = result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            columns = [{"name": c.get("Label") or c.get("Name"), "type": c.get("Type", "")} for c in info]
        page_rows = [[d.get("VarCharValue") for d in r.get("Data", [])] for r in result_set.get("Rows", [])]
        if first_page and skip_header and page_rows:
            page_rows = page_rows[1:]
        first_page = False
        rows.extend(page_rows)
        token = page.get("NextToken")
        if len(rows) >= max_rows:
            return columns, rows[:max_rows], bool(token) or len(rows) > max_rows
        if not token:
            return columns, rows, False
