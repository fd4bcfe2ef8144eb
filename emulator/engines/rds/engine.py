"""The RDS engine's work: provision, change and remove the instances' databases and roles, one job at a time."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from typing import Any

import psycopg
from moto.rds import models as rds_models
from psycopg import sql

from emulator.engines.host import EngineHost
from emulator.engines.rds.postgres import (
    ADDRESS,
    MARK,
    PROCESS,
    PgServer,
    boot_time,
    drop_database,
    ensure_rds_roles,
    ensure_role,
    mark_of,
    sync_replication_members,
)

NAME = "rds"
_RESERVED_DATABASES = {"postgres", "template0", "template1", "rdsadmin"}
_FAILURE_HINT = "drop it on the server or choose another name"
_TRANSITIONAL = {"creating", "deleting", "rebooting", "resetting-master-credentials"}
# DescribeDBInstances first waits this long for an instance's pending work (the amazon.aws waiters poll
# right after the call, then every 60 s): the outcome shows at once, the call's own answer stays transitional.
SETTLE_S = 3.0
# How often the members of rds_replication are given REPLICATION (a GRANT takes effect within this time).
SYNC_S = 0.5


# token -> moto DBInstance, for the instances this process serves.
_SERVED: dict[str, Any] = {}


class ProvisioningError(Exception):
    """Why an instance cannot be provisioned: its ``failed`` reason."""


def _live(instance: Any) -> bool:
    """Whether ``instance`` still exists in its moto backend (not deleted, not wiped by a reset)."""
    return instance.backend.databases.get(instance.db_instance_identifier) is instance


def _claim_holder(mark: dict[str, Any]) -> str | None:
    """Which live instance holds what ``mark`` marks (its identifier), None when no live instance does."""
    if mark.get("pid") == PROCESS["pid"] and mark.get("boot") == PROCESS["boot"]:
        instance = _SERVED.get(mark.get("token", ""))
        return instance.db_instance_identifier if instance is not None and _live(instance) else None
    if mark.get("boot") and boot_time(int(mark.get("pid", 0))) == mark["boot"]:
        return f"{mark.get('instance')} (served by the emulator process {mark['pid']})"
    return None


def _password(instance: Any) -> str | None:
    """The master password AWS was given (or the one of the secret RDS manages for it)."""
    if getattr(instance, "manage_master_user_password", False):
        return json.loads(instance.master_user_secret.secret.secret_string)["password"]
    return getattr(instance, "_master_user_password", None)


def _parameter(instance: Any, name: str) -> str:
    """A parameter of the instance's DB parameter group (its value, else the engine default)."""
    from emulator.patches.rds import engine_default_parameters

    group = instance.db_parameter_groups()[0]
    param = group.parameters.get(name) or {}
    if param.get("ParameterValue") is not None:
        return str(param["ParameterValue"])
    defaults = {p["ParameterName"]: p.get("ParameterValue") for p in engine_default_parameters(group.family)}
    return str(defaults.get(name) or "0")


def _event(instance: Any, message: str, category: str) -> None:
    """An RDS event of the instance (DescribeEvents), as RDS records failures and credential resets."""
    event = rds_models.Event("DB_INSTANCE_CREATE", instance)
    event.message, event.event_categories = message, [category]
    instance.backend.events.append(event)


class RdsEngine:
    """Provisions, changes and removes the instances' databases and roles, one job at a time."""

    def __init__(self, host: EngineHost, server: PgServer):
        self.host, self.server = host, server
        self.log, self.status = host.logger(NAME), host.status(NAME)
        self.jobs: deque[tuple[str, Any]] = deque()
        self._lock = threading.Lock()
        self._next_sync = 0.0

    def active(self) -> bool:
        # EngineHost has no public "stopped" yet: its stop event tells.
        stop = getattr(self.host, "_stop", None)
        return not (stop is not None and stop.is_set())

    # ------------------------------------------------------------ hooks (moto's request threads)
    def on_create(self, instance: Any) -> None:
        instance._ss_token = uuid.uuid4().hex
        instance._ss_endpoint = None
        instance.status = "creating"
        _SERVED[instance._ss_token] = instance
        self._queue("create", instance)

    def on_modify(self, instance: Any, old_password: str | None) -> None:
        if instance.status == "available" and _password(instance) != old_password:
            instance.status = "resetting-master-credentials"
            self._queue("password", instance)

    def on_reboot(self, instance: Any) -> None:
        if instance.status == "available":
            instance.status = "rebooting"
            self._queue("reboot", instance)

    def on_delete(self, backend: Any, instance: Any) -> None:
        # moto forgets the instance at once; RDS shows it ``deleting`` until its storage is gone.
        backend.databases[instance.db_instance_identifier] = instance
        instance.status = "deleting"
        self._queue("delete", instance)

    def _queue(self, kind: str, instance: Any) -> None:
        instance._ss_settled = threading.Event()
        self.jobs.append((kind, instance))

    def settle(self, instance: Any) -> None:
        """Wait (a little) for the pending work of ``instance``: what DescribeDBInstances does first."""
        settled = getattr(instance, "_ss_settled", None)
        if settled is not None and self.active():
            settled.wait(SETTLE_S)

    # ------------------------------------------------------------ the loop
    def tick(self) -> None:
        for token, instance in list(_SERVED.items()):  # instances wiped by /moto-api/reset are forgotten
            if not _live(instance):
                _SERVED.pop(token, None)
        with self._lock:
            while self.jobs:
                kind, instance = self.jobs.popleft()
                try:
                    self._run(kind, instance)
                finally:
                    instance._ss_settled.set()
            if _SERVED and time.monotonic() >= self._next_sync:
                self._next_sync = time.monotonic() + SYNC_S
                self._sync_replication()

    @contextlib.contextmanager
    def password_change(self, masters: list[str]) -> Iterator[None]:
        """A window in which ``masters`` (master users of the engine's instances) may change passwords as
        rds_superuser may on RDS: PostgreSQL lets only a superuser alter a role with REPLICATION (the master's
        own, the members of rds_replication). For the window they are SUPERUSER (no other engine work runs
        meanwhile); the replicating roles keep their attributes, so an established DMS session goes on."""
        with self._lock:
            raised: list[str] = []
            with self.server.admin() as conn:
                for user in masters:
                    row = conn.execute(
                        "SELECT rolsuper, shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s",
                        (user,),
                    ).fetchone()
                    if row and not row[0] and mark_of(row[1]) is not None:
                        conn.execute(sql.SQL("ALTER ROLE {} WITH SUPERUSER").format(sql.Identifier(user)))
                        raised.append(user)
            try:
                yield
            finally:
                with self.server.admin() as conn:
                    for user in raised:
                        conn.execute(sql.SQL("ALTER ROLE {} WITH NOSUPERUSER").format(sql.Identifier(user)))

    def _sync_replication(self) -> None:
        """Members of rds_replication may replicate (GRANT rds_replication, as on RDS), checked every SYNC_S."""
        try:
            with self.server.admin() as conn:
                for name in sync_replication_members(conn):
                    self.status.action(f"role {name}: REPLICATION (member of rds_replication)")
                    self.log.info("role %s is a member of rds_replication: REPLICATION", name)
        except (psycopg.Error, OSError) as exc:
            self.log.warning("rds_replication members not synchronised: %s", str(exc).strip())

    def _run(self, kind: str, instance: Any) -> None:
        ident = instance.db_instance_identifier
        if not _live(instance):  # deleted before its turn, or wiped by /moto-api/reset: forget it
            _SERVED.pop(getattr(instance, "_ss_token", ""), None)
            return
        try:
            getattr(self, f"_{kind}")(instance)
        except Exception as exc:  # visible on the instance, never fatal to the emulator
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.status.error(f"{kind} {ident}: {reason}")
            expected = isinstance(exc, ProvisioningError | psycopg.Error | OSError)
            self.log.log(40, "%s of instance %s failed: %s", kind, ident, reason, exc_info=not expected)
            if kind == "delete":  # RDS deletes the instance whatever its database does
                self._forget(instance)
            elif kind == "create":
                instance.status = "failed"
                _event(instance, f"DB instance put into failed state: {reason}", "failure")
                self.status.count("failed")
            else:  # the instance keeps serving what it served
                instance.status = "available"
                _event(instance, f"{kind} failed: {reason}", "failure")

    def _create(self, instance: Any) -> None:
        if instance.status != "creating":
            return
        ident, dbname = instance.db_instance_identifier, instance.db_name  # no DBName: no database, as on RDS
        user, password = instance.master_username, _password(instance)
        if not user or not password:
            raise ProvisioningError("no master user name or password")
        if dbname in _RESERVED_DATABASES:
            raise ProvisioningError(f"database name {dbname} is reserved on the shared server")
        mark = MARK + json.dumps({"instance": ident, "token": instance._ss_token, **PROCESS})
        with self.server.admin() as conn:
            role = conn.execute(
                "SELECT rolsuper, shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s", (user,)
            ).fetchone()
            if role and (role[0] or mark_of(role[1]) is None):
                raise ProvisioningError(f"master user {user} exists on the shared server and was not made by the "
                                        f"RDS engine: {_FAILURE_HINT}")  # fmt: skip
            users = self._role_holders(conn, user, but=instance._ss_token)
            if users and not self.server.login_works(user, password):
                raise ProvisioningError(f"master user {user} is already the master user of instance {users[0]} with "
                                        "another password (one role per user name on the shared server)")  # fmt: skip
            ours = self._claim_database(conn, instance, dbname) if dbname else False
            ensure_role(conn, user, password, self._replication(instance), exists=role is not None)
            ensure_rds_roles(conn, user)
            if dbname and not ours:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(user))
                )
            if dbname:
                conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(dbname), sql.Literal(mark)))
        instance._ss_database = dbname
        instance._ss_endpoint = {"Address": ADDRESS, "Port": self.server.port}
        instance.status = "available"
        self.status.count("provisioned")
        self.status.action(
            f"provisioned {ident}: database {dbname}, master user {user} at {ADDRESS}:{self.server.port}"
        )
        self.log.info("instance %s available: database %s, master user %s, %s:%s",
                      ident, dbname, user, ADDRESS, self.server.port)  # fmt: skip

    def _claim_database(self, conn: psycopg.Connection, instance: Any, dbname: str) -> bool:
        """Whether ``dbname`` is already this instance's; raises when another instance (or no RDS) holds it."""
        found = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (dbname,)
        ).fetchone()
        if not found:
            return False
        held = mark_of(found[0])
        if held is None:
            raise ProvisioningError(f"database {dbname} exists on the shared server and was not made by "
                                    f"the RDS engine: {_FAILURE_HINT}")  # fmt: skip
        if held.get("token") == instance._ss_token:
            return True
        holder = _claim_holder(held)
        if holder:
            raise ProvisioningError(f"database name {dbname} is in use by instance {holder} "
                                    "(one database per name on the shared server)")  # fmt: skip
        self.log.warning("database %s of a former instance %s dropped: a new instance starts empty",
                         dbname, held.get("instance"))  # fmt: skip
        drop_database(conn, dbname)
        return False

    def _replication(self, instance: Any) -> bool:
        replication = _parameter(instance, "rds.logical_replication") == "1"
        if _parameter(instance, "rds.force_ssl") != "1":
            self.log.info("instance %s: rds.force_ssl=0, but the shared server accepts TCP only with TLS",
                          instance.db_instance_identifier)  # fmt: skip
        return replication

    def _role_holders(self, conn: psycopg.Connection, user: str, but: str) -> list[str]:
        """The live instances (other than the one of token ``but``) whose database the role ``user`` owns."""
        rows = conn.execute(
            "SELECT shobj_description(d.oid, 'pg_database') FROM pg_database d "
            "JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = %s",
            (user,),
        ).fetchall()
        marks = [m for m in (mark_of(c) for (c,) in rows) if m and m.get("token") != but]
        return [h for h in (_claim_holder(m) for m in marks) if h]

    def _password(self, instance: Any) -> None:
        if getattr(instance, "_ss_endpoint", None) is None:  # never provisioned: nothing to change
            return
        with self.server.admin() as conn:
            ensure_role(conn, instance.master_username, _password(instance), self._replication(instance), True)
        instance.status = "available"
        _event(instance, "Reset master credentials", "configuration change")
        self.status.count("passwords_changed")
        self.status.action(f"changed the master password of {instance.db_instance_identifier}")
        self.log.info("instance %s: master password changed", instance.db_instance_identifier)

    def _reboot(self, instance: Any) -> None:
        if getattr(instance, "_ss_endpoint", None) is not None:
            replication = self._replication(instance)
            with self.server.admin() as conn:
                flag = "REPLICATION" if replication else "NOREPLICATION"
                conn.execute(sql.SQL(f"ALTER ROLE {{}} WITH {flag}").format(sql.Identifier(instance.master_username)))
            self.log.info(
                "instance %s rebooted: rds.logical_replication=%d", instance.db_instance_identifier, replication
            )
        instance.status = "available"

    def _delete(self, instance: Any) -> None:
        dbname, user = getattr(instance, "_ss_database", None), instance.master_username
        if getattr(instance, "_ss_endpoint", None) is not None:
            with self.server.admin() as conn:
                found = conn.execute(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (dbname,)
                ).fetchone()
                if found and (mark_of(found[0]) or {}).get("token") == instance._ss_token:
                    drop_database(conn, dbname)
                role = conn.execute(
                    "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s", (user,)
                ).fetchone()
                owned = conn.execute(
                    "SELECT count(*) FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = %s",
                    (user,),
                ).fetchone()[0]
                if role and mark_of(role[0]) is not None and owned == 0:
                    conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(user)))
            self.status.count("dropped")
            self.status.action(f"deleted {instance.db_instance_identifier}: database {dbname} dropped")
            self.log.info("instance %s deleted: database %s dropped", instance.db_instance_identifier, dbname)
        self._forget(instance)

    def _forget(self, instance: Any) -> None:
        if _live(instance):
            instance.backend.databases.pop(instance.db_instance_identifier, None)
        _SERVED.pop(getattr(instance, "_ss_token", ""), None)
