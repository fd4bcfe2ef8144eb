"""Test set-up: the function's package, the synthetic data of the ML package and the test helpers, importable."""

from __future__ import annotations

import sys
from pathlib import Path

LAMBDAS = Path(__file__).resolve().parents[2]
for path in (LAMBDAS / "transform", LAMBDAS / "ml", Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
