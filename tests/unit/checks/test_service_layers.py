"""Processing, catalog, analytics, monitoring and IAM checks against moto: good state passes, each fault fails."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks import (
    analytics,
    catalog,
    iam,
    monitoring,
    processing,
)

from .conftest import ACCOUNT, NAMES, PREFIX, REGION, client

LAKE = NAMES["data_lake_bucket"]


def trust(*services: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}],
        }
    )


def role(name: str, *services: str, policy: dict | None = None) -> str:
    arn = client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust(*services))["Role"]["Arn"]
    if policy:
        document = {"Version": "2012-10-17", **policy}
        client("iam").put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    return arn


def code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


@pytest.fixture
def functions(aws, monkeypatch):
    """Both functions (outside a VPC), the DLQ, the ML schedule and the transform's trigger."""
    arn = role(f"{PREFIX}-transform", "lambda.amazonaws.com")
    sqs = client("sqs")
    url = sqs.create_queue(
        QueueName=NAMES["dlq"], Attributes={"KmsMasterKeyId": "alias/aws/sqs", "MessageRetentionPeriod": "1209600"}
    )["QueueUrl"]
    dlq = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam, logs, found = client("lambda"), client("logs"), {}
    layer = lam.publish_layer_version(LayerName="pandas", Content={"ZipFile": code()})["LayerVersionArn"]
    for name in (NAMES["transform_function"], NAMES["ml_function"]):
        found[name] = lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=arn,
            Handler="handler.handler",
            Code={"ZipFile": code()},
            MemorySize=1024,
            Layers=[layer],
            DeadLetterConfig={"TargetArn": dlq},
            TracingConfig={"Mode": "Active"},
            Environment={"Variables": {"DATA_BUCKET": LAKE}},
        )["FunctionArn"]
        logs.create_log_group(logGroupName=f"/aws/lambda/{name}")
        logs.put_retention_policy(logGroupName=f"/aws/lambda/{name}", retentionInDays=1)
    # moto drops DeadLetterConfig from GetFunction (the emulator's lambda patch keeps it): read it as AWS returns it
    configuration = processing._configuration
    monkeypatch.setattr(
        processing,
        "_configuration",
        lambda ctx, name: {"DeadLetterConfig": {"TargetArn": dlq}} | configuration(ctx, name),
    )
    events = client("events")
    events.put_rule(Name=NAMES["ml_schedule_rule"], ScheduleExpression="rate(1 hour)", State="ENABLED")
    events.put_targets(Rule=NAMES["ml_schedule_rule"], Targets=[{"Id": "ml", "Arn": found[NAMES["ml_function"]]}])
    return found


PROCESSING = {
    "log_retention_days": 1,
    "processing": {
        "in_vpc": False,
        "pandas_layer_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:pandas:1",
        "ml_schedule_expression": "rate(1 hour)",
    },
}


def test_functions_schedule_queue_and_logs_as_deployed_pass(check, functions):
    for func in (processing.functions, processing.schedule, processing.dead_letter_queue, processing.function_logs):
        result = check(func, PROCESSING)
        assert result["ok"], (func.check_name, result["detail"])


def test_a_function_with_too_little_memory_and_another_schedule_fail(check, functions):
    client("lambda").update_function_configuration(FunctionName=NAMES["transform_function"], MemorySize=128)
    result = check(processing.functions, PROCESSING)
    assert not result["ok"]
    assert result["detail"] == {NAMES["transform_function"]: {"memory_at_least_512": {"want": True, "got": False}}}
    expected = {**PROCESSING, "processing": {**PROCESSING["processing"], "ml_schedule_expression": "rate(2 hours)"}}
    result = check(processing.schedule, expected)
    assert not result["ok"] and result["detail"] == {"expression": {"want": "rate(2 hours)", "got": "rate(1 hour)"}}


def test_invoke_permission_without_the_source_account_fails(check, functions):
    lam = client("lambda")
    lam.add_permission(
        FunctionName=NAMES["transform_function"],
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{LAKE}",
    )
    lam.add_permission(
        FunctionName=NAMES["ml_function"],
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{NAMES['ml_schedule_rule']}",
    )
    result = check(processing.invoke_permissions, PROCESSING)
    assert not result["ok"] and result["detail"] == {"transform from the bucket": {"want": True, "got": False}}


def test_a_queue_without_encryption_fails(check, functions):
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=NAMES["dlq"])["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": ""})
    result = check(processing.dead_letter_queue, PROCESSING)
    assert not result["ok"] and result["detail"]["kms"]["want"] == "alias/aws/sqs"


def test_functions_health_reports_each_function(check, functions):
    result = check(processing.functions_health, PROCESSING)
    assert result["ok"]
    assert (
        result["detail"]
        == "transform Active python3.12 errors alarm missing; ml-inference Active python3.12 errors alarm missing"
    )


CATALOG = {"catalog": {"crawler_schedule": "cron(0 2 * * ? *)"}}


def test_crawlers_on_the_schedule_pass_and_a_missing_one_fails(check):
    arn = role(f"{PREFIX}-glue-crawler", "glue.amazonaws.com")
    glue = client("glue")
    glue.create_database(DatabaseInput={"Name": NAMES["glue_database"]})
    glue.create_crawler(
        Name=f"{PREFIX}-trusted",
        Role=arn,
        DatabaseName=NAMES["glue_database"],
        Targets={"S3Targets": [{"Path": f"s3://{LAKE}/trusted/"}]},
        Schedule="cron(0 2 * * ? *)",
    )
    result = check(catalog.crawlers, CATALOG)
    assert not result["ok"] and result["detail"].startswith("missing: EntityNotFoundException")
    only = {f"{PREFIX}-trusted": "trusted/"}
    assert check(catalog.crawlers, CATALOG, crawlers=only)["ok"]
    assert check(catalog.crawlers_health, CATALOG, crawlers=only)["ok"]
    result = check(catalog.crawlers, {"catalog": {"crawler_schedule": "cron(0 3 * * ? *)"}}, crawlers=only)
    assert not result["ok"]


ANALYTICS = {"analytics": {"bytes_scanned_cutoff": 10737418240, "saved_queries": ["current-employees"]}}


def test_workgroup_and_saved_queries(check):
    athena = client("athena")
    configuration = {
        "ResultConfiguration": {
            "OutputLocation": f"s3://{NAMES['athena_results_bucket']}/results/",
            "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
        },
        "EnforceWorkGroupConfiguration": True,
        "PublishCloudWatchMetricsEnabled": True,
        "BytesScannedCutoffPerQuery": 10737418240,
    }
    athena.create_work_group(Name=NAMES["workgroup"], Configuration=configuration)
    athena.create_named_query(
        Name="current-employees", Database=NAMES["glue_database"], QueryString="SELECT 1", WorkGroup=NAMES["workgroup"]
    )
    assert check(analytics.workgroup, ANALYTICS)["ok"]
    assert check(analytics.saved_queries, ANALYTICS)["ok"]
    athena.create_named_query(Name="other", Database="elsewhere", QueryString="SELECT 2", WorkGroup=NAMES["workgroup"])
    result = check(analytics.saved_queries, ANALYTICS)
    assert not result["ok"] and result["detail"]["elsewhere"] == {"want": [], "got": ["other"]}
    result = check(analytics.workgroup, {"analytics": {**ANALYTICS["analytics"], "bytes_scanned_cutoff": 1}})
    assert not result["ok"] and set(result["detail"]) == {"cutoff"}


def alarm(name: str, metric: str, actions: list[str]) -> None:
    client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        MetricName=metric,
        Namespace="X",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=actions,
    )


def test_alarms_must_cover_every_stage_and_notify_the_topic(check):
    topic = client("sns").create_topic(Name=NAMES["alert_topic"])["TopicArn"]
    for i, metric in enumerate(monitoring.COVERED_METRICS):
        alarm(f"{PREFIX}-a{i}", metric, [topic])
    assert check(monitoring.alarms, {})["ok"]
    alarm(f"{PREFIX}-a0", monitoring.COVERED_METRICS[0], [])
    client("cloudwatch").delete_alarms(AlarmNames=[f"{PREFIX}-a1"])
    result = check(monitoring.alarms, {"monitoring": {"alarm_names": [f"{PREFIX}-a1"]}})
    assert not result["ok"]
    assert result["detail"] == {
        "missing": {"want": [], "got": [f"{PREFIX}-a1"]},
        "unwired": {"want": [], "got": [f"{PREFIX}-a0"]},
        "uncovered_metrics": {"want": [], "got": [monitoring.COVERED_METRICS[1]]},
    }


def test_alarms_health_names_the_alarms_in_alarm(check):
    alarm(f"{PREFIX}-x", "Errors", [])
    assert check(monitoring.alarms_health, {})["ok"]
    client("cloudwatch").set_alarm_state(AlarmName=f"{PREFIX}-x", StateValue="ALARM", StateReason="t")
    result = check(monitoring.alarms_health, {})
    assert not result["ok"] and result["detail"] == f"1 alarm(s), in ALARM: {PREFIX}-x"


def test_topic_without_a_tls_only_statement_fails(check):
    client("sns").create_topic(Name=NAMES["alert_topic"])
    result = check(monitoring.topic, {})
    assert not result["ok"] and result["detail"]["tls_only"] == {"want": True, "got": False}


SCOPED = {"Statement": [{"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}]}
ROLES = {"iam": {"roles": {f"{PREFIX}-firehose": ["firehose.amazonaws.com"]}}}


def test_one_role_per_principal_with_scoped_policies_passes(check):
    role(f"{PREFIX}-firehose", "firehose.amazonaws.com", policy=SCOPED)
    role(
        "someone-else",
        "lambda.amazonaws.com",
        policy={"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    )
    assert check(iam.trust, ROLES)["ok"]
    assert check(iam.least_privilege, ROLES)["ok"]


def test_a_star_action_and_an_extra_role_with_an_attached_admin_policy_fail(check):
    role(
        f"{PREFIX}-firehose",
        "firehose.amazonaws.com",
        policy={"Statement": [{"Sid": "All", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b"}]},
    )
    role(f"{PREFIX}-extra", "ec2.amazonaws.com")
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    arn = client("iam").create_policy(PolicyName="admin", PolicyDocument=json.dumps(everything))["Policy"]["Arn"]
    client("iam").attach_role_policy(RoleName=f"{PREFIX}-extra", PolicyArn=arn)
    result = check(iam.trust, ROLES)
    assert not result["ok"] and result["detail"]["got"] == [f"{PREFIX}-extra", f"{PREFIX}-firehose"]
    problems = check(iam.least_privilege, ROLES)["detail"]
    assert f"{PREFIX}-firehose/p/All: action s3:*" in problems
    assert f"{PREFIX}-extra/admin/Admin: action *" in problems


def test_privilege_rules():
    assert iam.privilege_problems("p", SCOPED) == []
    star = {"Statement": [{"Sid": "Any", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}
    assert iam.privilege_problems("p", star) == ["p/Any: Resource * without a documented reason"]
    tracing = {
        "Statement": [{"Sid": "Tracing", "Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": "*"}]
    }
    assert iam.privilege_problems("p", tracing) == []
    deny = {"Statement": [{"Sid": "TlsOnly", "Effect": "Deny", "Action": "*", "Resource": "*"}]}
    assert iam.privilege_problems("p", deny) == []
    encoded = json.dumps({"Statement": [{"Sid": "x", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]})
    assert iam.privilege_problems("p", encoded.replace(" ", "%20")) == [
        "p/x: Resource * without a documented reason",
        "p/x: NotAction/NotResource",
    ]
