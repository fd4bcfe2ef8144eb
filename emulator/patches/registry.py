"""The registry of the emulator's moto patches.

Each patch imitates one documented AWS behaviour that moto 5.2 lacks and that
the production code (or an amazon.aws / community.aws module it calls)
depends on. Patches live one file per AWS service in this package, register
themselves with ``@patch`` and are applied once, in-process, by
``emulator.server`` before the server starts, and by the unit tests that use
moto's decorators (``emulator.patches.apply_all()``).
"""

from __future__ import annotations

from collections.abc import Callable

PATCHES: dict[str, Callable[[], None]] = {}


def patch(func: Callable[[], None]) -> Callable[[], None]:
    """Register ``func`` as the patch named after it."""
    PATCHES[func.__name__] = func
    return func
