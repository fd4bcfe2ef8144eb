"""Test set-up: the rotation package importable."""

from __future__ import annotations

import sys
from pathlib import Path

ROTATION = Path(__file__).resolve().parents[1]
if str(ROTATION) not in sys.path:
    sys.path.insert(0, str(ROTATION))
