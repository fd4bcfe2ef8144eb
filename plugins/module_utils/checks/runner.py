# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the checks of some layers and aspects; one result per check."""

from __future__ import annotations

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks import (
    analytics,
    catalog,
    database,
    freshness,
    iam,
    ingestion,
    keys,
    monitoring,
    network,
    processing,
    secrets,
    storage,
    streaming,
)
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    ASPECTS,
    Missing,
    Unknown,
    error_code,
    is_aws_error,
    is_not_found,
)

# In the order the platform is built (site.yml); freshness last.
LAYERS = {
    "keys": keys,
    "network": network,
    "secrets": secrets,
    "storage": storage,
    "database": database,
    "streaming": streaming,
    "ingestion": ingestion,
    "processing": processing,
    "catalog": catalog,
    "analytics": analytics,
    "monitoring": monitoring,
    "iam": iam,
    "freshness": freshness,
}


class CheckError(Exception):
    """An AWS request of a check failed (credentials, permissions, throttling, endpoint): not a finding."""

    def __init__(self, layer, name, cause):
        super().__init__(f"{layer} check '{name}': {type(cause).__name__}: {cause}")
        self.layer, self.name, self.cause = layer, name, cause


def checks_of(layers, aspects=ASPECTS):
    """(layer, check function) of the selected layers and aspects, in build order."""
    for layer, module in LAYERS.items():
        if layer in layers:
            for func in module.CHECKS:
                if func.aspect in aspects:
                    yield layer, func


def run_one(layer, func, ctx):
    result = {"layer": layer, "name": func.check_name, "aspect": func.aspect}
    ctx.layer = layer
    extra = {}
    try:
        outcome = func(ctx)
        ok, detail = outcome[0], outcome[1]
        extra = outcome[2] if len(outcome) > 2 else {}
    except (Missing, Unknown) as exc:
        ok, detail = False, f"missing: {exc}" if isinstance(exc, Missing) else str(exc)
    except Exception as exc:  # pylint: disable=broad-except
        if is_not_found(exc):
            ok, detail = False, f"missing: {error_code(exc)}: {exc}"
        elif is_aws_error(exc):
            raise CheckError(layer, func.check_name, exc) from exc
        else:  # an unexpected shape of an answer is a failed check, reported with its cause
            ok, detail = False, f"{type(exc).__name__}: {exc}"
    result.update(ok=bool(ok), detail=detail)
    result.update(extra)
    return result


def run(ctx, layers, aspects=ASPECTS):
    """Every result of the selected checks; raises CheckError when an AWS request fails."""
    return [run_one(layer, func, ctx) for layer, func in checks_of(layers, aspects)]
