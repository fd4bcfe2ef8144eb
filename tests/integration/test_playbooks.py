"""Playbook behaviour against the local emulator: validation, protection, secrets."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import ROOT, aws_client, list_resources, nothing_of_ours, run_playbook

UNREACHABLE = "https://127.0.0.1:9"  # the discard port: nothing answers there


@pytest.mark.parametrize(
    ("extra_var", "message"),
    [
        ("smartstream_kinesis_shards=-1", "kinesis_shards=-1 (1-500)"),
        ("smartstream_env=qa", "smartstream_env"),
        ("smartstream_ml_schedule_expression='rate(5 minute)'", "Bad schedule"),
        ("smartstream_glue_crawler_schedule='cron(0 2 * * *)'", "Bad schedule"),
        ("network_vpc_cidr=10.0.0.0/33", "Bad network CIDRs"),
        ("network_private_subnet_cidrs=['10.99.0.0/24','10.20.11.0/24']", "Bad network CIDRs"),
        ("network_db_admin_cidrs=['0.0.0.0/0']", "never 0.0.0.0/0"),
        ("network_nat_gateways=maybe", "network_nat_gateways"),
        ("storage_raw_expiration_days=10", "raw expiry 10"),
        ("secrets_recovery_window_days=3", "secrets_recovery_window_days=3"),
        ("database_backup_retention_days=0", "backups cannot be switched off"),
        ("{'database_parameters': {'rds.logical_replication': 0}}", "DMS CDC needs it"),
        ("ingestion_source_ssl_mode=none", "ingestion_source_ssl_mode"),
        ("{'ingestion_source_tables': []}", "at least one"),
        ("processing_transform_memory_mb=256", "the pandas layer needs 512"),
        ("{'processing_pandas_layer_arns': {}}", "no layer version ARN for us-east-1"),
        ("analytics_bytes_scanned_cutoff=1000", "minimum is 10000000"),
        ("{'monitoring_alert_emails': ['not-an-address']}", "monitoring_alert_emails"),
        ("catalog_database_name=Smart-Stream", "catalog_database_name"),
        ("{'smartstream_name_overrides': {'streams': 'legacy-cdc'}}", "unknown keys ['streams']"),
        ("{'smartstream_name_overrides': {'glue_database': 'Bad-Name'}}", "catalog_database_name='Bad-Name'"),
    ],
)
def test_bad_value_is_rejected_before_any_aws_call(clean_emulator, extra_var, message):
    # Every AWS call of this run goes to a port where nothing listens (the emulator's engines keep
    # calling the emulator itself, so its request log cannot tell): an AWS call made before the
    # preflight checks would fail the run with a connection error, not with the rule's message.
    result = run_playbook("site.yml", "-e", extra_var, "-e", f"smartstream_aws_endpoint_url={UNREACHABLE}")

    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-3000:]
    assert "Could not connect" not in result.stdout and "EndpointConnectionError" not in result.stdout
    assert nothing_of_ours()


def test_every_bad_value_of_every_layer_is_reported_at_once(clean_emulator):
    result = run_playbook(
        "site.yml",
        "-e",
        "network_vpc_cidr=10.0.0.0/33 storage_raw_expiration_days=10 network_nat_gateways=maybe",
        "-e",
        f"smartstream_aws_endpoint_url={UNREACHABLE}",
    )

    assert result.returncode != 0
    assert "Preflight found 3 problem(s), before any AWS call" in result.stdout, result.stdout[-3000:]
    for message in ("Bad network CIDRs", "raw expiry 10", "network_nat_gateways must be one of"):
        assert message in result.stdout, message
    assert nothing_of_ours()


def test_protected_environment_refuses_teardown_without_confirmation():
    result = run_playbook("teardown.yml", inventory="inventories/prod")

    assert result.returncode != 0
    assert "prod-eu-north-1 is a protected environment" in result.stdout
    assert "-e smartstream_confirm_teardown=prod-eu-north-1" in result.stdout


def test_password_is_generated_once_kept_only_in_secrets_manager_and_never_logged(clean_emulator):
    first = run_playbook("site.yml", "--tags", "secrets", "-vvv")
    assert first.returncode == 0, first.stdout[-3000:]

    sm = aws_client("secretsmanager")
    name = "smartstream/local/rds/master"
    value = sm.get_secret_value(SecretId=name)
    secret = json.loads(value["SecretString"])
    assert secret["username"] == "dbadmin"
    assert secret["dbname"] == "employees"
    assert len(secret["password"]) == 32
    assert re.fullmatch(r"[A-Za-z0-9._~-]{32}", secret["password"])
    assert secret["password"] not in first.stdout + first.stderr

    second = run_playbook("site.yml", "--tags", "secrets", "-vvv")
    assert second.returncode == 0
    assert re.search(r"changed=0\s", second.stdout)
    again = sm.get_secret_value(SecretId=name)
    assert again["VersionId"] == value["VersionId"]
    assert json.loads(again["SecretString"])["password"] == secret["password"]
    assert secret["password"] not in second.stdout + second.stderr

    inventory_text = "".join(p.read_text() for p in (ROOT / "inventories").rglob("*.yml"))
    assert secret["password"] not in inventory_text

    gone = run_playbook("teardown.yml", "--tags", "secrets")
    assert gone.returncode == 0, gone.stdout[-3000:]
    assert list_resources("us-east-1")["secretsmanager:secret"] == []


def test_nat_egress_per_az_converges_idempotently_and_tears_down_clean(clean_emulator):
    """The prod egress mode: a NAT gateway per AZ, private routes through the AZ's own NAT."""
    args = ("--tags", "network", "-e", "network_nat_gateways=per_az", "-e", '{"network_interface_endpoints": []}')

    first = run_playbook("site.yml", *args)
    assert first.returncode == 0, first.stdout[-3000:]
    second = run_playbook("site.yml", *args)
    assert second.returncode == 0
    assert re.search(r"local-us-east-1\s+: ok=\d+\s+changed=0\s", second.stdout), second.stdout[-2000:]

    ec2 = aws_client("ec2")
    nats = [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] == "available"]
    assert len(nats) == 2
    assert len({n["SubnetId"] for n in nats}) == 2
    private_rts = [
        t
        for t in ec2.describe_route_tables()["RouteTables"]
        if any(tag["Value"].startswith("smartstream-local-private-") for tag in t.get("Tags", []))
    ]
    default_routes = sorted(
        r["NatGatewayId"] for t in private_rts for r in t["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"
    )
    assert default_routes == sorted(n["NatGatewayId"] for n in nats)

    # The keys layer runs with every tag (the flow logs' group is encrypted with its key): remove it too.
    gone = run_playbook("teardown.yml", "--tags", "network,keys")
    assert gone.returncode == 0, gone.stdout[-3000:]
    assert nothing_of_ours(), list_resources("us-east-1")


def test_replication_never_starts_before_firehose_is_active(clean_emulator):
    # Firehose reads its Kinesis source from LATEST: records DMS wrote before it
    # is ACTIVE would be lost, so replication control refuses to start the task.
    result = run_playbook("replication.yml", "-e", "replication_action=start")

    assert result.returncode != 0
    assert "not ACTIVE: the task was left as it is" in result.stdout, result.stdout[-3000:]
    assert nothing_of_ours()


def test_replication_status_of_a_platform_that_is_not_there(clean_emulator):
    result = run_playbook("replication.yml", "-e", "replication_action=status")

    assert result.returncode == 0, result.stdout[-3000:]
    assert "status: missing" in result.stdout
