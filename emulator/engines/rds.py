"""RDS engine: each PostgreSQL DB instance of the emulator is served by the local PostgreSQL 15.

What AWS does, imitated here:
- CreateDBInstance (engine ``postgres``) answers ``creating``; the instance is provisioned asynchronously:
  its database (DBName) owned by its master user (MasterUsername, with the master password AWS was given,
  LOGIN CREATEDB CREATEROLE, and REPLICATION as RDS's ``rds_replication`` grants it), then ``available``
  with ``Endpoint`` = 127.0.0.1:<PostgreSQL port> (TLS, verifiable against the emulator's certificate,
  SAN IP:127.0.0.1). As on AWS, no ``Endpoint`` is reported before that. A provisioning failure puts the
  instance in ``failed``, with the reason in an RDS event (DescribeEvents, category ``failure``), the engine
  log and ``make status``.
- ModifyDBInstance with MasterUserPassword: ``resetting-master-credentials``, the role's password changes
  (ALTER ROLE), then ``available``.
- RebootDBInstance: ``rebooting``, the static parameters are applied again, then ``available``.
- DeleteDBInstance: ``deleting`` until its connections are ended, the logical replication slots of its
  database dropped, the database dropped and the master role dropped (unless another instance uses it);
  then the instance is gone.
- Parameter group: ``rds.logical_replication`` = 1 gives the master user REPLICATION (so DMS can create its
  slot); 0 (the default group's value) leaves it NOREPLICATION, so creating a logical replication slot fails
  as logical decoding does on RDS without it. Read when provisioning and at each reboot (it is static).

The shared server (what it cannot do as AWS does; the known gaps):
- One PostgreSQL serves every instance, so they share its port, its version (15, whatever EngineVersion
  says), its settings (wal_level=logical always) and its roles. ``Endpoint.Port`` is the server's port even
  when the instance asked for another (``DbInstancePort`` keeps the asked one): deploy with ``Port`` = the
  server's port to see no difference.
- ``rds.force_ssl`` is always honoured as 1: the server accepts TCP only with TLS (scripts/localenv.sh);
  a group with 0 does not open plain TCP (logged).
- Two instances cannot have the same database name: the second goes ``failed`` ("in use by instance X").
  A database already on the server that the engine did not make is never touched (``failed``); one the engine
  made for an instance that no longer exists (the emulator restarted or was reset) is dropped and made anew,
  empty, as a new RDS instance is.
- Two instances may share a master user name only with the same password (one role per name on the server);
  a password change of one changes it for both. Superuser roles (``postgres``) cannot be master users.
- Not served: other engines, Aurora clusters, read replicas, snapshots' contents, stop/start (the database
  stays reachable), ManageMasterUserPassword rotation, its own port or cluster per instance.

Where it finds the server: ``SMARTSTREAM_PG_PORT`` (default 55432) and the admin socket
``$SMARTSTREAM_RUN_DIR/postgres/sock`` (default run dir /tmp/smartstream-local), where the OS user root or
postgres connects as ``postgres`` (peer auth), as ``scripts/localenv.sh`` sets it up. The engine owns what it
makes through a mark (a COMMENT on the database and the role naming the instance and this emulator process).
The master password is read in-process from moto's model (the RDS service knows it); it is never logged, and
PostgreSQL receives only its SCRAM verifier.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import psycopg
from moto.rds import models as rds_models
from moto.rds.exceptions import InvalidDBInstanceStateFault
from psycopg import sql

from emulator.engines.host import EngineHost

NAME = "rds"
ADDRESS = "127.0.0.1"
_MARK = "smartstream-rds "
_RESERVED_DATABASES = {"postgres", "template0", "template1", "rdsadmin"}
_FAILURE_HINT = "drop it on the server or choose another name"
_TRANSITIONAL = {"creating", "deleting", "rebooting", "resetting-master-credentials"}
# DescribeDBInstances first waits this long for an instance's pending work (the amazon.aws waiters poll
# right after the call, then every 60 s): the outcome shows at once, the call's own answer stays transitional.
SETTLE_S = 3.0


def _boot_time(pid: int) -> str | None:
    """The start time of process ``pid`` (field 22 of /proc/<pid>/stat), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


_PROCESS = {"pid": os.getpid(), "boot": _boot_time(os.getpid())}
# token -> moto DBInstance, for the instances this process serves.
_SERVED: dict[str, Any] = {}
_ENGINE: RdsEngine | None = None
_HOOKED = False


class ProvisioningError(Exception):
    """Why an instance cannot be provisioned: its ``failed`` reason."""


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


def _live(instance: Any) -> bool:
    """Whether ``instance`` still exists in its moto backend (not deleted, not wiped by a reset)."""
    return instance.backend.databases.get(instance.db_instance_identifier) is instance


def _claim_holder(mark: dict[str, Any]) -> str | None:
    """Which live instance holds what ``mark`` marks (its identifier), None when no live instance does."""
    if mark.get("pid") == _PROCESS["pid"] and mark.get("boot") == _PROCESS["boot"]:
        instance = _SERVED.get(mark.get("token", ""))
        return instance.db_instance_identifier if instance is not None and _live(instance) else None
    if mark.get("boot") and _boot_time(int(mark.get("pid", 0))) == mark["boot"]:
        return f"{mark.get('instance')} (served by the emulator process {mark['pid']})"
    return None


def _mark_of(comment: str | None) -> dict[str, Any] | None:
    if not comment or not comment.startswith(_MARK):
        return None
    try:
        return json.loads(comment[len(_MARK) :])
    except ValueError:
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
        with self._lock:
            while self.jobs:
                kind, instance = self.jobs.popleft()
                try:
                    self._run(kind, instance)
                finally:
                    instance._ss_settled.set()

    def _run(self, kind: str, instance: Any) -> None:
        ident = instance.db_instance_identifier
        if not _live(instance):  # deleted before its turn, or wiped by /moto-api/reset: forget it
            _SERVED.pop(getattr(instance, "_ss_token", ""), None)
            return
        try:
            getattr(self, f"_{kind}")(instance)
        except (ProvisioningError, psycopg.Error, OSError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.status.error(f"{kind} {ident}: {reason}")
            self.log.error("%s of instance %s failed: %s", kind, ident, reason)
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
        ident, dbname = instance.db_instance_identifier, instance.db_name or "postgres"
        user, password = instance.master_username, _password(instance)
        if not user or not password:
            raise ProvisioningError("no master user name or password")
        if dbname in _RESERVED_DATABASES:
            raise ProvisioningError(f"database name {dbname} is reserved on the shared server")
        mark = _MARK + json.dumps({"instance": ident, "token": instance._ss_token, **_PROCESS})
        with self.server.admin() as conn:
            role = conn.execute(
                "SELECT rolsuper, shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s", (user,)
            ).fetchone()
            if role and (role[0] or _mark_of(role[1]) is None):
                raise ProvisioningError(f"master user {user} exists on the shared server and was not made by the "
                                        f"RDS engine: {_FAILURE_HINT}")  # fmt: skip
            users = self._role_holders(conn, user, but=instance._ss_token)
            if users and not self.server.login_works(user, password):
                raise ProvisioningError(f"master user {user} is already the master user of instance {users[0]} with "
                                        "another password (one role per user name on the shared server)")  # fmt: skip
            found = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (dbname,)
            ).fetchone()
            if found:
                held = _mark_of(found[0])
                if held is None:
                    raise ProvisioningError(f"database {dbname} exists on the shared server and was not made by "
                                            f"the RDS engine: {_FAILURE_HINT}")  # fmt: skip
                holder = _claim_holder(held)
                if holder and held.get("token") != instance._ss_token:
                    raise ProvisioningError(f"database name {dbname} is in use by instance {holder} "
                                            "(one database per name on the shared server)")  # fmt: skip
                if held.get("token") != instance._ss_token:
                    self.log.warning("database %s of a former instance %s dropped: a new instance starts empty",
                                     dbname, held.get("instance"))  # fmt: skip
                    self._drop_database(conn, dbname)
                    found = None
            self._ensure_role(conn, user, password, self._replication(instance), exists=role is not None)
            if not found:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(user))
                )
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
        marks = [m for m in (_mark_of(c) for (c,) in rows) if m and m.get("token") != but]
        return [h for h in (_claim_holder(m) for m in marks) if h]

    def _ensure_role(self, conn: psycopg.Connection, user: str, password: str, replication: bool, exists: bool) -> None:
        verifier = conn.pgconn.encrypt_password(password.encode(), user.encode(), b"scram-sha-256").decode()
        attrs = "LOGIN CREATEDB CREATEROLE " + ("REPLICATION" if replication else "NOREPLICATION")
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            sql.SQL(f"{verb} ROLE {{}} WITH {attrs} PASSWORD {{}}").format(sql.Identifier(user), sql.Literal(verifier))
        )
        conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(sql.Identifier(user), sql.Literal(_MARK + "{}")))

    def _password(self, instance: Any) -> None:
        if getattr(instance, "_ss_endpoint", None) is None:  # never provisioned: nothing to change
            return
        with self.server.admin() as conn:
            self._ensure_role(conn, instance.master_username, _password(instance), self._replication(instance), True)
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
        if dbname and getattr(instance, "_ss_endpoint", None) is not None:
            with self.server.admin() as conn:
                found = conn.execute(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (dbname,)
                ).fetchone()
                if found and (_mark_of(found[0]) or {}).get("token") == instance._ss_token:
                    self._drop_database(conn, dbname)
                role = conn.execute(
                    "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s", (user,)
                ).fetchone()
                owned = conn.execute(
                    "SELECT count(*) FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = %s",
                    (user,),
                ).fetchone()[0]
                if role and _mark_of(role[0]) is not None and owned == 0:
                    conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(user)))
            self.status.count("dropped")
            self.status.action(f"deleted {instance.db_instance_identifier}: database {dbname} dropped")
            self.log.info("instance %s deleted: database %s dropped", instance.db_instance_identifier, dbname)
        self._forget(instance)

    def _forget(self, instance: Any) -> None:
        if _live(instance):
            instance.backend.databases.pop(instance.db_instance_identifier, None)
        _SERVED.pop(getattr(instance, "_ss_token", ""), None)

    def _drop_database(self, conn: psycopg.Connection, dbname: str) -> None:
        """End its sessions (walsenders too), drop its replication slots, then the database."""
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        )
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = %s", (dbname,)
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def _hook_moto() -> None:
    """Route moto's RDS calls to the current engine (once per process; inactive while no engine runs)."""
    global _HOOKED
    if _HOOKED:
        return
    _HOOKED = True
    backend_cls, instance_cls = rds_models.RDSBackend, rds_models.DBInstance
    create, modify, describe = (
        backend_cls.create_db_instance, backend_cls.modify_db_instance, backend_cls.describe_db_instances
    )  # fmt: skip
    reboot, delete = backend_cls.reboot_db_instance, backend_cls.delete_db_instance
    endpoint = instance_cls.endpoint

    def engine() -> RdsEngine | None:
        return _ENGINE if _ENGINE is not None and _ENGINE.active() else None

    def create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
        instance = create(self, db_kwargs)
        if engine() and instance.engine == "postgres" and instance.db_cluster_identifier is None:
            engine().on_create(instance)
        return instance

    def describe_db_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = describe(self, *args, **kwargs)
        pending = [i for i in found if i.status in _TRANSITIONAL and hasattr(i, "_ss_settled")]
        if not pending or not engine():
            return found
        for instance in pending:
            engine().settle(instance)
        return describe(self, *args, **kwargs)

    def modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
        before = self.describe_db_instances(db_instance_identifier)[0]
        old = _password(before)
        instance = modify(self, db_instance_identifier, db_kwargs)
        if engine() and hasattr(instance, "_ss_token"):
            engine().on_modify(instance, old)
        return instance

    def reboot_db_instance(self: Any, db_instance_identifier: str) -> Any:
        instance = reboot(self, db_instance_identifier)
        if engine() and hasattr(instance, "_ss_token"):
            engine().on_reboot(instance)
        return instance

    def delete_db_instance(self: Any, db_instance_identifier: str, *args: Any, **kwargs: Any) -> Any:
        current = self.databases.get(db_instance_identifier)
        if current is not None and hasattr(current, "_ss_token") and current.status == "deleting":
            raise InvalidDBInstanceStateFault(f"Instance {db_instance_identifier} is already being deleted.")
        instance = delete(self, db_instance_identifier, *args, **kwargs)
        if engine() and hasattr(instance, "_ss_token"):
            engine().on_delete(self, instance)
        return instance

    def endpoint_of(self: Any) -> Any:
        if hasattr(self, "_ss_token"):
            return self._ss_endpoint  # None until provisioned: RDS reports no endpoint while creating
        return endpoint.fget(self)

    backend_cls.create_db_instance, backend_cls.modify_db_instance = create_db_instance, modify_db_instance
    backend_cls.reboot_db_instance, backend_cls.delete_db_instance = reboot_db_instance, delete_db_instance
    backend_cls.describe_db_instances = describe_db_instances
    instance_cls.endpoint = property(endpoint_of)
    instance_cls.address = property(
        lambda self: (self._ss_endpoint or {}).get("Address", "") if hasattr(self, "_ss_token") else
        f"{self.db_instance_identifier}.aaaaaaaaaa.{self.region}.rds.amazonaws.com"
    )  # fmt: skip


def install(host: EngineHost) -> None:
    """Serve the emulator's PostgreSQL instances with the local PostgreSQL (see the module docstring)."""
    global _ENGINE
    _ENGINE = RdsEngine(host, PgServer.from_env())
    _hook_moto()
    host.logger(NAME).info(
        "rds engine: instances served by PostgreSQL at %s:%s (admin socket %s)",
        ADDRESS, _ENGINE.server.port, _ENGINE.server.socket_dir,
    )  # fmt: skip
    host.every(NAME, 0.25, _ENGINE.tick)
