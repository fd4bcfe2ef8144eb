"""The RDS engine serves the emulator's PostgreSQL instances with the local PostgreSQL (``make up``).

Needs the local PostgreSQL of SMARTSTREAM_RUN_DIR / SMARTSTREAM_PG_PORT (its admin socket and its TLS
certificate); a test fails when it does not answer. Every database and role a test makes is named with the
test's own prefix and dropped after it.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import boto3
import psycopg
import pytest
import requests
from psycopg import sql

from emulator.engines import rds as rds_engine
from tests.emulator.local_postgres import SERVER, scratch_prefix
from tests.emulator.local_postgres import admin as _admin
from tests.harness.emulator_inventory import RESET_TIMEOUT_S

CA_BUNDLE = os.path.join(os.environ.get("SMARTSTREAM_RUN_DIR", "/tmp/smartstream-local"), "tls", "cert.pem")


@pytest.fixture
def prefix() -> Iterator[str]:
    """A name prefix for this test's databases and roles; whatever carries it is dropped after the test."""
    with scratch_prefix("rdst") as name:
        yield name


@pytest.fixture
def rds(engine_host):
    """An RDS client of the emulator with the RDS engine running."""
    rds_engine.install(engine_host)
    return boto3.client("rds")


def _create(rds, ident: str, db: str, user: str, password: str, group: str | None = None) -> dict:
    kwargs = {"DBParameterGroupName": group} if group else {}
    return rds.create_db_instance(
        DBInstanceIdentifier=ident, DBInstanceClass="db.t3.micro", Engine="postgres", EngineVersion="15.7",
        AllocatedStorage=20, DBName=db, MasterUsername=user, MasterUserPassword=password, **kwargs,
    )["DBInstance"]  # fmt: skip


def _group(rds, name: str, logical_replication: str) -> str:
    rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily="postgres15", Description="t")
    rds.modify_db_parameter_group(
        DBParameterGroupName=name,
        Parameters=[
            {"ParameterName": "rds.logical_replication", "ParameterValue": logical_replication, "ApplyMethod": "pending-reboot"},
            {"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "immediate"},
        ],
    )  # fmt: skip
    return name


def _wait(rds, ident: str, *wanted: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
        if found["DBInstanceStatus"] in wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _gone(rds, ident: str, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": [ident]}])["DBInstances"]:
            return True
        time.sleep(0.2)
    return False


def _connect(endpoint: dict, user: str, password: str, db: str) -> psycopg.Connection:
    """As a client of the instance: its reported endpoint, TLS verified against the emulator's certificate."""
    return psycopg.connect(
        host=endpoint["Address"], port=endpoint["Port"], user=user, password=password, dbname=db,
        sslmode="verify-full", sslrootcert=CA_BUNDLE, connect_timeout=5,
    )  # fmt: skip


def _exists(kind: str, name: str) -> bool:
    query = {"db": "SELECT 1 FROM pg_database WHERE datname = %s", "role": "SELECT 1 FROM pg_roles WHERE rolname = %s"}
    with _admin() as conn:
        return conn.execute(query[kind], (name,)).fetchone() is not None


def _failure_events(rds, ident: str) -> list[str]:
    events = rds.describe_events(SourceIdentifier=ident, SourceType="db-instance")["Events"]
    return [e["Message"] for e in events if "failure" in e.get("EventCategories", [])]


def test_created_instance_serves_its_database_over_tls_with_the_master_password(rds, prefix):
    # Given a parameter group with logical replication, and an instance created with it
    _admin().close()
    password = "pa'ss\"word-" + uuid.uuid4().hex
    group = _group(rds, f"{prefix}-pg", "1")
    created = _create(rds, "db-a", f"{prefix}_db", f"{prefix}_admin", password, group)
    # Then it is creating, with no endpoint yet, as on RDS; then available at the local server
    assert created["DBInstanceStatus"] == "creating" and "Endpoint" not in created
    # (the first describe already tells the outcome: the amazon.aws waiters would otherwise sleep 60 s)
    instance = rds.describe_db_instances(DBInstanceIdentifier="db-a")["DBInstances"][0]
    assert instance["DBInstanceStatus"] == "available", _failure_events(rds, "db-a")
    assert instance["Endpoint"] == {"Address": "127.0.0.1", "Port": SERVER.port}
    # When a client connects to the endpoint with the master password, verifying TLS
    with _connect(instance["Endpoint"], f"{prefix}_admin", password, f"{prefix}_db") as conn:
        row = conn.execute("SELECT current_database(), current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        # Then it is in the instance's database as its master user, over TLS
        assert row.fetchone() == (f"{prefix}_db", f"{prefix}_admin", True)
        # And it may create a logical replication slot (rds.logical_replication=1), as DMS does
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (f"{prefix}_slot",))
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    # When the instance is deleted (its database holds a replication slot, a table and a session)
    with _connect(instance["Endpoint"], f"{prefix}_admin", password, f"{prefix}_db") as session:
        deleted = rds.delete_db_instance(DBInstanceIdentifier="db-a", SkipFinalSnapshot=True)["DBInstance"]
        # Then it is deleting, and gone (the first describe tells) once its database, slot and master user are
        assert deleted["DBInstanceStatus"] == "deleting"
        with pytest.raises(rds.exceptions.DBInstanceNotFoundFault):
            rds.describe_db_instances(DBInstanceIdentifier="db-a")
        with pytest.raises(psycopg.OperationalError):
            session.execute("SELECT 1")
    assert not _exists("db", f"{prefix}_db") and not _exists("role", f"{prefix}_admin")
    with _admin() as conn:
        assert conn.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (f"{prefix}_slot",)).fetchone()[0] == 0  # fmt: skip


def test_changed_master_password_replaces_the_old_one(rds, prefix):
    # Given an available instance
    _admin().close()
    user, db, old, new = f"{prefix}_admin", f"{prefix}_db", "old-" + uuid.uuid4().hex, "new-" + uuid.uuid4().hex
    _create(rds, "db-b", db, user, old)
    endpoint = _wait(rds, "db-b", "available", "failed")["Endpoint"]
    _connect(endpoint, user, old, db).close()
    # When its master password is modified
    rds.modify_db_instance(DBInstanceIdentifier="db-b", MasterUserPassword=new, ApplyImmediately=True)
    assert _wait(rds, "db-b", "available")["DBInstanceStatus"] == "available"
    # Then the new password works and the old one no longer does
    _connect(endpoint, user, new, db).close()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(endpoint, user, old, db)
    events = rds.describe_events(SourceIdentifier="db-b", SourceType="db-instance")["Events"]
    assert "Reset master credentials" in [e["Message"] for e in events]


def test_default_parameter_group_gives_no_logical_replication_until_a_group_enables_it(rds, prefix):
    # Given an instance on the default parameter group (rds.logical_replication=0)
    _admin().close()
    user, db, password = f"{prefix}_admin", f"{prefix}_db", uuid.uuid4().hex
    _create(rds, "db-c", db, user, password)
    endpoint = _wait(rds, "db-c", "available", "failed")["Endpoint"]
    # Then its master user cannot create a logical replication slot, as logical decoding fails on RDS
    with _connect(endpoint, user, password, db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (f"{prefix}_slot",))
    # When it moves to a group with rds.logical_replication=1 and is rebooted (the parameter is static)
    group = _group(rds, f"{prefix}-pg", "1")
    rds.modify_db_instance(DBInstanceIdentifier="db-c", DBParameterGroupName=group, ApplyImmediately=True)
    rds.reboot_db_instance(DBInstanceIdentifier="db-c")
    assert _wait(rds, "db-c", "available")["DBInstanceStatus"] == "available"
    # Then the slot can be made
    with _connect(endpoint, user, password, db) as conn:
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (f"{prefix}_slot",))
    rds.delete_db_instance(DBInstanceIdentifier="db-c", SkipFinalSnapshot=True)
    assert _gone(rds, "db-c") and not _exists("db", db)


def test_second_instance_with_a_database_name_in_use_fails_and_leaves_the_first_alone(rds, prefix):
    # Given an available instance with database <prefix>_db
    _admin().close()
    user, db, password = f"{prefix}_admin", f"{prefix}_db", uuid.uuid4().hex
    _create(rds, "db-d", db, user, password)
    endpoint = _wait(rds, "db-d", "available", "failed")["Endpoint"]
    # When another instance asks for the same database name on the shared server
    _create(rds, "db-e", db, f"{prefix}_other", uuid.uuid4().hex)
    # Then it fails, saying why, with no endpoint
    failed = _wait(rds, "db-e", "failed")
    assert failed["DBInstanceStatus"] == "failed" and "Endpoint" not in failed
    assert any(f"database name {db} is in use by instance db-d" in m for m in _failure_events(rds, "db-e"))
    # And deleting the failed one leaves the first instance's database and user serving
    rds.delete_db_instance(DBInstanceIdentifier="db-e", SkipFinalSnapshot=True)
    assert _gone(rds, "db-e")
    _connect(endpoint, user, password, db).close()
    assert not _exists("role", f"{prefix}_other")


def test_database_the_engine_did_not_make_is_never_taken(rds, prefix):
    # Given a database on the server that no instance made
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(f"{prefix}_db")))
    # When an instance asks for that name
    _create(rds, "db-f", f"{prefix}_db", f"{prefix}_admin", uuid.uuid4().hex)
    # Then it fails and the database stays
    assert _wait(rds, "db-f", "failed")["DBInstanceStatus"] == "failed"
    assert any("was not made by the RDS engine" in m for m in _failure_events(rds, "db-f"))
    rds.delete_db_instance(DBInstanceIdentifier="db-f", SkipFinalSnapshot=True)
    assert _gone(rds, "db-f") and _exists("db", f"{prefix}_db")


def test_unreachable_postgresql_fails_the_instance(engine_host, emulator, monkeypatch, tmp_path):
    # Given the engine pointed at a PostgreSQL that does not run
    monkeypatch.setenv("SMARTSTREAM_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("SMARTSTREAM_PG_PORT", "1")
    rds_engine.install(engine_host)
    rds = boto3.client("rds")
    # When an instance is created
    _create(rds, "db-g", "nowhere", "nobody", uuid.uuid4().hex)
    # Then it fails with the reason in its events and in the engine's status
    assert _wait(rds, "db-g", "failed")["DBInstanceStatus"] == "failed"
    assert any("connection" in m for m in _failure_events(rds, "db-g"))
    status = engine_host.status("rds")
    assert status.errors == 1 and "create db-g" in status.last_error and status.counters["failed"] == 1


def test_database_of_an_instance_wiped_by_a_reset_is_made_anew_empty(rds, prefix, emulator):
    # Given an instance whose database holds a table, and the emulator reset (the instance is forgotten)
    _admin().close()
    user, db, password = f"{prefix}_admin", f"{prefix}_db", uuid.uuid4().hex
    _create(rds, "db-h", db, user, password)
    endpoint = _wait(rds, "db-h", "available", "failed")["Endpoint"]
    with _connect(endpoint, user, password, db) as conn:
        conn.execute("CREATE TABLE leftover (id int)")
    requests.post(f"{emulator}/moto-api/reset", timeout=RESET_TIMEOUT_S).raise_for_status()
    # When a new instance asks for the same database name and master user, with another password
    other = uuid.uuid4().hex
    _create(rds, "db-i", db, user, other)
    # Then it is available with an empty database, as a new RDS instance is, and the new password
    assert _wait(rds, "db-i", "available", "failed")["DBInstanceStatus"] == "available", _failure_events(rds, "db-i")
    with _connect(endpoint, user, other, db) as conn:
        assert conn.execute("SELECT to_regclass('public.leftover')").fetchone() == (None,)


def test_master_user_of_another_instance_with_another_password_fails(rds, prefix):
    # Given an available instance with master user <prefix>_admin
    _admin().close()
    user, password = f"{prefix}_admin", uuid.uuid4().hex
    _create(rds, "db-j", f"{prefix}_one", user, password)
    assert _wait(rds, "db-j", "available", "failed")["DBInstanceStatus"] == "available"
    # When a second instance (another database) names the same master user with the same password, then another
    _create(rds, "db-k", f"{prefix}_two", user, password)
    _create(rds, "db-l", f"{prefix}_three", user, uuid.uuid4().hex)
    # Then the first shares the role; the second fails (one role per user name on the shared server)
    assert _wait(rds, "db-k", "available", "failed")["DBInstanceStatus"] == "available"
    assert _wait(rds, "db-l", "failed")["DBInstanceStatus"] == "failed"
    assert any("with another password" in m for m in _failure_events(rds, "db-l"))
    # And deleting one sharer keeps the role for the other
    rds.delete_db_instance(DBInstanceIdentifier="db-j", SkipFinalSnapshot=True)
    assert _gone(rds, "db-j") and _exists("role", user) and not _exists("db", f"{prefix}_one")


def test_instance_without_a_database_name_has_its_master_user_only(rds, prefix):
    # Given an instance created without DBName (RDS then makes no database besides postgres)
    _admin().close()
    user, password = f"{prefix}_admin", uuid.uuid4().hex
    rds.create_db_instance(
        DBInstanceIdentifier="db-m", DBInstanceClass="db.t3.micro", Engine="postgres", AllocatedStorage=20,
        MasterUsername=user, MasterUserPassword=password,
    )  # fmt: skip
    # Then its master user connects to the postgres database at its endpoint
    endpoint = _wait(rds, "db-m", "available", "failed")["Endpoint"]
    _connect(endpoint, user, password, "postgres").close()
    # And deleting it removes the user and leaves the postgres database
    rds.delete_db_instance(DBInstanceIdentifier="db-m", SkipFinalSnapshot=True)
    assert _gone(rds, "db-m") and not _exists("role", user) and _exists("db", "postgres")
