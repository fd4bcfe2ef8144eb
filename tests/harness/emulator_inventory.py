"""List what exists in the local emulator, by service, to prove what a run did.

Usage:
  python -m tests.harness.emulator_inventory [--region R] [--assert-empty]

Prints a JSON object {service: [resource ids]} of everything that is not
part of the emulator's pristine state (the default VPC and what comes with
it are left out). With --assert-empty it exits 1 when anything is listed,
so a check-mode run or a teardown can be shown to leave nothing.
Reads SMARTSTREAM_MOTO_PORT and SMARTSTREAM_RUN_DIR like scripts/localenv.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import boto3
from botocore.config import Config

# POST /moto-api/reset rebuilds every backend (IAM reloads ~1,000 AWS managed
# policies) and lets the engines forget theirs: ~1-4 s, more on a loaded machine.
RESET_TIMEOUT_S = 60


def emulator_session_kwargs() -> dict[str, str]:
    port = os.environ.get("SMARTSTREAM_MOTO_PORT", "5055")
    run_dir = os.environ.get("SMARTSTREAM_RUN_DIR", "/tmp/smartstream-local")
    return {
        "endpoint_url": f"https://127.0.0.1:{port}",
        "verify": f"{run_dir}/tls/cert.pem",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


def client(service: str, region: str):
    return boto3.client(
        service, region_name=region, config=Config(retries={"max_attempts": 2}), **emulator_session_kwargs()
    )


def list_resources(region: str) -> dict[str, list[str]]:
    ec2 = client("ec2", region)
    vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
    vpc_ids = [v["VpcId"] for v in vpcs]
    in_our_vpcs = [{"Name": "vpc-id", "Values": vpc_ids}] if vpc_ids else None

    def in_vpcs(call, key, id_key, extra=None):
        if not in_our_vpcs:
            return []
        items = getattr(ec2, call)(Filters=in_our_vpcs)[key]
        return [i[id_key] for i in items if extra is None or extra(i)]

    found = {
        "ec2:vpc": vpc_ids,
        "ec2:subnet": in_vpcs("describe_subnets", "Subnets", "SubnetId"),
        "ec2:security-group": in_vpcs(
            "describe_security_groups", "SecurityGroups", "GroupId", lambda g: g["GroupName"] != "default"
        ),
        "ec2:route-table": in_vpcs(
            "describe_route_tables",
            "RouteTables",
            "RouteTableId",
            lambda t: not any(a.get("Main") for a in t.get("Associations", [])),
        ),
        "ec2:internet-gateway": [
            g["InternetGatewayId"]
            for g in ec2.describe_internet_gateways()["InternetGateways"]
            if any(a["VpcId"] in vpc_ids for a in g.get("Attachments", [])) or not g.get("Attachments")
        ],
        "ec2:nat-gateway": [
            n["NatGatewayId"] for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] not in ("deleted",)
        ],
        "ec2:elastic-ip": [a.get("AllocationId", a.get("PublicIp")) for a in ec2.describe_addresses()["Addresses"]],
        "ec2:vpc-endpoint": [
            e["VpcEndpointId"]
            for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
            if e["State"].lower() not in ("deleted",)
        ],
        "s3:bucket": [b["Name"] for b in client("s3", region).list_buckets().get("Buckets", [])],
        "secretsmanager:secret": [
            s["Name"] for s in client("secretsmanager", region).list_secrets(IncludePlannedDeletion=True)["SecretList"]
        ],
    }
    found.update(platform_resources(region))
    return {service: sorted(ids) for service, ids in found.items()}


def platform_resources(region: str) -> dict[str, list[str]]:
    """What the later layers create: database, streaming, ingestion, processing, catalog, analytics, monitoring, IAM."""
    rds = client("rds", region)
    dms = client("dms", region)
    iam = client("iam", region)
    logs = client("logs", region)
    glue = client("glue", region)
    athena = client("athena", region)
    return {
        "rds:db-instance": [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]],
        "rds:subnet-group": [g["DBSubnetGroupName"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]],
        "rds:parameter-group": [
            g["DBParameterGroupName"]
            for g in rds.describe_db_parameter_groups()["DBParameterGroups"]
            if not g["DBParameterGroupName"].startswith("default.")
        ],
        "rds:snapshot": [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots()["DBSnapshots"]],
        "rds:event-subscription": [
            s["CustSubscriptionId"] for s in rds.describe_event_subscriptions()["EventSubscriptionsList"]
        ],
        "kinesis:stream": client("kinesis", region).list_streams()["StreamNames"],
        "firehose:delivery-stream": client("firehose", region).list_delivery_streams()["DeliveryStreamNames"],
        "dms:replication-task": [
            t["ReplicationTaskIdentifier"] for t in dms.describe_replication_tasks()["ReplicationTasks"]
        ],
        "dms:endpoint": [e["EndpointIdentifier"] for e in dms.describe_endpoints()["Endpoints"]],
        "dms:replication-instance": [
            i["ReplicationInstanceIdentifier"] for i in dms.describe_replication_instances()["ReplicationInstances"]
        ],
        "dms:subnet-group": [
            g["ReplicationSubnetGroupIdentifier"]
            for g in dms.describe_replication_subnet_groups()["ReplicationSubnetGroups"]
        ],
        "lambda:function": [f["FunctionName"] for f in client("lambda", region).list_functions()["Functions"]],
        "sqs:queue": client("sqs", region).list_queues().get("QueueUrls", []),
        "events:rule": [r["Name"] for r in client("events", region).list_rules()["Rules"]],
        "logs:log-group": [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]],
        "glue:database": [d["Name"] for d in glue.get_databases()["DatabaseList"]],
        "glue:crawler": [c["Name"] for c in glue.get_crawlers()["Crawlers"]],
        "athena:workgroup": [w["Name"] for w in athena.list_work_groups()["WorkGroups"] if w["Name"] != "primary"],
        "sns:topic": [t["TopicArn"] for t in client("sns", region).list_topics()["Topics"]],
        "cloudwatch:alarm": [a["AlarmName"] for a in client("cloudwatch", region).describe_alarms()["MetricAlarms"]],
        "cloudwatch:dashboard": [
            d["DashboardName"] for d in client("cloudwatch", region).list_dashboards()["DashboardEntries"]
        ],
        "iam:role": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        "iam:policy": [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]],
        # A key cannot be deleted at once: one pending deletion is gone as far as teardown can make it.
        "kms:key": [arn for arn, state in _customer_keys(region) if state != "PendingDeletion"],
    }


def _customer_keys(region: str) -> list[tuple[str, str]]:
    kms = client("kms", region)
    found = []
    for key in kms.list_keys()["Keys"]:
        metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if metadata.get("KeyManager") == "CUSTOMER":
            found.append((metadata["Arn"], metadata["KeyState"]))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--assert-empty", action="store_true")
    args = parser.parse_args(argv)
    found = list_resources(args.region)
    print(json.dumps(found, indent=2))
    left = {k: v for k, v in found.items() if v}
    if args.assert_empty and left:
        print(f"NOT EMPTY: {sum(len(v) for v in left.values())} resource(s) left: {', '.join(left)}", file=sys.stderr)
        return 1
    if args.assert_empty:
        print("emulator holds nothing of ours", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
