#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: athena_query
short_description: Run an Amazon Athena statement or saved query and return its rows
version_added: 0.1.0
description:
  - Runs SQL (I(query)) or a saved query of the workgroup found by name (I(saved_query)) in an Athena workgroup,
    waits for it to end and returns up to I(max_rows) rows with the column names and types, the result
    object's S3 location (the full CSV) and the execution statistics.
  - A statement that only reads (C(SELECT), C(WITH), C(VALUES), C(SHOW), C(DESCRIBE), C(EXPLAIN)) reports no
    change and runs in check mode as well. Any other statement (DDL, C(INSERT), C(UNLOAD), C(CREATE TABLE AS))
    reports a change and, in check mode, is not run. Views are better managed with
    M(smartstream.pipeline.athena_view), which runs DDL only when the view differs.
  - A statement that ends C(FAILED) or C(CANCELLED) fails the task with Athena's reason.
  - Neither amazon.aws nor community.aws runs Athena queries.
author:
  - SmartStream platform team (@smartstream)
options:
  workgroup:
    description: Athena workgroup the statement runs in (its result location, encryption and cutoff apply).
    required: true
    type: str
  query:
    description: The SQL statement (Athena engine v3, Trino dialect). Exclusive with I(saved_query).
    type: str
  saved_query:
    description: Name of a saved (named) query of I(workgroup) to run. Exclusive with I(query).
    type: str
  database:
    description:
      - Database unqualified table names resolve in. Defaults to the saved query's database with I(saved_query).
    type: str
  max_rows:
    description: Rows returned at most (the CSV at C(output_location) holds them all). C(0) returns none.
    type: int
    default: 100
  wait_timeout:
    description: Seconds to wait for the statement to end.
    type: int
    default: 600
  poll_interval:
    description: Seconds between two looks at the running statement.
    type: int
    default: 1
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Needs C(athena:StartQueryExecution), C(athena:GetQueryExecution), C(athena:GetQueryResults),
    C(athena:GetWorkGroup), with I(saved_query) C(athena:ListNamedQueries) and C(athena:GetNamedQuery), read access
    to the tables and write access to the workgroup's result location.
"""

EXAMPLES = r"""
- name: Current employees through the view
  smartstream.pipeline.athena_query:
    workgroup: smartstream-dev
    query: SELECT * FROM "smartstream_dev"."current_employees"
    max_rows: 20
  register: employees

- name: A saved query by name
  smartstream.pipeline.athena_query:
    workgroup: smartstream-dev
    saved_query: changes-per-day

- name: Tables of the catalog database
  smartstream.pipeline.athena_query:
    workgroup: smartstream-dev
    database: smartstream_dev
    query: SHOW TABLES
"""

RETURN = r"""
query:
  description: The SQL that ran.
  returned: always
  type: str
  sample: SELECT * FROM "smartstream_dev"."current_employees"
query_execution_id:
  description: Id of the execution (empty in check mode for a statement that was not run).
  returned: always
  type: str
  sample: 6f9a5a0e-43f4-4f6b-9d0c-1d2e3f4a5b6c
state:
  description: Final state of the execution (C(SUCCEEDED)), or C(NOT_RUN) in check mode.
  returned: always
  type: str
  sample: SUCCEEDED
statement_type:
  description: Athena's kind of statement - C(DML), C(DDL) or C(UTILITY).
  returned: when it ran
  type: str
  sample: DML
columns:
  description: Columns of the result, in order.
  returned: when it ran
  type: list
  elements: dict
  contains:
    name:
      description: Column name.
      returned: always
      type: str
      sample: department
    type:
      description: Athena type.
      returned: always
      type: str
      sample: varchar
  sample: [{"name": "department", "type": "varchar"}]
rows:
  description: Up to I(max_rows) rows, each a list of values as strings in column order (null for NULL).
  returned: when it ran
  type: list
  elements: list
  sample: [["Engineering", "42"]]
truncated:
  description: Whether the result has more rows than returned.
  returned: when it ran
  type: bool
  sample: false
output_location:
  description: S3 URI of the result CSV (C(<id>.csv)).
  returned: when it ran
  type: str
  sample: s3://smartstream-dev-athena-123456789012-eu-north-1/results/6f9a5a0e-43f4-4f6b-9d0c-1d2e3f4a5b6c.csv
data_scanned_in_bytes:
  description: Bytes Athena read.
  returned: when it ran
  type: int
  sample: 123456
engine_execution_time_in_millis:
  description: Time the engine took.
  returned: when it ran
  type: int
  sample: 812
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.athena import (
    describe_execution,
    fetch_results,
    is_read_only,
    normalise_sql,
    start_query,
    wait_for_query,
    workgroup_problem,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import WaitFailed, WaitTimeout


class QueryProblem(Exception):
    """The statement cannot run: the reason is the message."""


def find_saved_query(athena, workgroup, name):
    """(SQL, database) of the saved query ``name`` of ``workgroup``."""
    kwargs = {"WorkGroup": workgroup, "MaxResults": 50}
    while True:
        page = athena.list_named_queries(aws_retry=True, **kwargs)
        for query_id in page.get("NamedQueryIds", []):
            query = athena.get_named_query(aws_retry=True, NamedQueryId=query_id)["NamedQuery"]
            if query["Name"] == name:
                return query["QueryString"], query.get("Database")
        if not page.get("NextToken"):
            raise QueryProblem(f"workgroup {workgroup} has no saved query named {name}")
        kwargs["NextToken"] = page["NextToken"]


def run(athena, params, check_mode):
    """Run the statement (unless check mode forbids it) and return the module's result."""
    problem = workgroup_problem(athena, params["workgroup"])
    if problem:
        raise QueryProblem(problem)
    sql, database = params["query"], params["database"]
    if params["saved_query"]:
        sql, saved_database = find_saved_query(athena, params["workgroup"], params["saved_query"])
        database = database or saved_database
    read_only = is_read_only(sql)
    result = {"changed": not read_only, "query": sql, "query_execution_id": "", "state": "NOT_RUN"}
    if check_mode and not read_only:
        return result
    execution_id = start_query(athena, sql, params["workgroup"], database)
    result["query_execution_id"] = execution_id
    try:
        execution = wait_for_query(athena, execution_id, params["wait_timeout"], params["poll_interval"])
    except (WaitFailed, WaitTimeout) as e:
        raise QueryProblem(str(e)) from None
    result.update(describe_execution(execution))
    columns, rows, truncated = [], [], False
    if params["max_rows"] > 0:
        columns, rows, truncated = fetch_results(athena, execution, params["max_rows"])
    result.update(columns=columns, rows=rows, truncated=truncated)
    return result


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            workgroup=dict(type="str", required=True),
            query=dict(type="str"),
            saved_query=dict(type="str"),
            database=dict(type="str"),
            max_rows=dict(type="int", default=100),
            wait_timeout=dict(type="int", default=600),
            poll_interval=dict(type="int", default=1),
        ),
        mutually_exclusive=[("query", "saved_query")],
        required_one_of=[("query", "saved_query")],
        supports_check_mode=True,
    )
    p = module.params
    if p["query"] is not None and not normalise_sql(p["query"]):
        module.fail_json(msg="query: an SQL statement, not empty")
    if p["max_rows"] < 0 or p["wait_timeout"] < 1 or p["poll_interval"] < 1:
        module.fail_json(msg="max_rows: 0 or more; wait_timeout and poll_interval: at least 1 second")
    athena = module.client("athena", retry_decorator=AWSRetry.jittered_backoff())
    what = f"saved query {p['saved_query']}" if p["saved_query"] else "query"
    try:
        result = run(athena, p, module.check_mode)
    except QueryProblem as e:
        module.fail_json(msg=f"Athena {what} in workgroup {p['workgroup']}: {e}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Athena {what} in workgroup {p['workgroup']}: the AWS request failed")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
