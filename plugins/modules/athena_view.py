#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: athena_view
short_description: Manage Amazon Athena views idempotently
version_added: 0.1.0
description:
  - Creates, replaces or drops an Athena view by running C(CREATE OR REPLACE VIEW) or C(DROP VIEW IF EXISTS)
    in a workgroup and waiting for the statement to end. A statement that ends C(FAILED) or C(CANCELLED)
    fails the task with Athena's reason.
  - The view is read from the Glue Data Catalog, where Athena keeps it as a table of type C(VIRTUAL_VIEW)
    whose C(ViewOriginalText) holds the Presto view (a base64-encoded JSON document) with the view's
    C(originalSql), its catalog, schema and columns. A view
    whose stored SQL equals I(query) - ignoring comments, spacing and a trailing semicolon - is left alone
    with no Athena call.
  - Athena engine v3 (Trino) may store the SQL reformatted rather than as written (Trino keeps the formatted
    query). So that such a view still compares equal, after creating or replacing a view the module records
    in the view's Glue table parameters a digest of I(query) and a digest of the SQL Athena stored; a view
    whose stored SQL still has the recorded digest and whose recorded query digest matches I(query) is
    unchanged. A view changed by someone else (its stored SQL no longer matches the recorded digest) is
    replaced.
  - Views read tables that crawlers create. With I(require_tables), a view whose tables are not cataloged yet
    is not created (Athena would fail it); the task changes nothing and returns them in C(missing_tables).
  - With I(views), several views of I(database) are converged in one run of the module, from one listing of the
    database's tables (C(GetTables)); each view is handled as if given alone.
  - Neither amazon.aws nor community.aws manages Athena views or runs Athena statements.
author:
  - SmartStream platform team (@smartstream)
options:
  name:
    description:
      - Name of the view (lower-case letters, digits and underscores, as Athena allows; 1-255 characters).
      - Exactly one of I(name) and I(views) is required.
    type: str
  views:
    description:
      - Several views of I(database), instead of I(name), I(query) and I(require_tables).
      - Exactly one of I(name) and I(views) is required.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the view, as I(name).
        required: true
        type: str
      query:
        description: The view's query, as I(query). Required with I(state=present).
        type: str
      require_tables:
        description: Tables of I(database) the query reads, as I(require_tables).
        type: list
        elements: str
        default: []
  database:
    description:
      - Glue database of the view. It must exist, except in check mode and with I(state=absent).
    required: true
    type: str
  workgroup:
    description:
      - Athena workgroup the statements run in (its result location and encryption apply). It must exist and be
        enabled whenever a statement has to run.
    required: true
    type: str
  state:
    description:
      - C(present) creates the view or replaces its query; C(absent) drops it (every view of I(views)).
    choices: [present, absent]
    default: present
    type: str
  query:
    description:
      - The view's query (a C(SELECT) in Athena's SQL), without C(CREATE VIEW ... AS). Required with
        I(state=present). Qualify table names with the database (C("db"."table")).
    type: str
  require_tables:
    description:
      - Tables of I(database) the query reads. While one of them is missing the view is not created or
        replaced (the task reports no change and returns C(missing_tables)).
    type: list
    elements: str
    default: []
  wait_timeout:
    description: Seconds to wait for a statement to end.
    type: int
    default: 300
  poll_interval:
    description: Seconds between two looks at a running statement.
    type: int
    default: 1
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Needs C(athena:StartQueryExecution), C(athena:GetQueryExecution), C(athena:GetWorkGroup),
    C(glue:GetDatabase), C(glue:GetTable), C(glue:GetTables) (with I(views)), C(glue:CreateTable), C(glue:UpdateTable), C(glue:DeleteTable) and
    write access to the workgroup's result location.
"""

EXAMPLES = r"""
- name: Current employees as a view
  smartstream.pipeline.athena_view:
    name: current_employees
    database: smartstream_dev
    workgroup: smartstream-dev
    query: |
      SELECT id, department, salary
      FROM (
        SELECT e.*, row_number() OVER (PARTITION BY id ORDER BY _commit_ts DESC) AS change_rank
        FROM "smartstream_dev"."employees" e
      )
      WHERE change_rank = 1 AND _op <> 'delete'
    require_tables: [employees]
  register: view

- name: Drop it
  smartstream.pipeline.athena_view:
    name: current_employees
    database: smartstream_dev
    workgroup: smartstream-dev
    state: absent

- name: Several views in one task
  smartstream.pipeline.athena_view:
    database: smartstream_dev
    workgroup: smartstream-dev
    views:
      - name: head_count
        query: SELECT count(*) AS employees FROM "smartstream_dev"."employees"
        require_tables: [employees]
      - name: departments
        query: SELECT DISTINCT department FROM "smartstream_dev"."employees"
        require_tables: [employees]
  register: views
"""

RETURN = r"""
views:
  description:
    - With I(views), the result of each view in the order of I(views), with the keys C(name), C(database), C(query),
      C(columns), C(query_execution_id), C(action), C(missing_tables) and C(changed) described here for one view.
  returned: with I(views)
  type: list
  elements: dict
  sample: [{"name": "head_count", "database": "smartstream_dev", "query": "", "query_execution_id": "",
            "action": "none", "missing_tables": ["employees"], "changed": false}]
pending:
  description:
    - Views held back because tables of their I(require_tables) are not in the catalog, each with those tables
      (with I(name), the one view when it is held back).
  returned: always
  type: dict
  sample: {"salary_anomalies": ["analytics_salary_anomalies"]}
name:
  description: Name of the view.
  returned: with I(name)
  type: str
  sample: current_employees
database:
  description: Glue database of the view.
  returned: with I(name)
  type: str
  sample: smartstream_dev
query:
  description:
    - The view's SQL after the task - as the catalog holds it, or as given when the task created or replaced
      the view; empty when there is no view.
  returned: with I(name)
  type: str
  sample: SELECT id, department FROM "smartstream_dev"."employees"
columns:
  description: Columns of the view as the catalog holds them (name and Presto type).
  returned: with I(name), when the view exists after the task and the catalog holds its columns
  type: list
  elements: dict
  sample: [{"name": "id", "type": "integer"}]
query_execution_id:
  description: Id of the Athena statement the task ran (empty when it ran none).
  returned: with I(name)
  type: str
  sample: 6f9a5a0e-43f4-4f6b-9d0c-1d2e3f4a5b6c
action:
  description: What the task did (or would do in check mode) - C(create), C(replace), C(drop) or C(none).
  returned: with I(name)
  type: str
  sample: replace
missing_tables:
  description: Tables of I(require_tables) not in the catalog, which kept the view from being created or replaced.
  returned: with I(name)
  type: list
  elements: str
  sample: [analytics_salary_anomalies]
"""

import re

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.athena import (
    database_exists,
    decode_presto_view,
    get_all_tables,
    get_table,
    normalise_sql,
    quote_identifier,
    sql_digest,
    start_query,
    text_digest,
    wait_for_query,
    workgroup_problem,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import (
    WaitFailed,
    WaitTimeout,
    list_form_items,
)

NAME = re.compile(r"^[a-z0-9_]{1,255}$")
VIEW_TYPE = "VIRTUAL_VIEW"
# Glue table parameters recording what the module asked for and what Athena stored for it.
QUERY_DIGEST = "smartstream_query_sha256"
STORED_DIGEST = "smartstream_original_sql_sha256"
# What UpdateTable accepts back from GetTable's answer.
TABLE_INPUT_KEYS = (
    "Name",
    "Description",
    "Owner",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "ViewOriginalText",
    "ViewExpandedText",
    "TableType",
    "Parameters",
    "TargetTable",
)


class NotAView(Exception):
    """A table that is not a view holds the name."""


def read_view(table):
    """The module's view of a Glue table holding an Athena view: query, columns and the recorded digests."""
    if table is None:
        return None
    if table.get("TableType") != VIEW_TYPE:
        raise NotAView(table.get("TableType") or "a table")
    try:
        doc = decode_presto_view(table.get("ViewOriginalText"))
        query, columns = doc["originalSql"], doc.get("columns") or []
    except ValueError:
        # A Hive or Spark view keeps plain SQL: never equal to an Athena query, so it is replaced.
        query, columns = table.get("ViewOriginalText") or "", []
    params = table.get("Parameters") or {}
    return {
        "query": query,
        "columns": [{"name": c.get("name"), "type": c.get("type")} for c in columns],
        "recorded_query_digest": params.get(QUERY_DIGEST),
        "recorded_stored_digest": params.get(STORED_DIGEST),
    }


def matches(current, wanted_query):
    """Whether the view ``current`` (read_view) already answers ``wanted_query``."""
    if current is None:
        return False
    if normalise_sql(current["query"]) == normalise_sql(wanted_query):
        return True
    return current["recorded_query_digest"] == sql_digest(wanted_query) and current[
        "recorded_stored_digest"
    ] == text_digest(current["query"])


def plan(state, current, wanted_query, missing_tables=()):
    """The action that brings the view to ``state``: create, replace, drop or none."""
    if state == "absent":
        return "drop" if current is not None else "none"
    if matches(current, wanted_query):
        return "none"
    if missing_tables:
        return "none"
    return "create" if current is None else "replace"


def statement(action, database, name, query=None):
    """The DDL of ``action``."""
    target = f"{quote_identifier(database)}.{quote_identifier(name)}"
    if action == "drop":
        return f"DROP VIEW IF EXISTS {target}"
    # A newline after AS: a query opening with a -- comment stays a comment of its own line.
    return f"CREATE OR REPLACE VIEW {target} AS\n{query.strip().rstrip(';').rstrip()}"


def record_digests(glue, database, table, wanted_query):
    """Record in the view's Glue parameters the digest of the query asked for and of the SQL Athena stored."""
    current = read_view(table)
    params = dict(table.get("Parameters") or {})
    params[QUERY_DIGEST] = sql_digest(wanted_query)
    params[STORED_DIGEST] = text_digest(current["query"])
    table_input = {k: table[k] for k in TABLE_INPUT_KEYS if k in table}
    table_input["Parameters"] = params
    glue.update_table(aws_retry=True, DatabaseName=database, TableInput=table_input, SkipArchive=True)


def new_result(params):
    """The result of a view the task leaves alone."""
    return {
        "changed": False,
        "name": params["name"],
        "database": params["database"],
        "query": "",
        "query_execution_id": "",
        "action": "none",
        "missing_tables": [],
    }


def missing_database(module, params):
    """The result of a view whose database does not exist (fails unless absent or in check mode)."""
    result = new_result(params)
    if params["state"] == "absent":
        return result, None
    if not module.check_mode:
        module.fail_json(msg=f"Glue database {params['database']} does not exist: create it first (the catalog layer)")
    # Check mode: an earlier task of the same run would create the database.
    result.update(changed=True, action="create", query=params["query"], missing_tables=list(params["require_tables"]))
    return result, None


def ensure_view(module, athena, glue, params, lookup):
    """Bring one view of an existing database to its state; ``lookup(name)`` reads a table of the database."""
    name, database, state = params["name"], params["database"], params["state"]
    wanted = params["query"] if state == "present" else None
    result = new_result(params)
    try:
        current = read_view(lookup(name))
    except NotAView as e:
        module.fail_json(msg=f"{database}.{name} is a {e} table, not a view: the module neither replaces nor drops it")
    before = current["query"] if current else ""
    missing = []
    if state == "present" and not matches(current, wanted):
        missing = [t for t in params["require_tables"] if lookup(t) is None]
    action = plan(state, current, wanted, missing)
    result.update(action=action, missing_tables=missing, query=before)
    if current and current["columns"]:
        result["columns"] = current["columns"]
    if action == "none":
        return result, before

    result["changed"] = True
    result["query"] = wanted or ""
    result.pop("columns", None)
    if module.check_mode:
        return result, before

    problem = workgroup_problem(athena, params["workgroup"])
    if problem:
        module.fail_json(msg=f"Athena view {database}.{name}: {problem}")
    execution_id = start_query(athena, statement(action, database, name, wanted), params["workgroup"], database)
    result["query_execution_id"] = execution_id
    try:
        wait_for_query(athena, execution_id, params["wait_timeout"], params["poll_interval"])
    except (WaitFailed, WaitTimeout) as e:
        module.fail_json(msg=f"Athena view {database}.{name}: {action} failed: {e}", **result)

    if action == "drop":
        return result, before
    table = get_table(glue, database, name)
    if table is None:
        module.warn(
            f"Athena reported the view {database}.{name} created, but the Glue catalog does not hold it "
            "(an Athena that does not run DDL, such as a bare emulator?)"
        )
        return result, before
    created = read_view(table)
    if created["columns"]:
        result["columns"] = created["columns"]
    if normalise_sql(created["query"]) != normalise_sql(wanted):
        record_digests(glue, database, table, wanted)
    return result, before


def check_view(module, params):
    """Fail with a clear message on a bad name or query of one view."""
    if not NAME.match(params["name"]):
        module.fail_json(msg=f"name '{params['name']}': lower-case letters, digits and underscores, 1-255 characters")
    if params["state"] == "present" and not normalise_sql(params["query"] or ""):
        module.fail_json(msg=f"view {params['name']}: query: the view's SELECT, not empty")


def ensure(module, athena, glue, params):
    """One view (I(name)): its database, then the view and its tables, read one by one."""
    if not database_exists(glue, params["database"]):
        return missing_database(module, params)
    return ensure_view(module, athena, glue, params, lambda table: get_table(glue, params["database"], table))


def converge_many(module, athena, glue, views):
    """Several views (I(views)) of one database, read in one listing of its tables."""
    tables = get_all_tables(glue, views[0]["database"])
    if tables is None:
        return [missing_database(module, v) for v in views]
    return [ensure_view(module, athena, glue, v, tables.get) for v in views]


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str"),
            views=dict(
                type="list",
                elements="dict",
                options=dict(
                    name=dict(type="str", required=True),
                    query=dict(type="str"),
                    require_tables=dict(type="list", elements="str", default=[]),
                ),
            ),
            database=dict(type="str", required=True),
            workgroup=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            query=dict(type="str"),
            require_tables=dict(type="list", elements="str", default=[]),
            wait_timeout=dict(type="int", default=300),
            poll_interval=dict(type="int", default=1),
        ),
        required_one_of=[("name", "views")],
        mutually_exclusive=[("name", "views"), ("query", "views")],
        supports_check_mode=True,
    )
    p = module.params
    if p["wait_timeout"] < 1 or p["poll_interval"] < 1:
        module.fail_json(msg="wait_timeout and poll_interval: at least 1 second")
    given = list_form_items(module, "views")
    for view in given:
        check_view(module, view)
    label = f"{p['database']}.{p['name']}" if p["views"] is None else f"views of {p['database']}"

    athena = module.client("athena", retry_decorator=AWSRetry.jittered_backoff())
    glue = module.client("glue", retry_decorator=AWSRetry.jittered_backoff())
    try:
        if p["views"] is None:
            outcomes = [ensure(module, athena, glue, p)]
        else:
            outcomes = converge_many(module, athena, glue, given)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Athena {label}: the AWS request failed")

    results = [outcome[0] for outcome in outcomes]
    pending = {r["name"]: r["missing_tables"] for r in results if r["missing_tables"]}
    if p["views"] is None:
        result = {**results[0], "pending": pending}
        diff = {"before": {"query": outcomes[0][1] or ""}, "after": {"query": results[0]["query"]}}
    else:
        result = {"changed": any(r["changed"] for r in results), "views": results, "pending": pending}
        diff = {
            "before": {r["name"]: before or "" for r, before in outcomes},
            "after": {r["name"]: r["query"] for r in results},
        }
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
