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
