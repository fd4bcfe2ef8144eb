"""Print what each engine of the emulator did last: ``python -m emulator.status [RUN_DIR]`` (``make status``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def lines(run_dir: Path) -> list[str]:
    out = []
    for path in sorted((run_dir / "engines").glob("*.json")):
        try:
            status = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        counters = ", ".join(f"{k}={v}" for k, v in sorted(status.get("counters", {}).items())) or "nothing moved yet"
        out.append(f"engine {status['name']:<15} last pass {status.get('last_pass_at') or 'never'}; {counters}")
        if status.get("last_action"):
            out.append(f"  last action {status['last_action_at']}: {status['last_action']}")
        if status.get("last_error"):
            out.append(f"  last error  {status['last_error_at']} ({status['errors']} in all): {status['last_error']}")
    return out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    run_dir = Path(argv[0] if argv else os.environ.get("SMARTSTREAM_RUN_DIR", "/tmp/smartstream-local"))
    for line in lines(run_dir) or ["no engine has reported yet"]:
        print(line)


if __name__ == "__main__":
    main()
