"""Read the converged platform back from the emulator and check every layer.

Usage (molecule verify runs it):
  python -m tests.harness.verify_platform --outputs outputs/<host>.json --expect '<json>'

``--expect`` holds the inventory's values the deployment must show (shards,
retention, schedules, layer ARN, ...). Each check reads the configuration
through the AWS API (never the playbook's own facts) and records
``{layer, check, ok, detail}``; the report is printed as JSON and the exit
status is 1 when any check failed. Besides each layer's settings, every IAM
policy of the platform is checked for least privilege: no ``*`` action, no
service-wide ``service:*`` action, and a ``*`` resource only in the statements
whose API cannot be scoped (ALLOWED_STAR_RESOURCE).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

from tests.harness.emulator_inventory import client

# Statement ids that may name Resource "*", and why (see the policy templates).
ALLOWED_STAR_RESOURCE = {
    "Tracing": "X-Ray trace APIs have no resource-level permissions",
    "VpcNetworkInterfaces": "Lambda's VPC attachment: ec2 Describe* cannot be scoped; ENI ids are unknown in advance",
}


class Report:
    def __init__(self) -> None:
        self.checks: list[dict[str, Any]] = []

    def check(self, layer: str, name: str, ok: bool, detail: Any = "") -> None:
        self.checks.append({"layer": layer, "check": name, "ok": bool(ok), "detail": detail if not ok else ""})

    def run(self, layer: str, name: str, func: Callable[[], tuple[bool, Any]]) -> None:
        try:
            ok, detail = func()
        except Exception as e:  # a failed read is a failed check, reported with its cause
            ok, detail = False, f"{type(e).__name__}: {e}"
        self.check(layer, name, ok, detail)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if not c["ok"]]


def statements(document: Any) -> Iterator[dict[str, Any]]:
    if isinstance(document, str):
        document = json.loads(unquote(document))
    found = document.get("Statement", [])
    yield from [found] if isinstance(found, dict) else found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def privilege_problems(policy_name: str, document: Any) -> list[str]:
    """Least-privilege problems of one policy document (empty when none)."""
    problems = []
    for st in statements(document):
        if st.get("Effect") != "Allow":
            continue
        sid = st.get("Sid", "?")
        for action in as_list(st.get("Action", [])):
            if action == "*" or action.endswith(":*"):
                problems.append(f"{policy_name}/{sid}: action {action}")
        if "*" in as_list(st.get("Resource", [])) and sid not in ALLOWED_STAR_RESOURCE:
            problems.append(f"{policy_name}/{sid}: Resource * without a documented reason")
        if "NotAction" in st or "NotResource" in st:
            problems.append(f"{policy_name}/{sid}: NotAction/NotResource")
    return problems


def role_policies(iam: Any, role: str) -> dict[str, Any]:
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    return {n: iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names}


def verify(outputs: dict[str, Any], expect: dict[str, Any], region: str) -> Report:
    report = Report()
    prefix = f"smartstream-{outputs['environment']}"
    lake = outputs["storage"]["data_lake_bucket_name"]
    lake_arn = f"arn:aws:s3:::{lake}"
    private_subnets = sorted(outputs["network"]["private_subnet_ids"])
    sgs = outputs["network"]["security_group_ids"]
    rds, kinesis, firehose, dms = (client(s, region) for s in ("rds", "kinesis", "firehose", "dms"))
    lam, s3, events, sqs, logs = (client(s, region) for s in ("lambda", "s3", "events", "sqs", "logs"))
    glue, athena, sns, cw, iam = (client(s, region) for s in ("glue", "athena", "sns", "cloudwatch", "iam"))

    # ------------------------------------------------------------- database
    db_id = outputs["database"]["identifier"]

    def db_instance() -> tuple[bool, Any]:
        d = rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]
        want = {
            "StorageEncrypted": True,
            "PubliclyAccessible": False,
            "MultiAZ": expect["rds_multi_az"],
            "DeletionProtection": expect["rds_deletion_protection"],
            "BackupRetentionPeriod": expect["rds_backup_retention_days"],
            "Engine": "postgres",
            "DBSubnetGroup": db_id,
            "ParameterGroup": f"{db_id}-postgres15",
            "SecurityGroups": [sgs["rds"]],
            "LogExports": ["postgresql", "upgrade"],
        }
        got = {
            "StorageEncrypted": d["StorageEncrypted"],
            "PubliclyAccessible": d["PubliclyAccessible"],
            "MultiAZ": d["MultiAZ"],
            "DeletionProtection": d["DeletionProtection"],
            "BackupRetentionPeriod": d["BackupRetentionPeriod"],
            "Engine": d["Engine"],
            "DBSubnetGroup": d["DBSubnetGroup"]["DBSubnetGroupName"],
            "ParameterGroup": d["DBParameterGroups"][0]["DBParameterGroupName"],
            "SecurityGroups": [g["VpcSecurityGroupId"] for g in d["VpcSecurityGroups"]],
            "LogExports": sorted(d.get("EnabledCloudwatchLogsExports", [])),
        }
        return got == want, {"want": want, "got": got}

    def db_subnets() -> tuple[bool, Any]:
        g = rds.describe_db_subnet_groups(DBSubnetGroupName=db_id)["DBSubnetGroups"][0]
        got = sorted(s["SubnetIdentifier"] for s in g["Subnets"])
        return got == private_subnets, got

    def db_parameters() -> tuple[bool, Any]:
        params = rds.describe_db_parameters(DBParameterGroupName=f"{db_id}-postgres15", Source="user")["Parameters"]
        got = {p["ParameterName"]: p.get("ParameterValue") for p in params}
        return got.get("rds.logical_replication") == "1" and got.get("rds.force_ssl") == "1", got

    def db_secret() -> tuple[bool, Any]:
        sm = client("secretsmanager", region)
        value = json.loads(sm.get_secret_value(SecretId=outputs["secrets"]["db_secret_name"])["SecretString"])
        endpoint = rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]["Endpoint"]
        shape = sorted(value)
        ok = (
            value.get("host") == endpoint["Address"]
            and value.get("port") == endpoint["Port"]
            and len(value["password"]) == 32
        )
        return ok, {"keys": shape}

    report.run("database", "instance encrypted, private, backed up, logs exported, per environment", db_instance)
    report.run("database", "subnet group holds the private subnets only", db_subnets)
    report.run("database", "parameter group: logical replication and TLS enforced", db_parameters)
    report.run("database", "secret holds the endpoint the instance reports (DMS reads it)", db_secret)

    # ------------------------------------------------------------ streaming
    stream = outputs["streaming"]["stream_name"]

    def kinesis_stream() -> tuple[bool, Any]:
        d = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        got = {
            "status": d["StreamStatus"],
            "encryption": d.get("EncryptionType"),
            "key": d.get("KeyId"),
            "shards": d["OpenShardCount"],
            "retention": d["RetentionPeriodHours"],
        }
        want = {
            "status": "ACTIVE",
            "encryption": "KMS",
            "key": "alias/aws/kinesis",
            "shards": expect["kinesis_shards"],
            "retention": expect["kinesis_retention_hours"],
        }
        return got == want, {"want": want, "got": got}

    def delivery_stream() -> tuple[bool, Any]:
        d = firehose.describe_delivery_stream(DeliveryStreamName=outputs["streaming"]["delivery_stream_name"])[
            "DeliveryStreamDescription"
        ]
        dest = d["Destinations"][0]["ExtendedS3DestinationDescription"]
        got = {
            "status": d["DeliveryStreamStatus"],
            "type": d["DeliveryStreamType"],
            "source": d["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"],
            "bucket": dest["BucketARN"],
            "prefix": dest["Prefix"],
            "errors": dest.get("ErrorOutputPrefix", "").startswith("errors/firehose/"),
            "compression": dest["CompressionFormat"],
            "buffer": [dest["BufferingHints"]["IntervalInSeconds"], dest["BufferingHints"]["SizeInMBs"]],
            "logging": dest["CloudWatchLoggingOptions"]["Enabled"],
        }
        want = {
            "status": "ACTIVE",
            "type": "KinesisStreamAsSource",
            "source": outputs["streaming"]["stream_arn"],
            "bucket": lake_arn,
            "prefix": "raw/",
            "errors": True,
            "compression": "GZIP",
            "buffer": [expect["firehose_buffer_interval_seconds"], expect["firehose_buffer_size_mb"]],
            "logging": True,
        }
        return got == want, {"want": want, "got": got}

    def firehose_logs() -> tuple[bool, Any]:
        group = outputs["streaming"]["log_group"]
        found = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        ok = found and found[0].get("retentionInDays") == expect["log_retention_days"] and streams
        return bool(ok), {"groups": found, "streams": [s["logStreamName"] for s in streams]}

    report.run("streaming", "Kinesis stream active, KMS-encrypted, shards and retention per inventory", kinesis_stream)
    report.run("streaming", "Firehose reads the stream, GZIP to raw/ with error prefix and logging", delivery_stream)
    report.run("streaming", "Firehose error log group with retention and its stream", firehose_logs)

    # ------------------------------------------------------------ ingestion
    ing = outputs["ingestion"]

    def dms_instance() -> tuple[bool, Any]:
        d = dms.describe_replication_instances(
            Filters=[{"Name": "replication-instance-id", "Values": [ing["replication_instance_id"]]}]
        )["ReplicationInstances"][0]
        got = {
            "public": d["PubliclyAccessible"],
            "subnet_group": d["ReplicationSubnetGroup"]["ReplicationSubnetGroupIdentifier"],
            "sgs": [g["VpcSecurityGroupId"] for g in d.get("VpcSecurityGroups", [])],
        }
        want = {"public": False, "subnet_group": f"{prefix}-dms", "sgs": [sgs["dms"]]}
        return got == want, {"want": want, "got": got}

    def dms_endpoints() -> tuple[bool, Any]:
        found = {e["EndpointIdentifier"]: e for e in dms.describe_endpoints()["Endpoints"]}
        src, tgt = found[f"{prefix}-source"], found[f"{prefix}-kinesis"]
        pg, ks = src.get("PostgreSQLSettings", {}), tgt.get("KinesisSettings", {})
        got = {
            "source": [src["EndpointType"], src["EngineName"], src.get("SslMode")],
            "secret": pg.get("SecretsManagerSecretId"),
            "secret_role": pg.get("SecretsManagerAccessRoleArn"),
            "no_password_in_endpoint": "Password" not in src and "Password" not in pg,
            "target": [tgt["EndpointType"], tgt["EngineName"]],
            "stream": ks.get("StreamArn"),
            "format": ks.get("MessageFormat"),
            "metadata": all(
                ks.get(k) for k in ("IncludeTransactionDetails", "IncludePartitionValue", "IncludeControlDetails")
            ),
        }
        want = {
            "source": ["SOURCE", "postgres", "require"],
            "secret": outputs["secrets"]["db_secret_name"],
            "secret_role": ing["dms_role_arn"],
            "no_password_in_endpoint": True,
            "target": ["TARGET", "kinesis"],
            "stream": outputs["streaming"]["stream_arn"],
            "format": "json-unformatted",
            "metadata": True,
        }
        return _lower(got) == _lower(want), {"want": want, "got": got}

    def dms_task() -> tuple[bool, Any]:
        t = dms.describe_replication_tasks(
            Filters=[{"Name": "replication-task-id", "Values": [ing["replication_task_id"]]}]
        )["ReplicationTasks"][0]
        rules = json.loads(t["TableMappings"])["rules"]
        settings = json.loads(t.get("ReplicationTaskSettings") or "{}")
        got = {
            "type": t["MigrationType"],
            "tables": sorted(
                f"{r['object-locator']['schema-name']}.{r['object-locator']['table-name']}" for r in rules
            ),
            "logging": settings.get("Logging", {}).get("EnableLogging"),
            "before_image": settings.get("BeforeImageSettings", {}).get("EnableBeforeImage"),
            "status": t["Status"],
            "instance": t["ReplicationInstanceArn"],
        }
        want = {
            "type": "full-load-and-cdc",
            "tables": sorted(f"{expect['source_schema']}.{t}" for t in expect["source_tables"]),
            "logging": True,
            # a primary-key change reaches the transform as an update whose before-image holds the old key
            "before_image": True,
            "status": "running" if expect["start_replication"] else got["status"],
            "instance": ing["replication_instance_arn"],
        }
        return got == want, {"want": want, "got": got}

    report.run(
        "ingestion", "replication instance private, in the private subnet group, DMS security group", dms_instance
    )
    report.run(
        "ingestion", "source reads credentials from the secret over TLS; target writes JSON lines", dms_endpoints
    )
    report.run(
        "ingestion", "task full-load-and-cdc of the inventory's tables, logging and before-images on, started", dms_task
    )

    # ----------------------------------------------------------- processing
    proc = outputs["processing"]

    def functions() -> tuple[bool, Any]:
        problems = {}
        for name in (proc["transform_function_name"], proc["ml_function_name"]):
            c = lam.get_function(FunctionName=name)["Configuration"]
            got = {
                "runtime": c["Runtime"],
                "layers": [layer["Arn"] for layer in c.get("Layers", [])],
                "subnets": sorted(c.get("VpcConfig", {}).get("SubnetIds", [])),
                "sgs": c.get("VpcConfig", {}).get("SecurityGroupIds", []),
                "dlq": c.get("DeadLetterConfig", {}).get("TargetArn"),
                "tracing": c.get("TracingConfig", {}).get("Mode"),
                "memory_ok": c["MemorySize"] >= 512,
            }
            want = {
                "runtime": "python3.12",
                "layers": [expect["pandas_layer_arn"]],
                "subnets": private_subnets,
                "sgs": [sgs["lambda"]],
                "dlq": proc["dead_letter_queue_arn"],
                "tracing": "Active",
                "memory_ok": True,
            }
            if got != want:
                problems[name] = {"want": want, "got": got}
        env = lam.get_function(FunctionName=proc["ml_function_name"])["Configuration"]["Environment"]["Variables"]
        if env.get("DATA_BUCKET") != lake:
            problems["ml environment"] = env
        return not problems, problems

    def invoke_permissions() -> tuple[bool, Any]:
        transform = json.loads(lam.get_policy(FunctionName=proc["transform_function_name"])["Policy"])["Statement"]
        ml = json.loads(lam.get_policy(FunctionName=proc["ml_function_name"])["Policy"])["Statement"]
        t_ok = any(
            s["Principal"].get("Service") == "s3.amazonaws.com"
            and s.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn") == lake_arn
            and s.get("Condition", {}).get("StringEquals", {}).get("AWS:SourceAccount") == outputs["account_id"]
            for s in transform
        )
        rule_arn = f"arn:aws:events:{region}:{outputs['account_id']}:rule/{proc['ml_schedule_rule']}"
        m_ok = any(
            s["Principal"].get("Service") == "events.amazonaws.com"
            and s.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn") == rule_arn
            for s in ml
        )
        return t_ok and m_ok, {"transform": transform, "ml": ml}

    def raw_notification() -> tuple[bool, Any]:
        conf = s3.get_bucket_notification_configuration(Bucket=lake).get("LambdaFunctionConfigurations", [])
        ok = any(
            c["LambdaFunctionArn"] == proc["transform_function_arn"]
            and "s3:ObjectCreated:*" in c["Events"]
            and {"Name": "Prefix", "Value": "raw/"} in c.get("Filter", {}).get("Key", {}).get("FilterRules", [])
            for c in conf
        )
        return ok, conf

    def schedule() -> tuple[bool, Any]:
        rule = events.describe_rule(Name=proc["ml_schedule_rule"])
        targets = events.list_targets_by_rule(Rule=proc["ml_schedule_rule"])["Targets"]
        ok = rule["ScheduleExpression"] == expect["ml_schedule_expression"] and rule["State"] == "ENABLED"
        ok = ok and [t["Arn"] for t in targets] == [proc["ml_function_arn"]]
        return ok, {"rule": rule.get("ScheduleExpression"), "targets": [t["Arn"] for t in targets]}

    def dead_letter_queue() -> tuple[bool, Any]:
        url = sqs.get_queue_url(QueueName=f"{prefix}-lambda-dlq")["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        ok = attrs.get("KmsMasterKeyId") == "alias/aws/sqs" and int(attrs["MessageRetentionPeriod"]) == 1209600
        return ok, attrs

    def function_logs() -> tuple[bool, Any]:
        got = {}
        for name in (proc["transform_function_name"], proc["ml_function_name"]):
            found = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
            got[name] = found[0].get("retentionInDays") if found else None
        return all(v == expect["log_retention_days"] for v in got.values()), got

    report.run("processing", "functions: runtime, pandas layer, private subnets, DLQ, tracing, memory", functions)
    report.run(
        "processing", "invoke permissions scoped to the bucket+account and to the schedule rule", invoke_permissions
    )
    report.run("processing", "objects created under raw/ notify the transform", raw_notification)
    report.run("processing", "ML schedule per inventory, targeting the ML function", schedule)
    report.run("processing", "dead-letter queue encrypted, 14 days", dead_letter_queue)
    report.run("processing", "function log groups with retention", function_logs)

    # --------------------------------------------------------------- catalog
    cat = outputs["catalog"]

    def crawlers() -> tuple[bool, Any]:
        glue.get_database(Name=cat["database_name"])
        got = {}
        for name in cat["crawler_names"]:
            c = glue.get_crawler(Name=name)["Crawler"]
            got[name] = {
                "schedule": c.get("Schedule", {}).get("ScheduleExpression"),
                "paths": [t["Path"] for t in c["Targets"]["S3Targets"]],
                "database": c["DatabaseName"],
            }
        want = {
            f"{prefix}-trusted": {
                "schedule": expect["glue_crawler_schedule"],
                "paths": [f"s3://{lake}/trusted/"],
                "database": cat["database_name"],
            },
            f"{prefix}-trusted-analytics": {
                "schedule": expect["glue_crawler_schedule"],
                "paths": [f"s3://{lake}/trusted-analytics/"],
                "database": cat["database_name"],
            },
        }
        return got == want, {"want": want, "got": got}

    report.run("catalog", "database and one crawler per trusted zone on the inventory's schedule", crawlers)

    # ------------------------------------------------------------- analytics
    def workgroup() -> tuple[bool, Any]:
        wg = athena.get_work_group(WorkGroup=outputs["analytics"]["workgroup_name"])["WorkGroup"]["Configuration"]
        got = {
            "enforced": wg.get("EnforceWorkGroupConfiguration"),
            "output": wg.get("ResultConfiguration", {}).get("OutputLocation"),
            "encryption": wg.get("ResultConfiguration", {}).get("EncryptionConfiguration", {}).get("EncryptionOption"),
            "cutoff": wg.get("BytesScannedCutoffPerQuery"),
            "metrics": wg.get("PublishCloudWatchMetricsEnabled"),
        }
        want = {
            "enforced": True,
            "output": outputs["analytics"]["results_location"],
            "encryption": "SSE_S3",
            "cutoff": 10737418240,
            "metrics": True,
        }
        return got == want, {"want": want, "got": got}

    def saved_queries() -> tuple[bool, Any]:
        ids = athena.list_named_queries(WorkGroup=outputs["analytics"]["workgroup_name"])["NamedQueryIds"]
        queries = {q["Name"]: q for q in (athena.get_named_query(NamedQueryId=i)["NamedQuery"] for i in ids)}
        ok = sorted(queries) == sorted(outputs["analytics"]["saved_queries"])
        ok = ok and all(
            q["Database"] == cat["database_name"] and "SELECT" in q["QueryString"] for q in queries.values()
        )
        return ok, sorted(queries)

    report.run("analytics", "workgroup enforces encrypted results location and a bytes-scanned cutoff", workgroup)
    report.run("analytics", "saved queries for the common questions", saved_queries)

    # ------------------------------------------------------------ monitoring
    mon = outputs["monitoring"]

    def alarms() -> tuple[bool, Any]:
        found = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNamePrefix=f"{prefix}-")["MetricAlarms"]}
        missing = sorted(set(mon["alarm_names"]) - set(found))
        unwired = sorted(n for n, a in found.items() if a["AlarmActions"] != [mon["alert_topic_arn"]])
        needed = {
            "GetRecords.IteratorAgeMilliseconds",
            "DeliveryToS3.DataFreshness",
            "DeliveryToS3.Success",
            "Errors",
            "Throttles",
            "CDCLatencySource",
            "CDCLatencyTarget",
            "CPUUtilization",
            "FreeStorageSpace",
            "OldestReplicationSlotLag",
            "ApproximateNumberOfMessagesVisible",
        }
        uncovered = sorted(needed - {a["MetricName"] for a in found.values()})
        return not (missing or unwired or uncovered), {"missing": missing, "unwired": unwired, "uncovered": uncovered}

    def topic() -> tuple[bool, Any]:
        attrs = sns.get_topic_attributes(TopicArn=mon["alert_topic_arn"])["Attributes"]
        policy = list(statements(attrs["Policy"]))
        tls = any(s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s.get("Condition", {})) for s in policy)
        principals = {json.dumps(s.get("Principal")) for s in policy if s["Effect"] == "Allow"}
        ok = tls and any("cloudwatch.amazonaws.com" in p for p in principals)
        return ok and any("events.amazonaws.com" in p for p in principals), policy

    def failure_rule() -> tuple[bool, Any]:
        rule = events.describe_rule(Name=mon["task_failure_rule"])
        pattern = json.loads(rule["EventPattern"])
        targets = [t["Arn"] for t in events.list_targets_by_rule(Rule=mon["task_failure_rule"])["Targets"]]
        ok = pattern.get("source") == ["aws.dms"] and targets == [mon["alert_topic_arn"]]
        return ok and pattern["detail"]["eventType"] == ["REPLICATION_TASK_FAILED"], {
            "pattern": pattern,
            "targets": targets,
        }

    def dashboard() -> tuple[bool, Any]:
        body = json.loads(cw.get_dashboard(DashboardName=mon["dashboard_name"])["DashboardBody"])
        titles = [w["properties"]["title"] for w in body["widgets"]]
        return len(titles) == 6, titles

    report.run("monitoring", "alarms for every stage, each notifying the topic", alarms)
    report.run("monitoring", "alert topic: TLS only, CloudWatch and EventBridge may publish", topic)
    report.run("monitoring", "DMS task failures go to the topic at once", failure_rule)
    report.run("monitoring", "dashboard of the whole flow, stage by stage", dashboard)

    # ------------------------------------------------------------------- IAM
    def least_privilege() -> tuple[bool, Any]:
        roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(prefix)]
        problems = []
        for role in roles:
            for name, document in role_policies(iam, role).items():
                problems += privilege_problems(f"{role}/{name}", document)
        expected = {
            f"{prefix}-firehose",
            f"{prefix}-dms",
            f"{prefix}-transform",
            f"{prefix}-ml-inference",
            f"{prefix}-glue-crawler",
        }
        missing = sorted(expected - set(roles))
        return not problems and not missing, {"problems": problems, "missing": missing, "roles": roles}

    def trust() -> tuple[bool, Any]:
        got = {}
        for role in iam.list_roles()["Roles"]:
            if role["RoleName"].startswith(prefix):
                doc = role["AssumeRolePolicyDocument"]
                services = sorted(
                    p for s in statements(doc) for p in as_list(s.get("Principal", {}).get("Service", []))
                )
                got[role["RoleName"]] = services
        want = {
            f"{prefix}-firehose": ["firehose.amazonaws.com"],
            f"{prefix}-dms": sorted(["dms.amazonaws.com", f"dms.{region}.amazonaws.com"]),
            f"{prefix}-transform": ["lambda.amazonaws.com"],
            f"{prefix}-ml-inference": ["lambda.amazonaws.com"],
            f"{prefix}-glue-crawler": ["glue.amazonaws.com"],
        }
        return got == want, {"want": want, "got": got}

    report.run("iam", "one role per service principal", trust)
    report.run("iam", "policies name actions and resources (no *, documented exceptions only)", least_privilege)
    return report


def _lower(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list):
        return [_lower(v) for v in value]
    if isinstance(value, dict):
        return {k: _lower(v) for k, v in value.items()}
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", required=True, help="the outputs file of the converge")
    parser.add_argument("--expect", required=True, help="JSON of the inventory values to find")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    with open(args.outputs, encoding="utf-8") as handle:
        outputs = json.load(handle)
    report = verify(outputs, json.loads(args.expect), args.region)
    print(json.dumps({"checks": report.checks, "failed": len(report.failed)}, indent=2, default=str))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
