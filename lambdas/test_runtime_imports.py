"""The Lambda packages import only what their runtime provides.

The Python runtime ships the standard library and boto3; pyarrow and numpy
come from the managed AWS SDK for pandas layer. Anything else would fail on
the first invocation in AWS, so it fails here first.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

LAMBDAS = Path(__file__).resolve().parent
ALLOWED_THIRD_PARTY = {"boto3", "botocore", "pyarrow", "numpy"}
PACKAGES = {"transform": "smartstream_transform", "ml": "smartstream_ml", "rotation": "smartstream_rotation"}
# What a function's zip carries besides its own package (vendored at package time by its role).
VENDORED = {"rotation": {"pg8000"}}


@pytest.mark.parametrize(("function", "package"), sorted(PACKAGES.items()))
def test_package_imports_only_the_runtime_and_the_managed_pandas_layer(function, package):
    found = set()
    for path in (LAMBDAS / function / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    outside = found - set(sys.stdlib_module_names) - ALLOWED_THIRD_PARTY - {"__future__", package}
    outside -= VENDORED.get(function, set())
    assert not outside, f"{package} imports {sorted(outside)}, which the Lambda runtime does not provide"
    assert found & {"boto3", "pyarrow"}  # the scan saw the real imports
