"""The harness patches of moto behave as the AWS behaviour they imitate."""

from __future__ import annotations

import json
import time
from urllib.parse import unquote_plus

import boto3
import pytest
from botocore.exceptions import ClientError

from emulator import patches
from emulator.patches import awslambda, s3
from emulator.patches import glue as glue_patches

patches.apply_all()
REGION = "us-east-1"


@pytest.fixture
def aws(in_process_aws):
    return in_process_aws


def test_every_patch_is_registered_and_applied_once():
    assert patches.apply_all() == list(patches.PATCHES)
    assert set(patches.PATCHES) == {
        # the HTTP front: per-request latency (tests/emulator/test_server_latency.py)
        "moto_service_list_read_once",
        # Secrets Manager rotation (tests/emulator/test_secretsmanager_rotation.py)
        "secretsmanager_awscurrent_moves_with_its_label",
        "secretsmanager_rotation_runs_the_function",
        "werkzeug_no_drain_wait_after_response",
        "werkzeug_keep_alive_connections",
        "werkzeug_no_nagle_delay",
        "moto_request_id_only_where_the_body_has_one",
        "rds_engine_default_parameters",
        "rds_parameter_group_not_found",
        "s3_bucket_policy_transport_conditions",
        "ec2_nat_gateway_tag_resource_type",
        "ec2_network_acl_id_filter",
        "ec2_filter_values_are_ored",
        "ec2_delete_vpc_network_acls",
        "ec2_group_rule_identity_without_description",
        "ec2_modify_vpc_endpoint_private_dns",
        "athena_work_group_not_found",
        "athena_update_work_group",
        "glue_last_crawl_status_names",
        "dms_tag_resource",
        "dms_modify_endpoint",
        "dms_replication_subnet_groups",
        "dms_replication_task_lifecycle",
        "athena_named_query_update_delete",
        "athena_list_tags_untagged",
        "glue_update_crawler",
        "s3_notification_filter_rules",
        "rds_gp3_baseline_performance",
        "dms_test_connection_again",
        "lambda_dead_letter_config",
        "glue_crawls_finish",
        "lambda_public_layers",
        "iam_account_root_credentials",
        "iam_unnamed_resource_matches",
        "iam_access_denied_in_service_protocol",
        "iam_kms_permissions_implied_by_encrypted_resources",
        "kms_key_state_calls_by_arn",
        "kinesis_shard_constant_time_records",
        "kinesis_shard_iterator_by_arn",
        "kinesis_records_to_open_shards",
        "kinesis_records_trimmed_after_retention",
        "kinesis_records_held_as_bytes",
        "kinesis_records_held_compressed",
        "firehose_kinesis_source_delivery_start",
        "firehose_direct_put_refused_on_kinesis_source",
        "glue_crawler_metrics",
        # slow mode (SMARTSTREAM_EMULATOR_SLOW): tests/emulator/test_slow_mode.py
        "rds_instance_times_slow",
        "rds_modify_event_subscription",
        "dms_replication_instance_deleting_slow",
        "ec2_nat_gateway_times_slow",
        "firehose_delivery_stream_times_slow",
        "kinesis_stream_creating_slow",
        "lambda_vpc_enis_slow",
        # what a security scanner reads (tests/emulator/test_patches_rds_catalogue.py, test_patches_secretsmanager.py)
        "rds_ca_certificates",
        "rds_describe_db_engine_versions",
        "rds_major_version_takes_its_default_minor",
        "secretsmanager_last_accessed_date",
    }


def test_describe_engine_default_parameters_lists_the_family(aws):
    rds = boto3.client("rds", region_name=REGION)
    defaults = rds.describe_engine_default_parameters(DBParameterGroupFamily="postgres15")["EngineDefaults"]
    by_name = {p["ParameterName"]: p for p in defaults["Parameters"]}
    assert defaults["DBParameterGroupFamily"] == "postgres15"
    assert by_name["rds.logical_replication"]["ApplyType"] == "static"
    assert by_name["rds.logical_replication"]["DataType"] == "boolean"
    assert by_name["rds.force_ssl"]["ApplyType"] == "dynamic"


def test_new_parameter_group_lists_engine_defaults_then_user_values(aws):
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_parameter_group(DBParameterGroupName="pg", DBParameterGroupFamily="postgres15", Description="test")
    params = {p["ParameterName"]: p for p in rds.describe_db_parameters(DBParameterGroupName="pg")["Parameters"]}
    assert params["rds.logical_replication"]["Source"] == "engine-default"
    assert params["rds.logical_replication"]["IsModifiable"] is True

    rds.modify_db_parameter_group(
        DBParameterGroupName="pg",
        Parameters=[
            {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}
        ],
    )
    params = {p["ParameterName"]: p for p in rds.describe_db_parameters(DBParameterGroupName="pg")["Parameters"]}
    assert params["rds.logical_replication"]["ParameterValue"] == "1"
    assert params["rds.logical_replication"]["Source"] == "user"
    assert params["rds.logical_replication"]["DataType"] == "boolean"  # metadata kept
    user_only = rds.describe_db_parameters(DBParameterGroupName="pg", Source="user")["Parameters"]
    assert [p["ParameterName"] for p in user_only] == ["rds.logical_replication"]


def test_unknown_parameter_group_raises_not_found(aws):
    rds = boto3.client("rds", region_name=REGION)
    with pytest.raises(ClientError) as err:
        rds.describe_db_parameter_groups(DBParameterGroupName="missing")
    assert err.value.response["Error"]["Code"] == "DBParameterGroupNotFound"


TLS_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::lake", "arn:aws:s3:::lake/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::lake", "arn:aws:s3:::lake/*"],
            "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
        },
    ],
}


def test_tls_only_policy_lets_tls_requests_through(aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key="raw/a.json", Body=b"{}")
    s3.put_bucket_policy(Bucket="lake", Policy=json.dumps(TLS_ONLY))
    assert s3.get_object(Bucket="lake", Key="raw/a.json")["Body"].read() == b"{}"


def test_unconditional_deny_still_denies(aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key="raw/a.json", Body=b"{}")
    deny_all = {**TLS_ONLY, "Statement": [{**TLS_ONLY["Statement"][0]}]}
    del deny_all["Statement"][0]["Condition"]
    s3.put_bucket_policy(Bucket="lake", Policy=json.dumps(deny_all))
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="lake", Key="raw/a.json")
    assert err.value.response["Error"]["Code"] in ("403", "AccessDenied")


@pytest.mark.parametrize(
    ("condition", "applies"),
    [
        ({"Bool": {"aws:SecureTransport": "false"}}, False),
        ({"Bool": {"aws:SecureTransport": "true"}}, True),
        ({"NumericLessThan": {"s3:TlsVersion": "1.2"}}, False),
        ({"NumericLessThan": {"s3:TlsVersion": "1.3"}}, True),
        ({"StringEquals": {"aws:SourceVpce": "vpce-1"}}, True),  # unknown key: moto's behaviour kept
        (None, True),
    ],
)
def test_statement_applies_to_tls_request(condition, applies):
    statement = {"Effect": "Deny"} if condition is None else {"Effect": "Deny", "Condition": condition}
    assert s3.statement_applies_to_tls_request(statement) is applies


def test_unknown_athena_work_group_raises_invalid_request(aws):
    athena = boto3.client("athena", region_name=REGION)
    with pytest.raises(ClientError) as err:
        athena.get_work_group(WorkGroup="missing")
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "is not found" in err.value.response["Error"]["Message"]


def test_update_work_group_applies_settings_and_remove_flags(aws):
    athena = boto3.client("athena", region_name=REGION)
    athena.create_work_group(
        Name="wg",
        Configuration={
            "ResultConfiguration": {
                "OutputLocation": "s3://b/r/",
                "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
            },
            "BytesScannedCutoffPerQuery": 10_000_000_000,
        },
    )

    athena.update_work_group(
        WorkGroup="wg",
        Description="new",
        State="DISABLED",
        ConfigurationUpdates={
            "PublishCloudWatchMetricsEnabled": True,
            "RemoveBytesScannedCutoffPerQuery": True,
            "ResultConfigurationUpdates": {"RemoveEncryptionConfiguration": True, "OutputLocation": "s3://b/q/"},
        },
    )

    group = athena.get_work_group(WorkGroup="wg")["WorkGroup"]
    config = group["Configuration"]
    assert (group["Description"], group["State"]) == ("new", "DISABLED")
    assert config["PublishCloudWatchMetricsEnabled"] is True
    assert "BytesScannedCutoffPerQuery" not in config
    assert config["ResultConfiguration"] == {"OutputLocation": "s3://b/q/"}


def test_last_crawl_status_uses_the_aws_names(aws):
    from moto.moto_api import state_manager

    state_manager.set_transition(model_name="glue::crawl", transition={"progression": "immediate"})
    glue = boto3.client("glue", region_name=REGION)
    glue.create_crawler(Name="c", Role="arn:aws:iam::123456789012:role/r", Targets={"S3Targets": [{"Path": "s3://b/"}]})
    glue.start_crawler(Name="c")

    for _ in range(5):
        crawler = glue.get_crawler(Name="c")["Crawler"]
        if crawler["State"] == "READY":
            break

    state_manager.unset_transition(model_name="glue::crawl")
    assert crawler["State"] == "READY"
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"


def test_dms_resources_can_be_tagged_and_untagged(aws):
    dms = boto3.client("dms", region_name=REGION)
    arn = dms.create_replication_instance(
        ReplicationInstanceIdentifier="ri", ReplicationInstanceClass="dms.t3.medium", Tags=[{"Key": "a", "Value": "1"}]
    )["ReplicationInstance"]["ReplicationInstanceArn"]

    dms.add_tags_to_resource(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])
    dms.remove_tags_from_resource(ResourceArn=arn, TagKeys=["a"])

    tags = dms.list_tags_for_resource(ResourceArn=arn)["TagList"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("b", "2")]


def test_modify_endpoint_merges_settings_unless_exact(aws):
    dms = boto3.client("dms", region_name=REGION)
    arn = dms.create_endpoint(
        EndpointIdentifier="t",
        EndpointType="target",
        EngineName="kinesis",
        KinesisSettings={"StreamArn": "arn:s", "MessageFormat": "json", "IncludeControlDetails": True},
    )["Endpoint"]["EndpointArn"]

    merged = dms.modify_endpoint(EndpointArn=arn, KinesisSettings={"MessageFormat": "json-unformatted"})["Endpoint"]
    exact = dms.modify_endpoint(EndpointArn=arn, KinesisSettings={"StreamArn": "arn:t"}, ExactSettings=True)["Endpoint"]

    assert merged["KinesisSettings"] == {
        "StreamArn": "arn:s",
        "MessageFormat": "json-unformatted",
        "IncludeControlDetails": True,
    }
    assert exact["KinesisSettings"] == {"StreamArn": "arn:t"}


def test_replication_task_lifecycle_follows_aws(aws):
    dms = boto3.client("dms", region_name=REGION)
    arn = dms.create_replication_task(
        ReplicationTaskIdentifier="t",
        SourceEndpointArn="arn:s",
        TargetEndpointArn="arn:t",
        ReplicationInstanceArn="arn:r",
        MigrationType="full-load-and-cdc",
        TableMappings='{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1", "rule-action": "include",'
        ' "object-locator": {"schema-name": "public", "table-name": "employees"}}]}',
    )["ReplicationTask"]["ReplicationTaskArn"]

    def status():
        task = dms.describe_replication_tasks(Filters=[{"Name": "replication-task-arn", "Values": [arn]}])[
            "ReplicationTasks"
        ][0]
        return task["Status"], task.get("StopReason")

    assert [status()[0] for _ in range(2)] == ["creating", "ready"]
    with pytest.raises(ClientError, match="needs a task that ran before"):
        dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="resume-processing")
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    assert [status()[0] for _ in range(2)] == ["starting", "running"]
    with pytest.raises(ClientError, match="stop it before modifying"):
        dms.modify_replication_task(ReplicationTaskArn=arn, ReplicationTaskSettings="{}")
    dms.stop_replication_task(ReplicationTaskArn=arn)
    assert [status() for _ in range(2)] == [("stopping", None), ("stopped", "Stop Reason NORMAL")]
    with pytest.raises(ClientError, match="for a first run"):
        dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    stats = dms.describe_table_statistics(ReplicationTaskArn=arn)["TableStatistics"]
    assert [(t["SchemaName"], t["TableName"]) for t in stats] == [("public", "employees")]


def test_named_queries_can_be_updated_deleted_and_go_with_their_work_group(aws):
    athena = boto3.client("athena", region_name=REGION)
    athena.create_work_group(Name="wg")
    qid = athena.create_named_query(Name="q", Database="db", QueryString="SELECT 1", WorkGroup="wg")["NamedQueryId"]
    athena.update_named_query(NamedQueryId=qid, Name="q2", Description="d", QueryString="SELECT 2")
    query = athena.get_named_query(NamedQueryId=qid)["NamedQuery"]
    assert (query["Name"], query["Description"], query["QueryString"]) == ("q2", "d", "SELECT 2")
    athena.delete_named_query(NamedQueryId=qid)
    assert athena.list_named_queries(WorkGroup="wg")["NamedQueryIds"] == []
    with pytest.raises(ClientError) as err:
        athena.delete_named_query(NamedQueryId=qid)
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"
    athena.create_named_query(Name="q", Database="db", QueryString="SELECT 1", WorkGroup="wg")
    athena.delete_work_group(WorkGroup="wg", RecursiveDeleteOption=True)
    athena.create_work_group(Name="wg")
    assert athena.list_named_queries(WorkGroup="wg")["NamedQueryIds"] == []


def _function(layers):
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="fn",
        Runtime="python3.12",
        Role=role,
        Handler="h.h",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        Layers=layers,
    )


def test_a_layer_shared_by_another_account_is_accepted(aws):
    arn = f"arn:aws:lambda:{REGION}:336392948345:layer:AWSSDKPandas-Python312:16"
    assert [layer["Arn"] for layer in _function([arn])["Layers"]] == [arn]


def test_an_unknown_layer_of_the_own_account_still_fails(aws):
    with pytest.raises(ClientError) as err:
        _function([f"arn:aws:lambda:{REGION}:123456789012:layer:missing:1"])
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("arn", "foreign"),
    [
        ("arn:aws:lambda:eu-north-1:336392948345:layer:AWSSDKPandas-Python312:16", True),
        ("arn:aws:lambda:eu-north-1:123456789012:layer:mine:1", False),
        ("arn:aws:lambda:eu-north-1:336392948345:layer:AWSSDKPandas-Python312", False),
    ],
)
def test_foreign_layer_version(arn, foreign):
    assert awslambda.foreign_layer_version(arn, "123456789012") is foreign


def test_an_untagged_work_group_lists_no_tags(aws):
    athena = boto3.client("athena", region_name=REGION)
    athena.create_work_group(Name="plain")
    arn = f"arn:aws:athena:{REGION}:123456789012:workgroup/plain"
    assert athena.list_tags_for_resource(ResourceARN=arn)["Tags"] == []


def test_update_crawler_changes_settings_and_schedule(aws):
    glue = boto3.client("glue", region_name=REGION)
    glue.create_crawler(
        Name="c",
        Role="r",
        DatabaseName="db",
        Targets={"S3Targets": [{"Path": "s3://b/x/"}]},
        Schedule="cron(0 2 * * ? *)",
    )
    glue.update_crawler(Name="c", Targets={"S3Targets": [{"Path": "s3://b/y/"}]}, Schedule="")
    crawler = glue.get_crawler(Name="c")["Crawler"]
    assert crawler["Targets"]["S3Targets"][0]["Path"] == "s3://b/y/"
    assert "Schedule" not in crawler
    assert crawler["Version"] == 2
    with pytest.raises(ClientError) as err:
        glue.update_crawler(Name="missing", Role="r")
    assert err.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_notification_filter_rules_in_any_case_and_empty(aws):
    s3 = boto3.client("s3", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    s3.create_bucket(Bucket="lake")
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rules = [{"Name": "Prefix", "Value": "raw/"}, {"Name": "Suffix", "Value": ""}]
    s3.put_bucket_notification_configuration(
        Bucket="lake",
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "n",
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": rules}},
                }
            ]
        },
    )
    read = s3.get_bucket_notification_configuration(Bucket="lake")["QueueConfigurations"][0]
    assert read["Filter"]["Key"]["FilterRules"] == rules
    s3.put_object(Bucket="lake", Key="raw/a.gz", Body=b"x")
    s3.put_object(Bucket="lake", Key="trusted/b.parquet", Body=b"x")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    keys = [json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in messages if "Records" in m["Body"]]
    assert [unquote_plus(k) for k in keys] == ["raw/a.gz"]  # event keys are URL-encoded, as on AWS


def test_gp3_instance_reports_baseline_performance(aws):
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_instance(
        DBInstanceIdentifier="db",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        StorageType="gp3",
        MasterUsername="admin",
        MasterUserPassword="x" * 16,
    )
    instance = rds.describe_db_instances(DBInstanceIdentifier="db")["DBInstances"][0]
    assert (instance["Iops"], instance["StorageThroughput"]) == (3000, 125)


def test_a_connection_can_be_tested_again(aws):
    dms = boto3.client("dms", region_name=REGION)
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier="ri", ReplicationInstanceClass="dms.t3.micro"
    )["ReplicationInstance"]["ReplicationInstanceArn"]
    endpoint = dms.create_endpoint(EndpointIdentifier="src", EndpointType="source", EngineName="postgres")["Endpoint"][
        "EndpointArn"
    ]
    for _ in range(2):
        dms.test_connection(ReplicationInstanceArn=instance, EndpointArn=endpoint)
    found = dms.describe_connections(Filters=[{"Name": "endpoint-arn", "Values": [endpoint]}])["Connections"]
    assert len(found) == 1


def test_a_function_keeps_its_dead_letter_config(aws):
    arn = f"arn:aws:sqs:{REGION}:123456789012:dlq"
    _function([])
    client = boto3.client("lambda", region_name=REGION)
    client.update_function_configuration(FunctionName="fn", DeadLetterConfig={"TargetArn": arn})
    assert client.get_function(FunctionName="fn")["Configuration"]["DeadLetterConfig"] == {"TargetArn": arn}


def test_a_crawl_ends_after_the_default_duration(aws):
    glue = boto3.client("glue", region_name=REGION)
    glue.create_crawler(Name="c", Role="r", DatabaseName="d", Targets={"S3Targets": [{"Path": "s3://b/x/"}]})
    glue.start_crawler(Name="c")
    assert glue.get_crawler(Name="c")["Crawler"]["State"] == "RUNNING"
    time.sleep(glue_patches.CRAWL_SECONDS + 0.5)
    crawler = glue.get_crawler(Name="c")["Crawler"]
    assert (crawler["State"], crawler["LastCrawl"]["Status"]) == ("READY", "SUCCEEDED")


def test_key_state_calls_take_the_key_arn(aws):
    # Given a customer key, When its state changes are asked by ARN (as amazon.aws.kms_key asks them)
    kms = boto3.client("kms", region_name="us-east-1")
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    kms.disable_key(KeyId=arn)
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=arn)
    kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
    # Then each one applies, as with the key id
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    kms.cancel_key_deletion(KeyId=arn)
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "Disabled"
