"""Slow mode: AWS-realistic creation and deletion times, scaled down (opt-in).

``SMARTSTREAM_EMULATOR_SLOW=60`` makes the emulator's slow resources take the
time AWS takes, divided by 60 (an RDS instance: ~15 min on AWS, 15 s here);
unset, empty or 0: every resource is ready at once (the default). The point is
to make the playbooks' waiting visible locally: a module that does not wait
for ``available`` fails or races here as it would on AWS.

Read at each call, so a test may switch it with the environment variable
(``configure()`` then sets moto's state manager to match). The times below
are typical AWS figures (documentation and experience), not guarantees;
the patches that use them are in ``emulator/patches/<service>.py`` (names
ending in ``_slow``), listed in emulator/README.md.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any

ENV = "SMARTSTREAM_EMULATOR_SLOW"

# Seconds on AWS: what each slow transition takes there.
AWS_SECONDS: dict[str, float] = {
    "rds.creating": 780.0,  # CreateDBInstance: creating ...
    "rds.backing-up": 120.0,  # ... then the first automated backup: ~15 min in all
    "rds.deleting": 300.0,  # DeleteDBInstance (skip final snapshot): ~5 min
    "dms.creating": 480.0,  # CreateReplicationInstance: ~8 min
    "dms.deleting": 300.0,  # DeleteReplicationInstance: ~5 min
    "nat.pending": 180.0,  # CreateNatGateway: ~3 min pending
    "nat.deleting": 120.0,  # DeleteNatGateway: ~2 min deleting, then deleted
    "firehose.creating": 60.0,  # CreateDeliveryStream: ~1 min CREATING
    "firehose.deleting": 60.0,  # DeleteDeliveryStream: ~1 min DELETING
    "kinesis.creating": 30.0,  # CreateStream: ~30 s CREATING
    "lambda_eni.in-use": 600.0,  # a deleted function's VPC ENIs stay in-use ...
    "lambda_eni.available": 600.0,  # ... then available, then go: ~20 min (AWS: 20-45 min)
}


def factor() -> float:
    """The scale of slow mode (60: AWS times / 60); 0 when slow mode is off."""
    raw = os.environ.get(ENV, "").strip()
    try:
        value = float(raw) if raw else 0.0
    except ValueError:
        return 0.0
    return value if value > 0 else 0.0


def enabled() -> bool:
    return factor() > 0


def seconds(kind: str) -> float:
    """The emulator's time for a transition of AWS_SECONDS (0 when slow mode is off)."""
    scale = factor()
    return AWS_SECONDS[kind] / scale if scale else 0.0


def configure() -> None:
    """Set moto's state manager for the models moto moves through their states itself (DMS instances).

    Slow mode off: nothing is set (tests may set their own transitions);
    ``reset()`` undoes what slow mode set.
    """
    from moto.moto_api import state_manager

    if enabled():
        state_manager.set_transition(
            "dms::replicationinstance", {"progression": "time", "seconds": seconds("dms.creating")}
        )


def reset() -> None:
    from moto.moto_api import state_manager

    state_manager.unset_transition("dms::replicationinstance")


# Per model object (weakly held: a reset or a deletion lets them go); never in the object's own
# attributes, which some moto models serialise wholesale (Firehose's vars()).
_PHASES: weakref.WeakKeyDictionary[Any, Phases] = weakref.WeakKeyDictionary()
_GONE_AT: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


class Phases:
    """The statuses a resource shows for a while (from now), while its real status is ``final``."""

    def __init__(self, final: str, phases: list[tuple[str, float]]):
        self.final, self.phases, self.start = final, phases, time.monotonic()

    def shown(self, actual: Any) -> Any:
        if actual != self.final:
            return actual
        elapsed = time.monotonic() - self.start
        for status, duration in self.phases:
            if elapsed < duration:
                return status
            elapsed -= duration
        return actual


def status_property(cls: type, attr: str) -> None:
    """Make ``cls.<attr>`` (a plain attribute) show the Phases in ``obj._ss_phases`` while they last."""
    store = f"_ss_{attr}"

    def getter(self: Any) -> Any:
        actual = self.__dict__.get(store)
        phases = _PHASES.get(self)
        return phases.shown(actual) if phases is not None else actual

    def setter(self: Any, value: Any) -> None:
        self.__dict__[store] = value

    setattr(cls, attr, property(getter, setter))


def show(obj: Any, final: str, phases: list[tuple[str, float]]) -> None:
    """``obj`` shows ``phases`` (statuses and their seconds) while its real status is ``final``."""
    if any(duration > 0 for _, duration in phases):
        _PHASES[obj] = Phases(final, phases)


def shown(obj: Any, actual: Any) -> Any:
    """What ``obj`` shows when its real status is ``actual`` (for models that keep a plain attribute)."""
    phases = _PHASES.get(obj)
    return phases.shown(actual) if phases is not None else actual


def forget(obj: Any) -> None:
    """``obj`` shows its real status from now on."""
    _PHASES.pop(obj, None)


class Lingering:
    """Resources deleted in slow mode that AWS still shows (``deleting``) for a while, per backend."""

    def __init__(self) -> None:
        self._items: dict[tuple[int, str], tuple[Any, Any, float]] = {}
        self._lock = threading.Lock()

    def add(self, backend: Any, key: str, obj: Any, duration: float) -> None:
        if duration > 0:
            with self._lock:
                self._items[(id(backend), key)] = (backend, obj, time.monotonic() + duration)

    def _prune(self) -> None:
        now = time.monotonic()
        for item_key, (_, _, until) in list(self._items.items()):
            if until <= now:
                self._items.pop(item_key, None)

    def get(self, backend: Any, key: str) -> Any:
        with self._lock:
            self._prune()
            found = self._items.get((id(backend), key))
            return found[1] if found is not None and found[0] is backend else None

    def of(self, backend: Any) -> dict[str, Any]:
        with self._lock:
            self._prune()
            return {key: obj for (_, key), (owner, obj, _) in self._items.items() if owner is backend}

    def discard(self, backend: Any, key: str) -> None:
        with self._lock:
            self._items.pop((id(backend), key), None)


def linger(obj: Any, duration: float) -> None:
    """A deleted ``obj`` stays in its backend's mapping for ``duration`` s (``prune`` removes it then)."""
    _GONE_AT[obj] = time.monotonic() + duration


def lingering(obj: Any) -> bool:
    return obj in _GONE_AT


def prune(mapping: dict[Any, Any]) -> None:
    """Remove from ``mapping`` the lingering objects whose time is up."""
    now = time.monotonic()
    for key, obj in list(mapping.items()):
        if _GONE_AT.get(obj, now + 1) <= now:
            mapping.pop(key, None)
