"""Typed configuration of the ML functions, read once from environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class ConfigError(ValueError):
    """An environment variable is missing or malformed."""


def _prefix(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, default)
    if not value or not value.endswith("/") or value.startswith("/"):
        raise ConfigError(f"{name}={value!r}: a key prefix such as 'trusted/' (no leading '/', trailing '/')")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """DATA_BUCKET (required), EMPLOYEES_PREFIX (trusted/public/employees/), ANALYTICS_PREFIX
    (trusted-analytics/salary_anomalies/), MODEL_PREFIX (models/salary-anomaly/),
    ANOMALY_THRESHOLD (3.5, robust deviations), LOG_LEVEL (INFO)."""

    bucket: str
    employees_prefix: str
    analytics_prefix: str
    model_prefix: str
    threshold: float
    log_level: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        bucket = environ.get("DATA_BUCKET", "")
        if not bucket:
            raise ConfigError("DATA_BUCKET is required: the data-lake bucket")
        try:
            threshold = float(environ.get("ANOMALY_THRESHOLD", "3.5"))
        except ValueError:
            raise ConfigError(f"ANOMALY_THRESHOLD={environ['ANOMALY_THRESHOLD']!r}: a number") from None
        if not 1.0 <= threshold <= 20.0:
            raise ConfigError(f"ANOMALY_THRESHOLD={threshold}: between 1 and 20")
        level = environ.get("LOG_LEVEL", "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"LOG_LEVEL={level!r}: one of DEBUG, INFO, WARNING, ERROR")
        return cls(
            bucket=bucket,
            employees_prefix=_prefix(environ, "EMPLOYEES_PREFIX", "trusted/public/employees/"),
            analytics_prefix=_prefix(environ, "ANALYTICS_PREFIX", "trusted-analytics/salary_anomalies/"),
            model_prefix=_prefix(environ, "MODEL_PREFIX", "models/salary-anomaly/"),
            threshold=threshold,
            log_level=level,
        )
