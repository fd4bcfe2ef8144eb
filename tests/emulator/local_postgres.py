"""The local PostgreSQL (started by make up) for the tests of the engines that act on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from emulator.engines import rds as rds_engine

SERVER = rds_engine.PgServer.from_env()


def admin() -> psycopg.Connection:
    """An admin connection; a PostgreSQL that does not answer fails the test (never skips it)."""
    try:
        return SERVER.admin()
    except psycopg.OperationalError as exc:
        pytest.fail(f"the local PostgreSQL does not answer (run make up): {exc}")


@contextmanager
def scratch_prefix(kind: str) -> Iterator[str]:
    """A name prefix for a test's databases and roles; whatever carries it is dropped afterwards."""
    name = f"{kind}_{uuid.uuid4().hex[:8]}"
    with admin() as conn:
        yield name
        for (db,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (name + "%",)).fetchall():
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db)))
        for (role,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (name + "%",)).fetchall():
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
