#!/usr/bin/python
# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: dms_endpoint
short_description: Manage an AWS DMS endpoint - a PostgreSQL source through Secrets Manager, or a Kinesis target
version_added: 0.1.0
description:
  - Create, modify (C(ModifyEndpoint)) or delete a DMS endpoint, and optionally test its connection from a
    replication instance, waiting for the result.
  - A C(postgres) (or C(aurora-postgresql)) endpoint takes its credentials from Secrets Manager
    (C(PostgreSQLSettings) C(SecretsManagerSecretId) and C(SecretsManagerAccessRoleArn)), so no password is
    ever passed to DMS or through Ansible; logical-replication settings (slot, plugin, heartbeat) as well.
  - A C(kinesis) endpoint writes to a Kinesis data stream (C(KinesisSettings)) with its message format and
    every C(Include*) flag.
  - C(community.aws.dms_endpoint) has no C(kinesis) engine and no PostgreSQL or Secrets Manager settings.
author:
  - SmartStream platform team (@smartstream)
options:
  identifier:
    description: Identifier of the endpoint (letters, digits, hyphens; starts with a letter).
    required: true
    type: str
  state:
    description: C(present) creates or modifies, C(absent) deletes.
    choices: [present, absent]
    default: present
    type: str
  endpoint_type:
    description: Whether DMS reads from (C(source)) or writes to (C(target)) the endpoint. Required with I(state=present).
    choices: [source, target]
    type: str
  engine:
    description: Engine of the endpoint. Required with I(state=present).
    choices: [postgres, aurora-postgresql, kinesis]
    type: str
  ssl_mode:
    description: TLS of the connection to the database (C(postgres) engines).
    choices: [none, require, verify-ca, verify-full]
    default: require
    type: str
  kms_key_id:
    description: KMS key encrypting the connection parameters; omitted uses the DMS default key.
    type: str
  postgres:
    description: Settings of a C(postgres) or C(aurora-postgresql) endpoint.
    type: dict
    suboptions:
      secret_arn:
        description: ARN of the Secrets Manager secret holding C(username), C(password), C(host) and C(port).
        type: str
        required: true
      secret_access_role_arn:
        description: Role DMS assumes to read the secret.
        type: str
        required: true
      database_name:
        description: Database to replicate.
        type: str
        required: true
      slot_name:
        description: Logical replication slot to use (DMS creates one when omitted).
        type: str
      plugin_name:
        description: Logical decoding plugin.
        choices: [no-preference, test-decoding, pglogical]
        type: str
      heartbeat_enable:
        description: Write a heartbeat so the replication slot's restart LSN moves on idle databases.
        type: bool
      heartbeat_frequency:
        description: Minutes between two heartbeats.
        type: int
  kinesis:
    description: Settings of a C(kinesis) endpoint.
    type: dict
    suboptions:
      stream_arn:
        description: ARN of the Kinesis data stream.
        type: str
        required: true
      access_role_arn:
        description: Role DMS assumes to write to the stream (kinesis:DescribeStream, PutRecord, PutRecords).
        type: str
        required: true
      message_format:
        description: C(json-unformatted) writes one record per line; C(json) pretty-prints.
        choices: [json, json-unformatted]
        default: json-unformatted
        type: str
      include_transaction_details:
        description: Add transaction id, previous transaction id and record id to each record.
        type: bool
        default: false
      include_partition_value:
        description: Add the partition value to each record.
        type: bool
        default: false
      partition_include_schema_table:
        description: Prefix partition keys with the schema and table names.
        type: bool
        default: false
      include_table_alter_operations:
        description: Send DDL changes (rename, drop, add or drop column) as control records.
        type: bool
        default: false
      include_control_details:
        description: Send detailed control information (table definitions, DDL).
        type: bool
        default: false
      include_null_and_empty:
        description: Include NULL and empty columns in the records.
        type: bool
        default: false
  test_connection_from:
    description:
      - ARN of a replication instance to test the connection from after the change; the module waits for the
        result and fails with DMS's message when it fails. Omitted tests nothing.
    type: str
  wait_timeout:
    description: Seconds to wait for the connection test or the deletion.
    type: int
    default: 600
  poll_interval:
    description: Longest pause between two looks while waiting (the first looks come after 1, 2, 4... seconds).
    type: int
    default: 10
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: PostgreSQL source whose credentials stay in Secrets Manager
  smartstream.pipeline.dms_endpoint:
    identifier: smartstream-dev-source
    endpoint_type: source
    engine: postgres
    ssl_mode: require
    postgres:
      secret_arn: arn:aws:secretsmanager:eu-north-1:123456789012:secret:smartstream/dev/rds/master-AbCdEf
      secret_access_role_arn: arn:aws:iam::123456789012:role/smartstream-dev-dms-secrets
      database_name: employees
      plugin_name: pglogical
      heartbeat_enable: true
    test_connection_from: arn:aws:dms:eu-north-1:123456789012:rep:ABCDEFGHIJ

- name: Kinesis target, one JSON record per line with transaction details
  smartstream.pipeline.dms_endpoint:
    identifier: smartstream-dev-kinesis
    endpoint_type: target
    engine: kinesis
    kinesis:
      stream_arn: arn:aws:kinesis:eu-north-1:123456789012:stream/smartstream-dev-cdc
      access_role_arn: arn:aws:iam::123456789012:role/smartstream-dev-dms-kinesis
      message_format: json-unformatted
      include_transaction_details: true
      include_partition_value: true
      partition_include_schema_table: true
"""

RETURN = r"""
endpoint:
  description: The endpoint after the change (empty when absent), as DescribeEndpoints returns it, in snake case.
  returned: always
  type: dict
  contains:
    endpoint_identifier:
      description: Identifier.
      returned: when present
      type: str
      sample: smartstream-dev-kinesis
    endpoint_arn:
      description: ARN.
      returned: when present
      type: str
      sample: arn:aws:dms:eu-north-1:123456789012:endpoint:ABCDEFGHIJ
    engine_name:
      description: Engine.
      returned: when present
      type: str
      sample: kinesis
    tags:
      description: Tags.
      returned: when present
      type: dict
      sample: {"Project": "smartstream"}
connection:
  description: Result of the connection test, when one was asked for.
  returned: when I(test_connection_from) is set and not in check mode
  type: dict
  contains:
    status:
      description: successful or failed.
      returned: always
      type: str
      sample: successful
    last_failure_message:
      description: Why the test failed.
      returned: when it failed
      type: str
      sample: Could not connect to the database
"""


try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.dms import apply_tags, get_tags, identifier_problem
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import (
    WaitFailed,
    WaitTimeout,
    canonical,
    tag_changes,
    wait_for,
)

POSTGRES_ENGINES = ("postgres", "aurora-postgresql")
KINESIS_FLAGS = {
    "include_transaction_details": "IncludeTransactionDetails",
    "include_partition_value": "IncludePartitionValue",
    "partition_include_schema_table": "PartitionIncludeSchemaTable",
    "include_table_alter_operations": "IncludeTableAlterOperations",
    "include_control_details": "IncludeControlDetails",
    "include_null_and_empty": "IncludeNullAndEmpty",
}


def describe(client, identifier):
    try:
        found = client.describe_endpoints(aws_retry=True, Filters=[{"Name": "endpoint-id", "Values": [identifier]}])[
            "Endpoints"
        ]
    except is_boto3_error_code("ResourceNotFoundFault"):
        return None
    return found[0] if found else None


def desired_settings(params):
    """The endpoint attributes this module manages, in the API's shape."""
    wanted = {"EndpointType": params["endpoint_type"], "EngineName": params["engine"]}
    if params["engine"] in POSTGRES_ENGINES:
        pg = params["postgres"]
        settings = {
            "SecretsManagerSecretId": pg["secret_arn"],
            "SecretsManagerAccessRoleArn": pg["secret_access_role_arn"],
            "DatabaseName": pg["database_name"],
        }
        for key, api in (
            ("slot_name", "SlotName"),
            ("plugin_name", "PluginName"),
            ("heartbeat_enable", "HeartbeatEnable"),
            ("heartbeat_frequency", "HeartbeatFrequency"),
        ):
            if pg.get(key) is not None:
                settings[api] = pg[key]
        wanted["PostgreSQLSettings"] = settings
        wanted["SslMode"] = params["ssl_mode"]
    else:
        kinesis = params["kinesis"]
        settings = {
            "StreamArn": kinesis["stream_arn"],
            "ServiceAccessRoleArn": kinesis["access_role_arn"],
            "MessageFormat": kinesis["message_format"],
        }
        settings.update({api: kinesis[key] for key, api in KINESIS_FLAGS.items()})
        wanted["KinesisSettings"] = settings
    return wanted


def differences(current, wanted):
    """The managed attributes that differ (settings compared on the keys the module sets)."""
    changes = {}
    for key, value in wanted.items():
        have = current.get(key)
        if isinstance(value, dict):
            have = have or {}
            if any(canonical(have.get(k)) != canonical(v) for k, v in value.items()):
                changes[key] = value
        elif have != value:
            changes[key] = value
    return changes


def view(client, endpoint):
    if not endpoint:
        return {}
    out = camel_dict_to_snake_dict({k: v for k, v in endpoint.items() if v is not None})
    out["tags"] = get_tags(client, endpoint["EndpointArn"])
    return out


def test_connection(module, client, endpoint_arn, instance_arn):
    try:
        client.test_connection(aws_retry=True, ReplicationInstanceArn=instance_arn, EndpointArn=endpoint_arn)
    except is_boto3_error_code("InvalidResourceStateFault"):
        pass  # a test is already running: wait for its result

    def look():
        found = client.describe_connections(
            aws_retry=True,
            Filters=[
                {"Name": "endpoint-arn", "Values": [endpoint_arn]},
                {"Name": "replication-instance-arn", "Values": [instance_arn]},
            ],
        )["Connections"]
        return found[0] if found else {"Status": "testing"}

    result = wait_for(
        look,
        lambda c: c["Status"] != "testing",
        "the connection test",
        timeout=module.params["wait_timeout"],
        delay=module.params["poll_interval"],
    )
    return camel_dict_to_snake_dict(result)


def ensure_present(module, client, params):
    identifier = params["identifier"]
    endpoint = describe(client, identifier)
    wanted = desired_settings(params)
    if endpoint is None:
        if module.check_mode:
            return True, {}, {"endpoint_identifier": identifier, "engine_name": params["engine"]}
        request = {"EndpointIdentifier": identifier, **wanted}
        if params["kms_key_id"]:
            request["KmsKeyId"] = params["kms_key_id"]
        if params["tags"]:
            request["Tags"] = ansible_dict_to_boto3_tag_list(params["tags"])
        endpoint = client.create_endpoint(aws_retry=True, **request)["Endpoint"]
        return True, {}, view(client, endpoint)

    before = view(client, endpoint)
    changes = differences(endpoint, wanted)
    to_set, to_remove = tag_changes(before["tags"], params["tags"], params["purge_tags"])
    if module.check_mode or not (changes or to_set or to_remove):
        return bool(changes or to_set or to_remove), before, before
    arn = endpoint["EndpointArn"]
    if changes:
        client.modify_endpoint(aws_retry=True, EndpointArn=arn, **changes)
    apply_tags(client, arn, to_set, to_remove)
    return True, before, view(client, describe(client, identifier))


def ensure_absent(module, client, params):
    endpoint = describe(client, params["identifier"])
    if endpoint is None:
        return False, {}, {}
    before = view(client, endpoint)
    if not module.check_mode:
        try:
            client.delete_endpoint(aws_retry=True, EndpointArn=endpoint["EndpointArn"])
        except is_boto3_error_code("InvalidResourceStateFault") as e:
            module.fail_json_aws(
                e, msg=f"Endpoint {params['identifier']} cannot be deleted now (a task still uses it?)"
            )
        wait_for(
            lambda: describe(client, params["identifier"]),
            lambda e: e is None,
            f"endpoint {params['identifier']} to be deleted",
            timeout=params["wait_timeout"],
            delay=params["poll_interval"],
        )
    return True, before, {}


def validate(module, params):
    problem = identifier_problem(params["identifier"], 255)
    if problem:
        module.fail_json(msg=problem)
    if params["state"] == "absent":
        return
    if not params["endpoint_type"] or not params["engine"]:
        module.fail_json(msg="state=present needs endpoint_type and engine")
    if params["engine"] in POSTGRES_ENGINES and not params["postgres"]:
        module.fail_json(msg=f"engine {params['engine']} needs the postgres settings (secret_arn, ...)")
    if params["engine"] == "kinesis":
        if not params["kinesis"]:
            module.fail_json(msg="engine kinesis needs the kinesis settings (stream_arn, access_role_arn)")
        if params["endpoint_type"] != "target":
            module.fail_json(msg="a kinesis endpoint can only be a target")


def main():
    argument_spec = dict(
        identifier=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        endpoint_type=dict(type="str", choices=["source", "target"]),
        engine=dict(type="str", choices=["postgres", "aurora-postgresql", "kinesis"]),
        ssl_mode=dict(type="str", default="require", choices=["none", "require", "verify-ca", "verify-full"]),
        kms_key_id=dict(type="str", no_log=False),
        postgres=dict(
            type="dict",
            options=dict(
                secret_arn=dict(type="str", required=True, no_log=False),
                secret_access_role_arn=dict(type="str", required=True, no_log=False),
                database_name=dict(type="str", required=True),
                slot_name=dict(type="str"),
                plugin_name=dict(type="str", choices=["no-preference", "test-decoding", "pglogical"]),
                heartbeat_enable=dict(type="bool"),
                heartbeat_frequency=dict(type="int"),
            ),
        ),
        kinesis=dict(
            type="dict",
            options=dict(
                stream_arn=dict(type="str", required=True),
                access_role_arn=dict(type="str", required=True),
                message_format=dict(type="str", default="json-unformatted", choices=["json", "json-unformatted"]),
                **{key: dict(type="bool", default=False) for key in KINESIS_FLAGS},
            ),
        ),
        test_connection_from=dict(type="str"),
        wait_timeout=dict(type="int", default=600),
        poll_interval=dict(type="int", default=10),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    validate(module, params)
    client = module.client("dms", retry_decorator=AWSRetry.jittered_backoff())
    result = {}
    try:
        if params["state"] == "present":
            changed, before, after = ensure_present(module, client, params)
            if params["test_connection_from"] and not module.check_mode:
                result["connection"] = test_connection(
                    module, client, after["endpoint_arn"], params["test_connection_from"]
                )
        else:
            changed, before, after = ensure_absent(module, client, params)
    except (WaitTimeout, WaitFailed) as e:
        module.fail_json(msg=f"Endpoint {params['identifier']}: {e}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Endpoint {params['identifier']}: the AWS request failed")
    result.update(changed=changed, endpoint=after)
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    if result.get("connection", {}).get("status") == "failed":
        module.fail_json(
            msg=f"Endpoint {params['identifier']}: the connection test failed: "
            f"{result['connection'].get('last_failure_message', 'no message')}",
            **result,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
