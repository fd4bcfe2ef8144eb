"""Typed configuration of the transform Lambda, read once from environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .core import TransformConfig


class ConfigError(ValueError):
    """An environment variable is missing or malformed."""


def _prefix(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, default)
    if not value or not value.endswith("/") or value.startswith("/"):
        raise ConfigError(f"{name}={value!r}: a key prefix such as 'raw/' (no leading '/', trailing '/')")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """RAW_PREFIX, TRUSTED_PREFIX, QUARANTINE_PREFIX (defaults raw/, trusted/, quarantine/),
    OUTPUT_BUCKET (default: the bucket of the event), LOG_LEVEL (INFO)."""

    transform: TransformConfig
    output_bucket: str | None
    log_level: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        level = environ.get("LOG_LEVEL", "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"LOG_LEVEL={level!r}: one of DEBUG, INFO, WARNING, ERROR")
        return cls(
            transform=TransformConfig(
                raw_prefix=_prefix(environ, "RAW_PREFIX", "raw/"),
                trusted_prefix=_prefix(environ, "TRUSTED_PREFIX", "trusted/"),
                quarantine_prefix=_prefix(environ, "QUARANTINE_PREFIX", "quarantine/"),
            ),
            output_bucket=environ.get("OUTPUT_BUCKET") or None,
            log_level=level,
        )
