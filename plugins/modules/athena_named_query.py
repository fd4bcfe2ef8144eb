#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: athena_named_query
short_description: Manage Amazon Athena saved (named) queries by name within a work group
version_added: 0.1.0
description:
  - Create, update or delete a saved query of an Athena work group, found by its name (Athena itself
    identifies saved queries only by a generated id and allows duplicate names; this module keeps
    one query per name and work group, and removes extra copies of the same name).
  - Name, description and SQL are updated in place (UpdateNamedQuery); a different database
    cannot be updated, so the query is replaced.
  - With I(queries), a list of saved queries of the work group is converged in one run of the module, from one
    listing of the work group's saved queries.
  - No module of amazon.aws or community.aws manages Athena saved queries.
  - The work group must exist, except in check mode (where an earlier task of the same run may create it)
    and with C(state=absent) (nothing to delete).
author:
  - SmartStream platform team (@smartstream)
options:
  name:
    description:
      - Name of the saved query (1-128 characters), unique within the work group.
      - Exactly one of I(name) and I(queries) is required.
    type: str
  queries:
    description:
      - Several saved queries of I(workgroup), each converged to I(state) as if given alone; instead of I(name),
        I(query) and I(description).
      - Exactly one of I(name) and I(queries) is required.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the saved query (1-128 characters).
        required: true
        type: str
      query:
        description: The SQL text. Required with C(state=present).
        type: str
      description:
        description: Description of the query.
        type: str
        default: ""
      database:
        description: Glue database the query runs against; I(database) when not given.
        type: str
  workgroup:
    description:
      - Work group the query is saved in.
    required: true
    type: str
  state:
    description:
      - C(present) creates or updates the query (every query of I(queries)), C(absent) deletes it.
    choices: [present, absent]
    default: present
    type: str
  database:
    description:
      - Glue database the query runs against. Required with C(state=present), unless every entry of I(queries)
        names its own.
    type: str
  query:
    description:
      - The SQL text. Required with C(state=present).
    type: str
  description:
    description:
      - Description of the query.
    type: str
    default: ""
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Salary by department
  smartstream.pipeline.athena_named_query:
    name: salary-by-department
    workgroup: smartstream-dev
    database: smartstream_dev
    description: Average and maximum salary per department
    query: SELECT department, avg(salary) FROM employees GROUP BY department

- name: Several saved queries of the work group in one task
  smartstream.pipeline.athena_named_query:
    workgroup: smartstream-dev
    database: smartstream_dev
    queries:
      - name: head-count
        query: SELECT count(*) FROM employees
      - name: departments
        description: Every department
        query: SELECT DISTINCT department FROM employees
"""

RETURN = r"""
named_queries:
  description: With I(queries), each saved query after the change, in the order of I(queries) (empty dicts when absent).
  returned: with I(queries)
  type: list
  elements: dict
  sample: [{"id": "0b4f8d4e-1111-2222-3333-444455556666", "name": "head-count", "database": "smartstream_dev",
            "query": "SELECT count(*) FROM employees", "description": "", "workgroup": "smartstream-dev"}]
named_query:
  description: The saved query after the change (empty when absent); with I(name).
  returned: with I(name)
  type: dict
  contains:
    id:
      description: Id of the saved query.
      returned: when present
      type: str
      sample: 0b4f8d4e-1111-2222-3333-444455556666
    name:
      description: Name.
      returned: when present
      type: str
      sample: salary-by-department
    database:
      description: Database.
      returned: when present
      type: str
      sample: smartstream_dev
    query:
      description: SQL text.
      returned: when present
      type: str
      sample: SELECT 1
    description:
      description: Description.
      returned: when present
      type: str
      sample: Average salary
    workgroup:
      description: Work group.
      returned: when present
      type: str
      sample: smartstream-dev
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import list_form_items


def view(query):
    if not query:
        return {}
    return {
        "id": query["NamedQueryId"],
        "name": query["Name"],
        "database": query["Database"],
        "query": query["QueryString"],
        "description": query.get("Description") or "",
        "workgroup": query.get("WorkGroup"),
    }


class WorkGroupMissing(Exception):
    """The work group does not exist."""


def find_all(client, workgroup, names):
    """Saved queries of ``workgroup`` called one of ``names``, by name (each list in listing order)."""
    if not workgroup_exists(client, workgroup):
        raise WorkGroupMissing(workgroup)
    found = {name: [] for name in names}
    kwargs = {"WorkGroup": workgroup, "MaxResults": 50}
    while True:
        page = client.list_named_queries(aws_retry=True, **kwargs)
        for query_id in page.get("NamedQueryIds", []):
            query = client.get_named_query(aws_retry=True, NamedQueryId=query_id)["NamedQuery"]
            if query["Name"] in found:
                query.setdefault("WorkGroup", workgroup)
                found[query["Name"]].append(query)
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def find(client, workgroup, name):
    """Saved queries of ``workgroup`` called ``name`` (oldest listing order)."""
    return find_all(client, workgroup, [name])[name]


def workgroup_exists(client, workgroup):
    try:
        client.get_work_group(aws_retry=True, WorkGroup=workgroup)
        return True
    except is_boto3_error_code("InvalidRequestException"):
        return False


def converge(client, check_mode, state, workgroup, wanted, existing):
    """Bring the saved queries ``existing`` (all called ``wanted['name']``) to ``state``: (changed, before, after)."""
    current = existing[0] if existing else None
    extra = existing[1:]
    before = view(current)
    if state == "absent":
        if not check_mode:
            for query in existing:
                client.delete_named_query(aws_retry=True, NamedQueryId=query["NamedQueryId"])
        return bool(existing), before, {}
    replace = current is not None and current["Database"] != wanted["database"]
    differs = current is not None and any(before[k] != wanted[k] for k in ("name", "query", "description"))
    changed = bool(extra) or current is None or replace or differs
    after = {**before, **wanted, "workgroup": workgroup}
    # Athena refuses an empty Description (minimum length 1): leave it out instead.
    described = {"Description": wanted["description"]} if wanted["description"] else {}
    if not check_mode:
        for query in extra + ([current] if replace else []):
            client.delete_named_query(aws_retry=True, NamedQueryId=query["NamedQueryId"])
        if current is None or replace:
            after["id"] = client.create_named_query(
                aws_retry=True,
                Name=wanted["name"],
                Database=wanted["database"],
                QueryString=wanted["query"],
                WorkGroup=workgroup,
                **described,
            )["NamedQueryId"]
        elif differs:
            client.update_named_query(
                aws_retry=True,
                NamedQueryId=current["NamedQueryId"],
                Name=wanted["name"],
                QueryString=wanted["query"],
                **described,
            )
    return changed, before, after


def wanted_queries(module):
    """The saved queries asked for, each as {name, database, query, description}; fails on bad input."""
    p = module.params
    wanted = []
    for entry in list_form_items(module, "queries", merge=False):
        name = entry["name"]
        if not 1 <= len(name) <= 128:
            module.fail_json(msg=f"name '{name}': 1-128 characters")
        database = entry.get("database") or p["database"]
        if p["state"] == "present":
            if not database:
                module.fail_json(msg=f"saved query {name}: database is required with state=present")
            if not entry["query"]:
                module.fail_json(msg=f"saved query {name}: query is required with state=present")
            if not 1 <= len(entry["query"]) <= 262144:
                module.fail_json(msg=f"saved query {name}: query: 1-262144 characters")
        wanted.append(
            {"name": name, "database": database, "query": entry["query"], "description": entry["description"] or ""}
        )
    return wanted


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str"),
            queries=dict(
                type="list",
                elements="dict",
                options=dict(
                    name=dict(type="str", required=True),
                    query=dict(type="str"),
                    description=dict(type="str", default=""),
                    database=dict(type="str"),
                ),
            ),
            workgroup=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            database=dict(type="str"),
            query=dict(type="str"),
            description=dict(type="str", default=""),
        ),
        required_one_of=[("name", "queries")],
        mutually_exclusive=[("name", "queries"), ("query", "queries")],
        supports_check_mode=True,
    )
    p = module.params
    wanted = wanted_queries(module)
    label = wanted[0]["name"] if p["queries"] is None else f"{len(wanted)} saved queries"

    client = module.client("athena", retry_decorator=AWSRetry.jittered_backoff())
    changed, befores, afters = False, [], []
    try:
        try:
            existing = find_all(client, p["workgroup"], [w["name"] for w in wanted])
        except WorkGroupMissing:
            # Absent: nothing to delete. Check mode: an earlier task of the run would create the work group.
            if p["state"] == "present" and not module.check_mode:
                module.fail_json(msg=f"work group {p['workgroup']} does not exist: create it first")
            existing = {w["name"]: [] for w in wanted}
        for w in wanted:
            one_changed, before, after = converge(
                client, module.check_mode, p["state"], p["workgroup"], w, existing[w["name"]]
            )
            changed = changed or one_changed
            befores.append(before)
            afters.append(after)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Athena {label} in work group {p['workgroup']}: the AWS request failed")

    if p["queries"] is None:
        result = {"changed": changed, "named_query": afters[0]}
        diff = {"before": befores[0], "after": afters[0]}
    else:
        result = {"changed": changed, "named_queries": afters}
        diff = {
            "before": {w["name"]: b for w, b in zip(wanted, befores, strict=True) if b},
            "after": {w["name"]: a for w, a in zip(wanted, afters, strict=True) if a},
        }
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
