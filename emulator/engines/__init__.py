"""Engines: what each AWS service does with data, which moto does not (see emulator/README.md).

Each module here has ``install(host: EngineHost) -> None``; ``install_all``
installs them in this order when the emulator starts.
"""

from __future__ import annotations

import importlib
import importlib.util

from emulator.engines.host import EngineContext, EngineHost

ENGINES = ("rds", "dms", "firehose", "lambda_runtime", "scheduler", "glue_crawler", "athena")


def install_all(host: EngineHost, only: tuple[str, ...] | None = None) -> list[str]:
    """Install every engine (or those named in ``only``); returns their names."""
    installed = []
    for name in only or ENGINES:
        module_name = f"emulator.engines.{name}"
        if importlib.util.find_spec(module_name) is None:  # engines still being written land one by one
            continue
        importlib.import_module(module_name).install(host)
        installed.append(name)
    return installed


__all__ = ["ENGINES", "EngineContext", "EngineHost", "install_all"]
