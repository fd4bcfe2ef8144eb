"""Test set-up: the rotation package importable."""

from __future__ import annotations

import sys
from pathlib import Path

ROTATION = Path(__file__).resolve().parents[1]
REPOSITORY = Path(__file__).resolve().parents[3]
for path in (ROTATION, REPOSITORY):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# moto stands in for Secrets Manager here; the emulator's patches make it move AWSCURRENT with
# UpdateSecretVersionStage as AWS does (finishSecret relies on it). Applied here so these tests do not
# depend on another test module having applied them first.
from emulator import patches  # noqa: E402

patches.apply_all()
