"""Logic of athena_view, athena_named_query and athena_query: SQL comparison, Presto view text, plans; Glue through moto in-process.

moto's Athena accepts every statement and runs none, so the tests stand in for Athena's DDL where a view
must appear in the catalog (FakeAthenaDDL); the integration target runs against the emulator's engine.
"""

from __future__ import annotations

import contextlib

import boto3
import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils import athena as util
from ansible_collections.smartstream.pipeline.plugins.modules import athena_named_query as nq
from ansible_collections.smartstream.pipeline.plugins.modules import athena_query as query_module
from ansible_collections.smartstream.pipeline.plugins.modules import athena_view as view_module
from moto import mock_aws

QUERY = """-- Latest change per employee id
SELECT id, department
FROM "db"."employees"
WHERE _op <> 'delete'  -- deletes dropped
ORDER BY id;
"""
# What Trino's formatter makes of QUERY (CREATE VIEW keeps the formatted query, not the text as written).
TRINO_FORMATTED = 'SELECT\n  id\n, department\nFROM\n  "db"."employees"\nWHERE (_op <> \'delete\')\nORDER BY id ASC\n'
COLUMNS = [{"name": "id", "type": "integer"}, {"name": "department", "type": "varchar"}]


# ------------------------------------------------------------------ SQL text
def test_normalise_drops_comments_spacing_and_semicolon_but_not_literals():
    assert util.normalise_sql(QUERY) == (
        'SELECT id,department FROM "db"."employees" WHERE _op <> \'delete\' ORDER BY id'
    )
    assert util.normalise_sql("SELECT '--  not  a comment' , \"a  b\" FROM t") == (
        "SELECT '--  not  a comment',\"a  b\" FROM t"
    )
    assert util.normalise_sql("SELECT count( * ) /* why */ FROM t") == "SELECT count(*) FROM t"
    assert util.normalise_sql("SELECT 'it''s' FROM t") == "SELECT 'it''s' FROM t"
    assert util.sql_digest(QUERY) == util.sql_digest(
        'SELECT id,department FROM "db"."employees" WHERE _op <> \'delete\' ORDER BY id'
    )
    assert util.sql_digest("SELECT 'a b'") != util.sql_digest("SELECT 'a  b'")


@pytest.mark.parametrize(
    ("sql", "read_only"),
    [
        ("select 1", True),
        ("  -- comment\n WITH x AS (SELECT 1) SELECT * FROM x", True),
        ("(SELECT 1) UNION (SELECT 2)", True),
        ("SHOW TABLES", True),
        ("DESCRIBE employees", True),
        ("CREATE OR REPLACE VIEW v AS SELECT 1", False),
        ("INSERT INTO t SELECT 1", False),
        ("UNLOAD (SELECT 1) TO 's3://b/p/' WITH (format = 'PARQUET')", False),
        ("DROP VIEW IF EXISTS v", False),
    ],
)
def test_read_only_statements_are_recognised(sql, read_only):
    assert util.is_read_only(sql) is read_only


# ------------------------------------------------------------------ Presto view text
def test_presto_view_text_round_trips_and_rejects_other_texts():
    text = util.encode_presto_view("SELECT 1 AS x", "db", [{"name": "x", "type": "integer"}])
    assert text.startswith("/* Presto View: ") and text.endswith(" */")

    doc = util.decode_presto_view(text)

    assert doc == {
        "originalSql": "SELECT 1 AS x",
        "catalog": "awsdatacatalog",
        "schema": "db",
        "columns": [{"name": "x", "type": "integer"}],
    }
    for bad in ("SELECT 1", "/* Presto View: not-base64! */", "/* Presto View: e30= */", None):
        with pytest.raises(ValueError):
            util.decode_presto_view(bad)


def test_a_hive_view_is_read_as_plain_sql_and_a_table_is_refused():
    hive = {"TableType": "VIRTUAL_VIEW", "ViewOriginalText": "SELECT 1"}
    assert view_module.read_view(hive)["query"] == "SELECT 1"
    with pytest.raises(view_module.NotAView):
        view_module.read_view({"TableType": "EXTERNAL_TABLE"})


# ------------------------------------------------------------------ comparison and plan
def stored(original_sql, **params):
    return view_module.read_view(
        {
            "TableType": "VIRTUAL_VIEW",
            "ViewOriginalText": util.encode_presto_view(original_sql, "db", COLUMNS),
            "Parameters": {"presto_view": "true", **params},
        }
    )


def test_a_view_stored_as_written_matches_its_query_whatever_the_spacing():
    assert view_module.matches(
        stored(QUERY), 'SELECT id, department FROM "db"."employees" WHERE _op <> \'delete\' ORDER BY id'
    )
    assert not view_module.matches(stored(QUERY), QUERY.replace("department", "salary"))


def test_a_reformatted_view_matches_through_the_recorded_digests_and_drift_is_seen():
    recorded = {
        view_module.QUERY_DIGEST: util.sql_digest(QUERY),
        view_module.STORED_DIGEST: util.text_digest(TRINO_FORMATTED),
    }
    assert not view_module.matches(stored(TRINO_FORMATTED), QUERY)  # without the digests: differs
    assert view_module.matches(stored(TRINO_FORMATTED, **recorded), QUERY)
    assert not view_module.matches(stored(TRINO_FORMATTED, **recorded), QUERY.replace("id,", "id, salary,"))
    # Someone replaced the view in the console: the stored SQL no longer has the recorded digest.
    assert not view_module.matches(stored("SELECT 1", **recorded), QUERY)


@pytest.mark.parametrize(
    ("state", "current", "missing", "action"),
    [
        ("present", None, [], "create"),
        ("present", "SELECT 1", [], "replace"),
        ("present", QUERY, [], "none"),
        ("present", None, ["employees"], "none"),
        ("present", "SELECT 1", ["employees"], "none"),
        ("absent", QUERY, [], "drop"),
        ("absent", None, [], "none"),
    ],
)
def test_plan(state, current, missing, action):
    view = stored(current) if current else None
    assert view_module.plan(state, view, QUERY if state == "present" else None, missing) == action


def test_statements_quote_names_and_keep_a_leading_comment_on_its_line():
    assert view_module.statement("create", "db", "v", QUERY).startswith('CREATE OR REPLACE VIEW "db"."v" AS\n-- Latest')
    assert not view_module.statement("create", "db", "v", QUERY).endswith(";")
    assert view_module.statement("drop", "db", "v") == 'DROP VIEW IF EXISTS "db"."v"'


# ------------------------------------------------------------------ ensure() against moto's Glue
class NoRetry:
    """A boto3 client that accepts (and ignores) the aws_retry argument of the wrapped clients."""

    def __init__(self, client):
        self._client = client
        self.calls = []

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args, aws_retry=None, **kwargs):
            self.calls.append(name)
            return attr(*args, **kwargs)

        return call


class FakeAthenaDDL(NoRetry):
    """moto's Athena, plus what the Athena engine does with view DDL: the view lands in Glue, reformatted."""

    def __init__(self, client, glue, formatted=TRINO_FORMATTED):
        super().__init__(client)
        self.glue = glue
        self.formatted = formatted

    def start_query_execution(self, aws_retry=None, **kwargs):
        self.calls.append("start_query_execution")
        sql = kwargs["QueryString"]
        database = kwargs["QueryExecutionContext"]["Database"]
        name = sql.split(".", 1)[1].split()[0].strip('"')
        if sql.startswith("DROP VIEW"):
            self.glue.delete_table(DatabaseName=database, Name=name)
        else:
            view_table(self.glue, database, name, self.formatted)
        return self._client.start_query_execution(**kwargs)


def view_table(glue, database, name, original_sql):
    with contextlib.suppress(glue.exceptions.EntityNotFoundException):
        glue.delete_table(DatabaseName=database, Name=name)
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": name,
            "TableType": "VIRTUAL_VIEW",
            "Parameters": {"presto_view": "true", "comment": "Presto View"},
            "ViewOriginalText": util.encode_presto_view(original_sql, database, COLUMNS),
            "ViewExpandedText": "/* Presto View */",
            "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "int"}, {"Name": "department", "Type": "string"}]},
        },
    )


class FakeModule:
    def __init__(self, check_mode=False, **params):
        self.check_mode = check_mode
        self.warnings = []
        self.params = {
            "name": "current_employees",
            "database": "db",
            "workgroup": "wg",
            "state": "present",
            "query": QUERY,
            "require_tables": [],
            "wait_timeout": 10,
            "poll_interval": 1,
            **params,
        }

    def fail_json(self, **kwargs):
        raise RuntimeError(kwargs["msg"])

    def warn(self, message):
        self.warnings.append(message)


@pytest.fixture
def aws():
    with mock_aws():
        glue = boto3.client("glue", region_name="us-east-1")
        athena = boto3.client("athena", region_name="us-east-1")
        glue.create_database(DatabaseInput={"Name": "db"})
        athena.create_work_group(Name="wg", Configuration={"ResultConfiguration": {"OutputLocation": "s3://r/"}})
        yield glue, athena


def test_an_unchanged_view_makes_no_athena_call(aws):
    glue, athena = aws
    view_table(glue, "db", "current_employees", QUERY)
    client = NoRetry(athena)

    result, before = view_module.ensure(FakeModule(), client, NoRetry(glue), FakeModule().params)

    assert not result["changed"] and result["action"] == "none" and client.calls == []
    assert result["columns"] == COLUMNS and before == QUERY


def test_check_mode_reports_the_replacement_and_runs_nothing(aws):
    glue, athena = aws
    view_table(glue, "db", "current_employees", "SELECT 1 AS id")
    client = NoRetry(athena)
    module = FakeModule(check_mode=True)

    result, before = view_module.ensure(module, client, NoRetry(glue), module.params)

    assert result["changed"] and result["action"] == "replace" and client.calls == []
    assert before == "SELECT 1 AS id" and result["query"] == QUERY


def test_create_records_digests_so_a_reformatted_view_is_then_unchanged(aws):
    glue, athena = aws
    client = FakeAthenaDDL(athena, glue)
    module = FakeModule()

    created, _ = view_module.ensure(module, client, NoRetry(glue), module.params)
    again, _ = view_module.ensure(module, client, NoRetry(glue), module.params)

    assert created["changed"] and created["action"] == "create" and created["query_execution_id"]
    params = glue.get_table(DatabaseName="db", Name="current_employees")["Table"]["Parameters"]
    assert params["presto_view"] == "true" and params[view_module.QUERY_DIGEST] == util.sql_digest(QUERY)
    assert not again["changed"] and client.calls.count("start_query_execution") == 1

    changed = FakeModule(query=QUERY.replace("department", "salary"))
    replaced, before = view_module.ensure(changed, client, NoRetry(glue), changed.params)
    assert replaced["action"] == "replace" and before == TRINO_FORMATTED


def test_missing_tables_hold_the_view_back(aws):
    glue, athena = aws
    client = NoRetry(athena)
    module = FakeModule(require_tables=["employees"])

    result, _ = view_module.ensure(module, client, NoRetry(glue), module.params)

    assert not result["changed"] and result["missing_tables"] == ["employees"] and client.calls == []


def test_absent_drops_only_an_existing_view(aws):
    glue, athena = aws
    client = FakeAthenaDDL(athena, glue)
    module = FakeModule(state="absent", query=None)
    view_table(glue, "db", "current_employees", QUERY)

    dropped, _ = view_module.ensure(module, client, NoRetry(glue), module.params)
    again, _ = view_module.ensure(module, client, NoRetry(glue), module.params)

    assert dropped["changed"] and dropped["action"] == "drop"
    assert not again["changed"] and client.calls.count("start_query_execution") == 1


def test_clear_messages_for_a_missing_database_workgroup_or_a_table_in_the_way(aws):
    glue, athena = aws
    with pytest.raises(RuntimeError, match="Glue database nodb does not exist"):
        module = FakeModule(database="nodb")
        view_module.ensure(module, NoRetry(athena), NoRetry(glue), module.params)
    module = FakeModule(database="nodb", check_mode=True)
    assert view_module.ensure(module, NoRetry(athena), NoRetry(glue), module.params)[0]["changed"]

    with pytest.raises(RuntimeError, match="Athena workgroup nowg does not exist"):
        module = FakeModule(workgroup="nowg")
        view_module.ensure(module, NoRetry(athena), NoRetry(glue), module.params)

    glue.create_table(DatabaseName="db", TableInput={"Name": "employees", "TableType": "EXTERNAL_TABLE"})
    with pytest.raises(RuntimeError, match="is a EXTERNAL_TABLE table, not a view"):
        module = FakeModule(name="employees")
        view_module.ensure(module, NoRetry(athena), NoRetry(glue), module.params)


def test_a_bare_athena_is_reported_not_hidden(aws):
    glue, athena = aws  # moto's Athena: SUCCEEDED, and no view in the catalog
    module = FakeModule()

    result, _ = view_module.ensure(module, NoRetry(athena), NoRetry(glue), module.params)

    assert result["changed"] and module.warnings and "does not hold it" in module.warnings[0]


def test_a_failed_statement_fails_with_athenas_reason():
    class Failing:
        def get_work_group(self, **_):
            return {"WorkGroup": {"State": "ENABLED"}}

        def start_query_execution(self, **_):
            return {"QueryExecutionId": "q1"}

        def get_query_execution(self, **_):
            status = {"State": "FAILED", "StateChangeReason": "line 1:8: Column 'x' cannot be resolved"}
            return {"QueryExecution": {"QueryExecutionId": "q1", "Status": status}}

    with pytest.raises(RuntimeError, match="Column 'x' cannot be resolved"), mock_aws():
        glue = boto3.client("glue", region_name="us-east-1")
        glue.create_database(DatabaseInput={"Name": "db"})
        module = FakeModule()
        view_module.ensure(module, Failing(), NoRetry(glue), module.params)


# ------------------------------------------------------------------ athena_query
class PagedAthena:
    """GetQueryResults of a SELECT: the header row first, then ``total`` rows, ``page`` per page at most."""

    def __init__(self, total):
        self.rows = [["n"]] + [[str(i)] for i in range(total)]
        self.requests = []

    def get_query_results(self, aws_retry=None, **kwargs):
        self.requests.append(kwargs)
        start = int(kwargs.get("NextToken", 0))
        end = min(start + kwargs["MaxResults"], len(self.rows))
        page = {
            "ResultSet": {
                "Rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in self.rows[start:end]],
                "ResultSetMetadata": {"ColumnInfo": [{"Name": "n", "Label": "n", "Type": "integer"}]},
            }
        }
        if end < len(self.rows):
            page["NextToken"] = str(end)
        return page


def test_results_skip_the_header_and_page_up_to_max_rows():
    execution = {"QueryExecutionId": "q", "StatementType": "DML"}

    columns, rows, truncated = util.fetch_results(PagedAthena(2500), execution, 2200, page_size=1000)
    assert columns == [{"name": "n", "type": "integer"}]
    assert rows[0] == ["0"] and rows[-1] == ["2199"] and len(rows) == 2200 and truncated

    athena = PagedAthena(5)
    columns, rows, truncated = util.fetch_results(athena, execution, 100)
    assert rows == [[str(i)] for i in range(5)] and not truncated and len(athena.requests) == 1

    _, rows, _ = util.fetch_results(PagedAthena(3), {"QueryExecutionId": "q", "StatementType": "UTILITY"}, 10)
    assert rows[0] == ["n"]  # SHOW / DESCRIBE answers have no header row


def test_query_check_mode_runs_reads_but_not_writes():
    class Athena(PagedAthena):
        def __init__(self):
            super().__init__(1)
            self.started = []

        def get_work_group(self, **_):
            return {"WorkGroup": {"State": "ENABLED"}}

        def start_query_execution(self, aws_retry=None, **kwargs):
            self.started.append(kwargs["QueryString"])
            return {"QueryExecutionId": "q"}

        def get_query_execution(self, **_):
            return {
                "QueryExecution": {
                    "QueryExecutionId": "q",
                    "StatementType": "DML",
                    "Status": {"State": "SUCCEEDED"},
                    "ResultConfiguration": {"OutputLocation": "s3://r/q.csv"},
                }
            }

    params = {
        "workgroup": "wg",
        "query": "SELECT 1",
        "saved_query": None,
        "database": None,
        "max_rows": 10,
        "wait_timeout": 10,
        "poll_interval": 1,
    }
    athena = Athena()
    read = query_module.run(athena, params, check_mode=True)
    write = query_module.run(athena, {**params, "query": "DROP TABLE t"}, check_mode=True)

    assert not read["changed"] and read["rows"] == [["0"]] and read["output_location"] == "s3://r/q.csv"
    assert write["changed"] and write["state"] == "NOT_RUN" and athena.started == ["SELECT 1"]


# ------------------------------------------------------------------ text_table filter
def test_text_table_aligns_numbers_right_and_cuts_long_values():
    from ansible_collections.smartstream.pipeline.plugins.filter.text_table import text_table

    table = text_table(
        [["1", "Engineering", None], ["22", "Sales and a very long name", "x"]],
        [{"name": "id", "type": "integer"}, {"name": "department", "type": "varchar"}, "note"],
        max_width=12,
    )

    assert table.splitlines() == [
        "id | department   | note",
        "---+--------------+-----",
        " 1 | Engineering  | NULL",
        "22 | Sales and a… | x",
    ]


# ------------------------------------------------------------------ several views in one run
def many(module, names, **given):
    """The per-view params main() builds from I(views)."""
    return [{**module.params, "name": name, **given} for name in names]


def test_several_views_are_read_in_one_listing_and_each_converged(aws):
    glue, athena = aws
    view_table(glue, "db", "current_employees", QUERY)
    module = FakeModule()
    reads = NoRetry(glue)
    client = FakeAthenaDDL(athena, glue)
    views = many(module, ["current_employees"]) + many(module, ["other_view"], require_tables=["missing"])

    outcomes = view_module.converge_many(module, client, reads, views)

    unchanged, held_back = (result for result, _ in outcomes)
    assert reads.calls == ["get_tables"] and client.calls == []
    assert not unchanged["changed"] and unchanged["action"] == "none"
    assert not held_back["changed"] and held_back["missing_tables"] == ["missing"]


def test_several_views_create_what_is_missing_and_a_missing_database_fails_clearly(aws):
    glue, athena = aws
    module = FakeModule()
    client = FakeAthenaDDL(athena, glue)

    outcomes = view_module.converge_many(module, client, NoRetry(glue), many(module, ["a_view", "b_view"]))

    assert [r["action"] for r, _ in outcomes] == ["create", "create"]
    assert client.calls.count("start_query_execution") == 2
    with pytest.raises(RuntimeError, match="Glue database nodb does not exist"):
        view_module.converge_many(module, client, NoRetry(glue), many(module, ["a_view"], database="nodb"))
    checking = FakeModule(check_mode=True)
    outcomes = view_module.converge_many(checking, client, NoRetry(glue), many(checking, ["a_view"], database="nodb"))
    assert outcomes[0][0]["changed"] and outcomes[0][0]["action"] == "create"


# ------------------------------------------------------------------ athena_named_query
def test_saved_queries_converge_from_one_listing():
    with mock_aws():
        athena = boto3.client("athena", region_name="us-east-1")
        athena.create_work_group(Name="wg", Configuration={"ResultConfiguration": {"OutputLocation": "s3://r/"}})
        athena.create_named_query(Name="kept", Database="db", QueryString="SELECT 1", WorkGroup="wg")
        client = NoRetry(athena)
        wanted = [
            {"name": "kept", "database": "db", "query": "SELECT 1", "description": ""},
            {"name": "new", "database": "db", "query": "SELECT 2", "description": "two"},
        ]

        existing = nq.find_all(client, "wg", [w["name"] for w in wanted])
        outcomes = [nq.converge(client, True, "present", "wg", w, existing[w["name"]]) for w in wanted]

        assert client.calls.count("list_named_queries") == 1 and client.calls.count("get_work_group") == 1
        assert [changed for changed, _, _ in outcomes] == [False, True]
        assert "create_named_query" not in client.calls  # check mode
        assert outcomes[0][1]["query"] == "SELECT 1" and outcomes[1][1] == {}
