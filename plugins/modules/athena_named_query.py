#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: athena_named_query
short_description: Manage an Amazon Athena saved (named) query by name within a work group
version_added: 0.1.0
description:
  - Create, update or delete a saved query of an Athena work group, found by its name (Athena itself
    identifies saved queries only by a generated id and allows duplicate names; this module keeps
    one query per name and work group, and removes extra copies of the same name).
  - Name, description and SQL are updated in place (UpdateNamedQuery); a different database
    cannot be updated, so the query is replaced.
  - No module of amazon.aws or community.aws manages Athena saved queries.
  - The work group must exist, except in check mode (where an earlier task of the same run may create it)
    and with C(state=absent) (nothing to delete).
author:
  - SmartStream platform team (@smartstream)
options:
  name:
    description:
      - Name of the saved query (1-128 characters), unique within the work group.
    required: true
    type: str
  workgroup:
    description:
      - Work group the query is saved in.
    required: true
    type: str
  state:
    description:
      - C(present) creates or updates the query, C(absent) deletes it.
    choices: [present, absent]
    default: present
    type: str
  database:
    description:
      - Glue database the query runs against. Required with C(state=present).
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
"""

RETURN = r"""
named_query:
  description: The saved query after the change (empty when absent).
  returned: always
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


def find(client, workgroup, name):
    """Saved queries of ``workgroup`` called ``name`` (oldest listing order)."""
    if not workgroup_exists(client, workgroup):
        raise WorkGroupMissing(workgroup)
    found = []
    kwargs = {"WorkGroup": workgroup, "MaxResults": 50}
    while True:
        page = client.list_named_queries(aws_retry=True, **kwargs)
        for query_id in page.get("NamedQueryIds", []):
            query = client.get_named_query(aws_retry=True, NamedQueryId=query_id)["NamedQuery"]
            if query["Name"] == name:
                query.setdefault("WorkGroup", workgroup)
                found.append(query)
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def workgroup_exists(client, workgroup):
    try:
        client.get_work_group(aws_retry=True, WorkGroup=workgroup)
        return True
    except is_boto3_error_code("InvalidRequestException"):
        return False


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            workgroup=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            database=dict(type="str"),
            query=dict(type="str"),
            description=dict(type="str", default=""),
        ),
        required_if=[("state", "present", ["database", "query"])],
        supports_check_mode=True,
    )
    p = module.params
    if not 1 <= len(p["name"]) <= 128:
        module.fail_json(msg=f"name '{p['name']}': 1-128 characters")
    if p["state"] == "present" and not 1 <= len(p["query"]) <= 262144:
        module.fail_json(msg="query: 1-262144 characters")

    client = module.client("athena", retry_decorator=AWSRetry.jittered_backoff())
    # Athena refuses an empty Description (minimum length 1): leave it out instead.
    described = {"Description": p["description"]} if p["description"] else {}
    wanted = {"name": p["name"], "database": p["database"], "query": p["query"], "description": p["description"]}
    try:
        try:
            existing = find(client, p["workgroup"], p["name"])
        except WorkGroupMissing:
            # Absent: nothing to delete. Check mode: an earlier task of the run would create the work group.
            if p["state"] == "present" and not module.check_mode:
                module.fail_json(msg=f"work group {p['workgroup']} does not exist: create it first")
            existing = []
        current = existing[0] if existing else None
        extra = existing[1:]
        before = view(current)
        changed = bool(extra)
        after = {}
        if p["state"] == "absent":
            changed = bool(existing)
            if not module.check_mode:
                for query in existing:
                    client.delete_named_query(aws_retry=True, NamedQueryId=query["NamedQueryId"])
        else:
            replace = current is not None and current["Database"] != p["database"]
            differs = current is not None and any(before[k] != wanted[k] for k in ("name", "query", "description"))
            changed = changed or current is None or replace or differs
            after = {**before, **wanted, "workgroup": p["workgroup"]}
            if not module.check_mode:
                for query in extra + ([current] if replace else []):
                    client.delete_named_query(aws_retry=True, NamedQueryId=query["NamedQueryId"])
                if current is None or replace:
                    after["id"] = client.create_named_query(
                        aws_retry=True,
                        Name=p["name"],
                        Database=p["database"],
                        QueryString=p["query"],
                        WorkGroup=p["workgroup"],
                        **described,
                    )["NamedQueryId"]
                elif differs:
                    client.update_named_query(
                        aws_retry=True,
                        NamedQueryId=current["NamedQueryId"],
                        Name=p["name"],
                        QueryString=p["query"],
                        **described,
                    )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(
            e, msg=f"Athena saved query {p['name']} in work group {p['workgroup']}: the AWS request failed"
        )

    result = {"changed": changed, "named_query": after}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
