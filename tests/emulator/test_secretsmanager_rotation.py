"""RotateSecret runs the real rotation function (lambdas/rotation, pg8000 vendored into its zip) through the
emulator's Lambda runtime against an instance of the RDS engine: the four steps, the staging labels as AWS
moves them, and the password really changed in the local PostgreSQL (the old one refused, the new one works).

Needs the local PostgreSQL of ``make up``; skipped when it does not answer.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import boto3
import psycopg
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator.engines import lambda_runtime
from emulator.engines import rds as rds_engine
from emulator.patches import secretsmanager as rotation
from tests.emulator.local_postgres import SERVER, scratch_prefix

REPO = Path(__file__).resolve().parents[2]
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=120)
VENDORED = ("pg8000", "scramp", "asn1crypto")


def rotation_zip() -> bytes:
    """The function's package and its vendored driver, as the database role packages them."""
    dirs = [REPO / "lambdas" / "rotation" / "smartstream_rotation"]
    for name in VENDORED:
        dist = metadata.distribution(name)
        dirs += [Path(dist.locate_file(name)), Path(dist._path)]  # the package and its dist-info (versions)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for top in dirs:
            for path in sorted(top.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, f"{top.name}/{path.relative_to(top)}")
    return buffer.getvalue()


@pytest.fixture
def prefix() -> Iterator[str]:
    with scratch_prefix("rott") as name:
        yield name


@pytest.fixture
def aws(engine_host, monkeypatch):
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
    rds_engine.install(engine_host)
    lambda_runtime.install(engine_host)
    return lambda service: boto3.client(service, region_name="us-east-1", config=NO_RETRY)


def _login(user: str, password: str, dbname: str) -> bool:
    try:
        with psycopg.connect(host="127.0.0.1", port=SERVER.port, user=user, password=password, dbname=dbname,
                             sslmode="require", connect_timeout=5):  # fmt: skip
            return True
    except psycopg.OperationalError:
        return False


def _platform(aws, prefix: str, permission: bool = True) -> dict:
    """An instance (logical replication, TLS), its master secret, the replication user's secret, the function."""
    rds, sm, lam, iam = aws("rds"), aws("secretsmanager"), aws("lambda"), aws("iam")
    group = prefix.replace("_", "-") + "-pg"
    rds.create_db_parameter_group(DBParameterGroupName=group, DBParameterGroupFamily="postgres15", Description="t")
    rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=[
        {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"},
        {"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}])  # fmt: skip
    master_pw = "Master-" + uuid.uuid4().hex
    rds.create_db_instance(
        DBInstanceIdentifier=prefix.replace("_", "-") + "-db", DBInstanceClass="db.t3.micro", Engine="postgres", AllocatedStorage=20,
        DBName=f"{prefix}db", MasterUsername=f"{prefix}_master", MasterUserPassword=master_pw,
        DBParameterGroupName=group,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while (found := rds.describe_db_instances(DBInstanceIdentifier=prefix.replace("_", "-") + "-db")["DBInstances"][0])[
        "DBInstanceStatus"
    ] != "available":
        assert time.monotonic() < deadline, found["DBInstanceStatus"]
        time.sleep(0.2)
    base = {"engine": "postgres", "host": found["Endpoint"]["Address"], "port": found["Endpoint"]["Port"],
            "dbname": f"{prefix}db"}  # fmt: skip
    master = sm.create_secret(Name=f"{prefix}/master", SecretString=json.dumps(
        {**base, "username": f"{prefix}_master", "password": master_pw}))["ARN"]  # fmt: skip
    replication = sm.create_secret(Name=f"{prefix}/replication", SecretString=json.dumps(
        {**base, "username": f"{prefix}_dms", "password": "not-yet-a-login", "masterarn": master}))["ARN"]  # fmt: skip
    with psycopg.connect(host="127.0.0.1", port=SERVER.port, user=f"{prefix}_master", password=master_pw,
                         dbname=f"{prefix}db", sslmode="require", autocommit=True) as conn:  # fmt: skip
        conn.execute("CREATE TABLE public.employees (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO public.employees VALUES (1, 'Ada')")
    role = iam.create_role(RoleName=f"{prefix}-rotation", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]  # fmt: skip
    iam.put_role_policy(RoleName=f"{prefix}-rotation", PolicyName="rotation", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": [master, replication], "Action": [
            "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecretVersionStage"]}]}))  # fmt: skip
    function = lam.create_function(
        FunctionName=f"{prefix}-rotation", Runtime="python3.12", Role=role, Timeout=30,
        Handler="smartstream_rotation.handler.lambda_handler", Code={"ZipFile": rotation_zip()},
        Environment={"Variables": {"DB_SSLMODE": "require", "GRANT_SCHEMAS": "public"}},
    )["FunctionArn"]  # fmt: skip
    if permission:
        lam.add_permission(FunctionName=function, StatementId="secretsmanager", Action="lambda:InvokeFunction",
                           Principal="secretsmanager.amazonaws.com", SourceAccount="123456789012")  # fmt: skip
    return {"master": master, "replication": replication, "function": function, "master_pw": master_pw,
            "db": f"{prefix}db"}  # fmt: skip


def _value(sm, arn: str, **kwargs) -> dict:
    return json.loads(sm.get_secret_value(SecretId=arn, **kwargs)["SecretString"])


def _rotate(sm, **kwargs) -> str:
    """RotateSecret, then wait for the rotation it started in the background (as a caller on AWS must)."""
    arn = sm.rotate_secret(**kwargs)["ARN"]
    assert rotation.rotation_done(arn), "the rotation did not finish within 60 s"
    return arn


def test_rotation_creates_the_replication_user_then_changes_passwords_in_postgresql(aws, prefix):
    sm, made = aws("secretsmanager"), _platform(aws, prefix)
    rules = {"AutomaticallyAfterDays": 30}
    _rotate(sm, SecretId=made["replication"], RotationLambdaARN=made["function"], RotationRules=rules)
    first = _value(sm, made["replication"])
    assert first["password"] != "not-yet-a-login" and first["masterarn"] == made["master"]
    assert _login(f"{prefix}_dms", first["password"], made["db"])
    with SERVER.admin() as conn:
        deadline = time.monotonic() + 5
        while not conn.execute("SELECT rolreplication FROM pg_roles WHERE rolname = %s", (f"{prefix}_dms",)).fetchone()[
            0
        ]:
            assert time.monotonic() < deadline, "the member of rds_replication was not given REPLICATION"
            time.sleep(0.1)
    with psycopg.connect(host="127.0.0.1", port=SERVER.port, user=f"{prefix}_dms", password=first["password"],
                         dbname=made["db"], sslmode="require") as conn:  # fmt: skip
        assert conn.execute("SELECT name FROM public.employees").fetchall() == [("Ada",)]
    described = sm.describe_secret(SecretId=made["replication"])
    assert described["RotationEnabled"] and described["RotationLambdaARN"] == made["function"]
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 30 and described.get("LastRotatedDate")
    stages = described["VersionIdsToStages"]
    assert sorted(map(sorted, stages.values())) == [["AWSCURRENT"], ["AWSPREVIOUS"]]

    _rotate(sm, SecretId=made["replication"])  # the next rotation, as the schedule starts it
    second = _value(sm, made["replication"])
    assert second["password"] != first["password"]
    assert _login(f"{prefix}_dms", second["password"], made["db"])
    assert not _login(f"{prefix}_dms", first["password"], made["db"])
    assert _value(sm, made["replication"], VersionStage="AWSPREVIOUS")["password"] == first["password"]
    with SERVER.admin() as conn:  # the master's window as rds_superuser closed; the user still replicates
        rows = conn.execute(
            "SELECT rolname, rolsuper, rolreplication FROM pg_roles WHERE rolname LIKE %s", (prefix + "%",)
        ).fetchall()
    roles = {row[0]: tuple(row[1:]) for row in rows}
    assert roles[f"{prefix}_master"] == (False, True) and roles[f"{prefix}_dms"] == (False, True)

    # single user: the master changes its own password
    _rotate(sm, SecretId=made["master"], RotationLambdaARN=made["function"], RotationRules=rules)
    new_master = _value(sm, made["master"])["password"]
    assert new_master != made["master_pw"]
    assert _login(f"{prefix}_master", new_master, made["db"])
    assert not _login(f"{prefix}_master", made["master_pw"], made["db"])


def test_rotate_secret_answers_at_once_and_the_rotation_runs_in_the_background(aws, prefix):
    sm, made = aws("secretsmanager"), _platform(aws, prefix)
    # When a rotation starts (each of its four steps runs the function in a new process: ~seconds)
    arn = sm.rotate_secret(SecretId=made["replication"], RotationLambdaARN=made["function"],
                           RotationRules={"AutomaticallyAfterDays": 30})["ARN"]  # fmt: skip
    # Then RotateSecret has answered before the steps ran: the new version is pending, no rotation date yet,
    # and another rotation is refused until this one completes
    described = sm.describe_secret(SecretId=arn)
    assert not described.get("LastRotatedDate")
    assert ["AWSPENDING"] in described["VersionIdsToStages"].values()
    with pytest.raises(ClientError, match="previous rotation isn't complete"):
        sm.rotate_secret(SecretId=arn)
    assert rotation.rotation_done(arn)
    described = sm.describe_secret(SecretId=arn)
    assert described.get("LastRotatedDate") and ["AWSPENDING"] not in described["VersionIdsToStages"].values()


def test_a_failed_step_keeps_the_current_version_and_no_rotation_date(aws, prefix):
    sm, made = aws("secretsmanager"), _platform(aws, prefix)
    broken = {**_value(sm, made["master"]), "password": "wrong"}
    sm.put_secret_value(SecretId=made["master"], SecretString=json.dumps(broken))
    _rotate(sm, SecretId=made["replication"], RotationLambdaARN=made["function"],
                     RotationRules={"AutomaticallyAfterDays": 30})  # fmt: skip
    assert _value(sm, made["replication"])["password"] == "not-yet-a-login"
    described = sm.describe_secret(SecretId=made["replication"])
    assert not described.get("LastRotatedDate")
    with pytest.raises(ClientError, match="previous rotation isn't complete"):
        _rotate(sm, SecretId=made["replication"])


def test_secrets_manager_may_invoke_only_a_function_that_allows_it(aws, prefix):
    sm, made = aws("secretsmanager"), _platform(aws, prefix, permission=False)
    with pytest.raises(ClientError, match="AccessDeniedException"):
        _rotate(sm, SecretId=made["replication"], RotationLambdaARN=made["function"],
                         RotationRules={"AutomaticallyAfterDays": 30})  # fmt: skip


def test_awscurrent_moved_by_update_secret_version_stage_is_the_value(emulator):
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    arn = sm.create_secret(Name="labels", SecretString="one")["ARN"]
    old = sm.get_secret_value(SecretId=arn)["VersionId"]
    new = sm.put_secret_value(SecretId=arn, SecretString="two", VersionStages=["AWSPENDING"])["VersionId"]
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "one"
    sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=new,
                                   RemoveFromVersionId=old)  # fmt: skip
    current = sm.get_secret_value(SecretId=arn)
    assert (current["SecretString"], current["VersionId"]) == ("two", new)
    assert sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"] == "one"


def test_the_dms_source_reads_its_secret_at_each_connection(monkeypatch):
    """A rotated password is used from the next connection on (DMS reads the secret when it connects); an
    unreadable secret falls back to the credentials the task started with."""
    from emulator.engines.dms import source as dms_source
    from emulator.engines.dms.config import SourceConfig

    values = iter([("dms_replication", "first"), ("dms_replication", "second")])

    def read() -> tuple[str, str]:
        try:
            return next(values)
        except StopIteration:
            raise RuntimeError("AccessDenied") from None

    seen = []
    monkeypatch.setattr(dms_source.psycopg, "connect", lambda **kw: seen.append((kw["user"], kw["password"])))
    cfg = SourceConfig(host="h", port=5432, dbname="d", user="dms_replication", password="at-start",
                       credentials=read)  # fmt: skip
    src = dms_source.Source(cfg, [])
    for _ in range(3):
        src.connect()
    assert seen == [("dms_replication", "first"), ("dms_replication", "second"), ("dms_replication", "at-start")]
