"""The PostgreSQL source: TLS connection, catalog, logical slot (test_decoding), full load, change reading.

Values are read as PostgreSQL's text output in both phases (the full load
registers psycopg's text loader for every column type, test_decoding prints
the same output functions), with the session settings DMS's driver would
see: TimeZone UTC, DateStyle ISO, bytea_output hex.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.string import TextLoader

from emulator.engines.dms.config import SourceConfig, TaskError
from emulator.engines.dms.records import Column, Table

_SESSION = "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c bytea_output=hex -c extra_float_digits=1"
_TABLES = """
SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'
"""
_COLUMNS = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, NULL), a.atttypmod, NOT a.attnotnull, a.atttypid
FROM pg_attribute a WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""
_PRIMARY_KEYS = """
SELECT i.indrelid, a.attname FROM pg_index i
JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indisprimary AND i.indrelid = ANY(%s) ORDER BY i.indrelid, k.ord
"""


def certificate(run_dirs: list[Path]) -> str | None:
    """The local server's certificate (the CA a verify-ca / verify-full endpoint trusts)."""
    for run_dir in run_dirs:
        cert = run_dir / "tls" / "cert.pem"
        if cert.exists():
            return str(cert)
    return None


class Source:
    """One source database, as the task's endpoint describes it."""

    def __init__(self, cfg: SourceConfig, run_dirs: list[Path]):
        self.cfg = cfg
        self.run_dirs = [*run_dirs, Path(os.environ.get("SMARTSTREAM_RUN_DIR", "/tmp/smartstream-local"))]
        self.oids: dict[tuple[str, str], int] = {}
        self.type_oids: dict[tuple[str, str], list[int]] = {}

    def _credentials(self) -> tuple[str, str]:
        """The user and password of a new connection: read from the endpoint's secret now (a rotation since the
        task started is picked up, as DMS does), else the ones the task started with."""
        if self.cfg.credentials is not None:
            try:
                return self.cfg.credentials()
            except Exception as exc:  # the secret unreadable now: the task's own copy, and the reason logged
                logging.getLogger(__name__).warning("source secret not read again: %s", exc)
        return self.cfg.user, self.cfg.password

    def connect(self) -> psycopg.Connection[Any]:
        user, password = self._credentials()
        kwargs: dict[str, Any] = {}
        if self.cfg.sslmode in ("verify-ca", "verify-full"):
            kwargs["sslrootcert"] = certificate(self.run_dirs) or "system"
        try:
            return psycopg.connect(
                host=self.cfg.host,
                port=self.cfg.port,
                dbname=self.cfg.dbname,
                user=user,
                password=password,
                sslmode=self.cfg.sslmode,
                connect_timeout=5,
                application_name="AWS DMS (smartstream emulator)",
                options=_SESSION,
                autocommit=True,
                **kwargs,
            )
        except psycopg.Error as exc:
            raise TaskError(
                "Endpoint initialization failed",
                f"Failed to connect to database {self.cfg.dbname} at {self.cfg.host}:{self.cfg.port}: "
                + str(exc).strip().replace("\n", " "),
                1020401,
            ) from None

    # -- catalog -----------------------------------------------------------------------------------
    def tables(self, conn: psycopg.Connection[Any], selected: Callable[[str, str], bool]) -> list[Table]:
        """The tables the selection rules take, in schema/table order."""
        found = [(oid, s, t) for oid, s, t in conn.execute(_TABLES).fetchall() if selected(s, t)]
        return self._describe(conn, sorted(found, key=lambda x: (x[1], x[2])))

    def table(self, conn: psycopg.Connection[Any], schema: str, name: str) -> Table | None:
        row = conn.execute(_TABLES + " AND n.nspname = %s AND c.relname = %s", (schema, name)).fetchone()
        described = self._describe(conn, [row]) if row else []
        return described[0] if described else None

    def existing(self, conn: psycopg.Connection[Any], names: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of ``names`` exist now."""
        rows = conn.execute(_TABLES).fetchall()
        present = {(s, t) for _oid, s, t in rows}
        return {n for n in names if n in present}

    def _describe(self, conn: psycopg.Connection[Any], found: list[tuple[int, str, str]]) -> list[Table]:
        oids = [oid for oid, _s, _t in found]
        columns: dict[int, list[Column]] = {oid: [] for oid in oids}
        types: dict[int, list[int]] = {oid: [] for oid in oids}
        for relid, name, pg_type, typmod, nullable, typoid in conn.execute(_COLUMNS, (oids,)).fetchall():
            columns[relid].append(Column(name, pg_type, typmod, nullable))
            types[relid].append(typoid)
        keys: dict[int, list[str]] = {oid: [] for oid in oids}
        for relid, name in conn.execute(_PRIMARY_KEYS, (oids,)).fetchall():
            keys[relid].append(name)
        out = []
        for oid, schema, name in found:
            self.oids[(schema, name)] = oid
            self.type_oids[(schema, name)] = types[oid]
            out.append(Table(schema, name, columns[oid], keys[oid]))
        return out

    # -- slot --------------------------------------------------------------------------------------
    @staticmethod
    def slot(conn: psycopg.Connection[Any], name: str) -> tuple[str, str | None] | None:
        """(plugin, confirmed_flush_lsn) of a slot of this database, None when there is none."""
        row = conn.execute(
            "SELECT plugin, confirmed_flush_lsn::text FROM pg_replication_slots"
            " WHERE slot_name = %s AND database = current_database()",
            (name,),
        ).fetchone()
        return (row[0], row[1]) if row else None

    @staticmethod
    def create_slot(conn: psycopg.Connection[Any], name: str) -> str:
        try:
            row = conn.execute(
                "SELECT lsn::text FROM pg_create_logical_replication_slot(%s, 'test_decoding')", (name,)
            ).fetchone()
        except psycopg.Error as exc:
            raise TaskError("Failed to create the replication slot", f"{name}: {str(exc).strip()}", 1020101) from None
        return row[0] if row else ""

    @staticmethod
    def drop_slot(conn: psycopg.Connection[Any], name: str) -> bool:
        row = conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
            " WHERE slot_name = %s AND database = current_database()",
            (name,),
        ).fetchone()
        return row is not None

    @staticmethod
    def current_lsn(conn: psycopg.Connection[Any]) -> str:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        return row[0] if row else "0/0"

    @staticmethod
    def advance(conn: psycopg.Connection[Any], name: str, lsn: str) -> None:
        """Confirm everything before ``lsn``: the slot's confirmed_flush_lsn moves there, never back."""
        conn.execute("SELECT pg_replication_slot_advance(%s, %s::pg_lsn)", (name, lsn))

    @staticmethod
    def peek(conn: psycopg.Connection[Any], name: str, changes: int) -> Iterator[tuple[str, int, str]]:
        """(lsn, xid, data) of the changes after the slot's confirmed position, whole transactions only."""
        with conn.transaction(), conn.cursor(name="dms_peek") as cur:
            cur.itersize = 2000
            cur.execute(
                "SELECT lsn::text, xid::text::bigint, data FROM pg_logical_slot_peek_changes("
                "%s, NULL, %s, 'include-xids', '1', 'include-timestamp', '1')",
                (name, changes),
            )
            yield from cur

    # -- full load ---------------------------------------------------------------------------------
    def load(self, conn: psycopg.Connection[Any], table: Table, batch: int) -> Iterator[list[tuple[str | None, ...]]]:
        """The table's rows, ``batch`` at a time, as PostgreSQL's text (in the connection's open transaction)."""
        for oid in set(self.type_oids.get((table.schema, table.name), [])):
            conn.adapters.register_loader(oid, TextLoader)
        query = sql.SQL("SELECT {} FROM {}.{}").format(
            sql.SQL(", ").join(sql.Identifier(n) for n in table.names),
            sql.Identifier(table.schema),
            sql.Identifier(table.name),
        )
        with conn.cursor(name=f"dms_load_{abs(hash((table.schema, table.name)))}") as cur:
            cur.execute(query)
            while rows := cur.fetchmany(batch):
                yield rows

    def lookup(
        self, conn: psycopg.Connection[Any], table: Table, key: dict[str, Any], columns: list[str]
    ) -> dict[str, str | None]:
        """Current values of ``columns`` of the row with primary key ``key`` (unchanged TOAST values)."""
        for oid in set(self.type_oids.get((table.schema, table.name), [])):
            conn.adapters.register_loader(oid, TextLoader)
        where = sql.SQL(" AND ").join(
            sql.SQL("{} = CAST({} AS {})").format(sql.Identifier(k), sql.Placeholder(), sql.SQL(table.types[k]))
            for k in key
        )
        query = sql.SQL("SELECT {} FROM {}.{} WHERE {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            sql.Identifier(table.schema),
            sql.Identifier(table.name),
            where,
        )
        row = conn.execute(query, [key[k] for k in key]).fetchone()
        return dict(zip(columns, row, strict=True)) if row else {}
