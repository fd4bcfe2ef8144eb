#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: glue_database
short_description: Manage an AWS Glue Data Catalog database
version_added: 0.1.0
description:
  - Create, update or delete a database of the AWS Glue Data Catalog, with its description,
    location, parameters and tags.
  - No module of amazon.aws or community.aws manages Glue databases; C(community.aws.glue_crawler)
    expects the database to exist.
author:
  - SmartStream platform team (@smartstream)
options:
  name:
    description:
      - Name of the database (lower case letters, digits and underscores; at most 255 characters).
    required: true
    type: str
  state:
    description:
      - C(present) creates or updates the database, C(absent) deletes it (with every table in it).
    choices: [present, absent]
    default: present
    type: str
  description:
    description:
      - Description of the database. Omitted leaves the current one.
    type: str
  location_uri:
    description:
      - Location of the database, for example C(s3://bucket/trusted/). Omitted leaves the current one.
    type: str
  parameters:
    description:
      - Key-value parameters of the database. Omitted leaves the current ones; given, they replace them.
    type: dict
  catalog_id:
    description:
      - The Data Catalog (AWS account id). Defaults to the caller's account.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Catalog database of the trusted zone
  smartstream.pipeline.glue_database:
    name: smartstream_dev
    description: SmartStream trusted data
    location_uri: s3://smartstream-dev-datalake-123456789012-eu-north-1/trusted/
    parameters:
      classification: parquet
    tags:
      Project: smartstream

- name: Remove it
  smartstream.pipeline.glue_database:
    name: smartstream_dev
    state: absent
"""

RETURN = r"""
database:
  description: The database after the change (empty when absent).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the database.
      returned: when present
      type: str
      sample: smartstream_dev
    description:
      description: Description.
      returned: when present and set
      type: str
      sample: SmartStream trusted data
    location_uri:
      description: Location.
      returned: when present and set
      type: str
      sample: s3://bucket/trusted/
    parameters:
      description: Parameters.
      returned: when present
      type: dict
      sample: {"classification": "parquet"}
    catalog_id:
      description: The Data Catalog the database is in.
      returned: when present
      type: str
      sample: "123456789012"
    arn:
      description: ARN of the database.
      returned: when present
      type: str
      sample: arn:aws:glue:eu-north-1:123456789012:database/smartstream_dev
    tags:
      description: Tags of the database.
      returned: when present
      type: dict
      sample: {"Project": "smartstream"}
"""

import re

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import changed_keys, tag_changes

NAME = re.compile(r"^[a-z0-9_]{1,255}$")


def database_arn(client, database):
    region = client.meta.region_name
    partition = client.meta.partition
    return f"arn:{partition}:glue:{region}:{database['CatalogId']}:database/{database['Name']}"


def get_database(client, name, catalog_id):
    kwargs = {"Name": name}
    if catalog_id:
        kwargs["CatalogId"] = catalog_id
    try:
        return client.get_database(aws_retry=True, **kwargs)["Database"]
    except is_boto3_error_code("EntityNotFoundException"):
        return None


def get_tags(client, arn):
    return client.get_tags(aws_retry=True, ResourceArn=arn).get("Tags", {})


def present_view(database, tags):
    if not database:
        return {}
    view = {
        "name": database["Name"],
        "parameters": database.get("Parameters", {}),
        "catalog_id": database.get("CatalogId"),
        "tags": tags,
    }
    for key, out in (("Description", "description"), ("LocationUri", "location_uri")):
        if database.get(key) is not None:
            view[out] = database[key]
    return view


def desired_input(params, current):
    wanted = {
        "Description": params["description"],
        "LocationUri": params["location_uri"],
        "Parameters": params["parameters"],
    }
    merged = {"Name": params["name"]}
    for key in ("Description", "LocationUri", "Parameters"):
        value = wanted[key] if wanted[key] is not None else (current or {}).get(key)
        if value is not None:
            merged[key] = value
    return wanted, merged


def ensure_present(client, module, params):
    name, catalog_id = params["name"], params["catalog_id"]
    current = get_database(client, name, catalog_id)
    wanted, merged = desired_input(params, current)
    catalog = {"CatalogId": catalog_id} if catalog_id else {}
    changed = False
    if current is None:
        changed = True
        if module.check_mode:
            after = present_view({**merged, "CatalogId": catalog_id}, params["tags"] or {})
            return changed, {}, after
        client.create_database(aws_retry=True, DatabaseInput=merged, **catalog)
        current_tags = {}
        before = {}
        current = get_database(client, name, catalog_id)
    else:
        current_tags = get_tags(client, database_arn(client, current))
        before = present_view(current, current_tags)
        if changed_keys(current, wanted):
            changed = True
            if not module.check_mode:
                client.update_database(aws_retry=True, Name=name, DatabaseInput=merged, **catalog)

    to_set, to_remove = tag_changes(current_tags, params["tags"], params["purge_tags"])
    if to_set or to_remove:
        changed = True
        if not module.check_mode:
            arn = database_arn(client, current)
            if to_set:
                client.tag_resource(aws_retry=True, ResourceArn=arn, TagsToAdd=to_set)
            if to_remove:
                client.untag_resource(aws_retry=True, ResourceArn=arn, TagsToRemove=to_remove)

    if module.check_mode:
        tags = {k: v for k, v in current_tags.items() if k not in to_remove}
        tags.update(to_set)
        after = present_view({**current, **merged}, tags)
    elif not changed:
        # Nothing was written: what was read is what there is.
        after = before
    else:
        final = get_database(client, name, catalog_id)
        after = present_view(final, get_tags(client, database_arn(client, final)))
    return changed, before, after


def ensure_absent(client, module, params):
    current = get_database(client, params["name"], params["catalog_id"])
    if current is None:
        return False, {}, {}
    before = present_view(current, get_tags(client, database_arn(client, current)))
    if not module.check_mode:
        kwargs = {"Name": params["name"]}
        if params["catalog_id"]:
            kwargs["CatalogId"] = params["catalog_id"]
        try:
            client.delete_database(aws_retry=True, **kwargs)
        except is_boto3_error_code("EntityNotFoundException"):
            pass
    return True, before, {}


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        description=dict(type="str"),
        location_uri=dict(type="str"),
        parameters=dict(type="dict"),
        catalog_id=dict(type="str"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if not NAME.match(params["name"]):
        module.fail_json(msg=f"name '{params['name']}': lower case letters, digits and underscores, 1-255 characters")

    client = module.client("glue", retry_decorator=AWSRetry.jittered_backoff())
    try:
        if params["state"] == "present":
            changed, before, after = ensure_present(client, module, params)
        else:
            changed, before, after = ensure_absent(client, module, params)
        if after:
            after.setdefault(
                "arn",
                f"arn:{client.meta.partition}:glue:{client.meta.region_name}:"
                f"{after.get('catalog_id') or 'unknown'}:database/{after['name']}",
            )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Glue database {params['name']}: the AWS request failed")

    result = {"changed": changed, "database": after}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
