"""The RDS engine's hooks into moto's RDS model, in-process: where RDS does something on a call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.rds import models as rds_models
from moto.rds.exceptions import InvalidDBInstanceStateFault

from emulator.engines.rds.engine import _TRANSITIONAL, RdsEngine, _password

_HOOKED = False


def hook_moto(current: Callable[[], RdsEngine | None]) -> None:
    """Route moto's RDS calls to the ``current()`` engine (hooked once per process; inert while no engine runs)."""
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
        running = current()
        return running if running is not None and running.active() else None

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
