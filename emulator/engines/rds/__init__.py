"""RDS engine: each PostgreSQL DB instance of the emulator is served by the local PostgreSQL 15.

What AWS does, imitated here:
- CreateDBInstance (engine ``postgres``) answers ``creating``; the instance is provisioned asynchronously:
  its database (DBName) owned by its master user (MasterUsername, with the master password AWS was given,
  LOGIN CREATEDB CREATEROLE, and REPLICATION as RDS's ``rds_replication`` grants it), then ``available``
  with ``Endpoint`` = 127.0.0.1:<PostgreSQL port> (TLS, verifiable against the emulator's certificate,
  SAN IP:127.0.0.1). As on AWS, no ``Endpoint`` is reported before that. A provisioning failure puts the
  instance in ``failed``, with the reason in an RDS event (DescribeEvents, category ``failure``), the engine
  log and ``make status``.
- RDS's roles: ``rds_superuser`` and ``rds_replication`` exist (NOLOGIN) and the master user holds both WITH
  ADMIN OPTION, so ``GRANT rds_replication TO <user>`` works as on RDS; the members of ``rds_replication``
  are given REPLICATION within SYNC_S (PostgreSQL does not pass the attribute through membership; RDS's
  server does), so a dedicated DMS user replicates without being the master user.
- Password changes by a rotation function (Secrets Manager's setSecret step, run by the emulator): PostgreSQL
  lets only a superuser alter a role with REPLICATION (the master user's, the members of rds_replication),
  where RDS lets rds_superuser (and the user itself) do it; for the step the master user of the secret (its
  own user, or the one of the secret ``masterarn`` names) is SUPERUSER, then not again (the known gap: in that
  moment it could do what rds_superuser cannot). The replicating roles are untouched, so DMS goes on.
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

import contextlib
from collections.abc import Iterator

from emulator.engines.host import EngineHost
from emulator.engines.rds import hooks
from emulator.engines.rds.engine import NAME, SETTLE_S, RdsEngine
from emulator.engines.rds.postgres import ADDRESS, PgServer

__all__ = ["ADDRESS", "NAME", "SETTLE_S", "PgServer", "RdsEngine", "install", "password_change"]

_ENGINE: RdsEngine | None = None


def install(host: EngineHost) -> None:
    """Serve the emulator's PostgreSQL instances with the local PostgreSQL (see the module docstring)."""
    global _ENGINE
    _ENGINE = RdsEngine(host, PgServer.from_env())
    hooks.hook_moto(lambda: _ENGINE)
    host.logger(NAME).info(
        "rds engine: instances served by PostgreSQL at %s:%s (admin socket %s)",
        ADDRESS, _ENGINE.server.port, _ENGINE.server.socket_dir,
    )  # fmt: skip
    host.every(NAME, 0.25, _ENGINE.tick)


@contextlib.contextmanager
def password_change(masters: list[str]) -> Iterator[None]:
    """While a rotation function's setSecret runs: the master users ``masters`` may change passwords as
    rds_superuser may on RDS (see RdsEngine.password_change); nothing to do when the engine is not installed."""
    if _ENGINE is None or not _ENGINE.active():
        yield
        return
    with _ENGINE.password_change(masters):
        yield
