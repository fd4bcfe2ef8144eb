"""moto API gaps, one module per AWS service; ``apply_all()`` applies every patch once.

Rules for adding one: keep it small, name it after the AWS behaviour it
imitates, say which AWS documentation it follows, put it in the module of its
service, and add a test in ``tests/emulator/`` that fails without it.
"""

from __future__ import annotations

import importlib

from emulator.patches.registry import PATCHES

SERVICES = (
    "server",
    "iam",
    "rds",
    "s3",
    "ec2",
    "athena",
    "glue",
    "dms",
    "awslambda",
    "kinesis",
    "firehose",
    "kms",
    "secretsmanager",
)
_APPLIED: list[str] = []


def apply_all() -> list[str]:
    """Apply every patch once; returns their names."""
    if not _APPLIED:
        for service in SERVICES:
            importlib.import_module(f"emulator.patches.{service}")
        for name, func in PATCHES.items():
            func()
            _APPLIED.append(name)
    return list(_APPLIED)


__all__ = ["PATCHES", "apply_all"]
