"""The PostgreSQL side of a rotation: TLS connections and the statements that change a login.

pg8000 (pure Python, vendored into the function's zip) connects with TLS:
``rds.force_ssl`` is on. ``DB_SSLMODE`` is ``require`` (encrypted; what the
DMS endpoint uses) or ``verify-full`` (the server certificate checked against
``DB_CA_BUNDLE``, e.g. the RDS global bundle shipped next to the code).
"""

from __future__ import annotations

import os
import ssl
from typing import Any

import pg8000.native

from .passwords import scram_verifier

CONNECT_TIMEOUT_S = 5


class LoginFailed(Exception):
    """The database refused the credentials (or could not be reached)."""


def tls_context() -> ssl.SSLContext:
    mode = os.environ.get("DB_SSLMODE", "require")
    if mode == "verify-full":
        return ssl.create_default_context(cafile=os.environ.get("DB_CA_BUNDLE") or None)
    if mode != "require":
        raise ValueError(f"DB_SSLMODE {mode!r}: require or verify-full (rds.force_ssl refuses plain connections)")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def connect(secret: dict[str, Any], dbname: str | None = None) -> pg8000.native.Connection:
    """A connection as the secret's user to its database (``dbname`` overrides it); LoginFailed if refused."""
    missing = [k for k in ("host", "username", "password") if not secret.get(k)]
    if missing:
        raise ValueError(f"the secret has no {', '.join(missing)}")
    try:
        return pg8000.native.Connection(
            user=secret["username"],
            password=secret["password"],
            host=secret["host"],
            port=int(secret.get("port") or 5432),
            database=dbname or secret.get("dbname") or "postgres",
            ssl_context=tls_context(),
            timeout=CONNECT_TIMEOUT_S,
            application_name="smartstream-rotation",
        )
    except (pg8000.native.DatabaseError, pg8000.native.InterfaceError, OSError) as exc:
        raise LoginFailed(f"{secret['username']}@{secret['host']}: {_reason(exc)}") from None


def login_works(secret: dict[str, Any]) -> bool:
    try:
        connect(secret).close()
    except LoginFailed:
        return False
    return True


def _reason(exc: Exception) -> str:
    """A readable reason (pg8000's errors carry a dict of the server's fields)."""
    if exc.args and isinstance(exc.args[0], dict):
        fields = exc.args[0]
        return f"{fields.get('C', '')} {fields.get('M', '')}".strip()
    return str(exc) or type(exc).__name__


def _ident(conn: pg8000.native.Connection, name: str) -> str:
    return conn.run("SELECT quote_ident(:name)", name=name)[0][0]


def set_own_password(conn: pg8000.native.Connection, password: str) -> None:
    """Single user: the logged-in user changes its own password (any PostgreSQL user may)."""
    user = _ident(conn, conn.run("SELECT current_user")[0][0])
    conn.run(f"ALTER ROLE {user} WITH PASSWORD '{scram_verifier(password)}'")


def ensure_user(conn: pg8000.native.Connection, username: str, password: str, schemas: list[str]) -> bool:
    """As the master user: the user exists with LOGIN and ``password``, holds ``rds_replication`` and may read the
    tables of ``schemas`` (present and future ones the master creates). True when the user was created."""
    user = _ident(conn, username)
    exists = bool(conn.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=username))
    verb = "ALTER" if exists else "CREATE"
    conn.run(f"{verb} ROLE {user} WITH LOGIN PASSWORD '{scram_verifier(password)}'")
    if not conn.run("SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication'"):
        raise RuntimeError("role rds_replication does not exist: the database is not an RDS PostgreSQL instance")
    conn.run(f"GRANT rds_replication TO {user}")
    for schema in schemas:
        quoted = _ident(conn, schema)
        conn.run(f"GRANT USAGE ON SCHEMA {quoted} TO {user}")
        conn.run(f"GRANT SELECT ON ALL TABLES IN SCHEMA {quoted} TO {user}")
        conn.run(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {quoted} GRANT SELECT ON TABLES TO {user}")
    return not exists


def check_user(conn: pg8000.native.Connection, schemas: list[str]) -> None:
    """testSecret of a replication user: it may replicate and read the schemas' tables."""
    if not conn.run("SELECT pg_has_role(current_user, 'rds_replication', 'MEMBER')")[0][0]:
        raise RuntimeError("the user is not a member of rds_replication")
    for schema in schemas:
        denied = conn.run(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') "
            "AND NOT has_table_privilege(c.oid, 'SELECT') LIMIT 1",
            schema=schema,
        )
        if denied:
            raise RuntimeError(f"the user may not read {schema}.{denied[0][0]}")
