"""The local PostgreSQL that serves the RDS engine's instances: its admin connection and what the engine marks."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

ADDRESS = "127.0.0.1"
# The engine's mark on a database or role it made (a COMMENT): "smartstream-rds {json}".
MARK = "smartstream-rds "


def boot_time(pid: int) -> str | None:
    """The start time of process ``pid`` (field 22 of /proc/<pid>/stat), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


PROCESS = {"pid": os.getpid(), "boot": boot_time(os.getpid())}


@dataclass(frozen=True)
class PgServer:
    """The local PostgreSQL: its TCP port and its admin socket."""

    port: int
    socket_dir: str

    @classmethod
    def from_env(cls) -> PgServer:
        run_dir = os.environ.get("SMARTSTREAM_RUN_DIR", "/tmp/smartstream-local")
        return cls(int(os.environ.get("SMARTSTREAM_PG_PORT", "55432")), f"{run_dir}/postgres/sock")

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(
            host=self.socket_dir, port=self.port, user="postgres", dbname="postgres", autocommit=True,
            connect_timeout=5,
        )  # fmt: skip

    def login_works(self, user: str, password: str) -> bool:
        try:
            with psycopg.connect(
                host=ADDRESS, port=self.port, user=user, password=password, dbname="postgres", sslmode="require",
                connect_timeout=5,
            ):  # fmt: skip
                return True
        except psycopg.OperationalError:
            return False


def mark_of(comment: str | None) -> dict[str, Any] | None:
    """The engine's mark in a database's or role's comment (None: not made by the engine)."""
    if not comment or not comment.startswith(MARK):
        return None
    try:
        return json.loads(comment[len(MARK) :])
    except ValueError:
        return None


def ensure_role(conn: psycopg.Connection, user: str, password: str, replication: bool, exists: bool) -> None:
    """Make or change the master role: its attributes, its password (as a SCRAM verifier only), its mark."""
    verifier = conn.pgconn.encrypt_password(password.encode(), user.encode(), b"scram-sha-256").decode()
    attrs = "LOGIN CREATEDB CREATEROLE " + ("REPLICATION" if replication else "NOREPLICATION")
    verb = "ALTER" if exists else "CREATE"
    conn.execute(
        sql.SQL(f"{verb} ROLE {{}} WITH {attrs} PASSWORD {{}}").format(sql.Identifier(user), sql.Literal(verifier))
    )
    conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(sql.Identifier(user), sql.Literal(MARK + "{}")))


# The roles RDS makes on every PostgreSQL instance and grants to the master user (WITH ADMIN OPTION, so the
# master may grant them on): rds_superuser, and rds_replication, whose members may replicate.
RDS_ROLES = ("rds_superuser", "rds_replication")


def ensure_rds_roles(conn: psycopg.Connection, master: str) -> None:
    """RDS's roles exist (NOLOGIN) and the master user holds them with ADMIN OPTION, as on RDS."""
    for role in RDS_ROLES:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(sql.Identifier(role), sql.Identifier(master)))


def sync_replication_members(conn: psycopg.Connection) -> list[str]:
    """REPLICATION for the login roles that are members of rds_replication and lack it (PostgreSQL does not
    inherit the attribute through membership; RDS's server gives it to the role's members); returns them.
    The master users (the engine's marked roles) are left out: theirs follows rds.logical_replication."""
    rows = conn.execute(
        "SELECT r.rolname FROM pg_roles r WHERE r.rolcanlogin AND NOT r.rolreplication AND NOT r.rolsuper "
        "AND coalesce(shobj_description(r.oid, 'pg_authid'), '') NOT LIKE %s "
        "AND EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = 'rds_replication' "
        "AND pg_has_role(r.oid, g.oid, 'MEMBER'))",
        (MARK + "%",),
    ).fetchall()
    for (name,) in rows:
        conn.execute(sql.SQL("ALTER ROLE {} WITH REPLICATION").format(sql.Identifier(name)))
    return [name for (name,) in rows]


def drop_database(conn: psycopg.Connection, dbname: str) -> None:
    """End its sessions and walsenders, drop its replication slots (DROP DATABASE refuses while any), then it."""
    for _ in range(50):
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
            "UNION ALL SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = %s AND active",
            (dbname, dbname),
        )
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = %s AND NOT active",
            (dbname,),
        )
        if conn.execute("SELECT 1 FROM pg_replication_slots WHERE database = %s", (dbname,)).fetchone() is None:
            break
        time.sleep(0.1)  # a terminated walsender takes a moment to release its slot
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
