"""Run an EventBridge rule now (test-only): ``python -m emulator.engines.scheduler fire <rule> [--region R]``.

Does what the scheduler engine does when the rule's schedule comes due (its
targets get the scheduled event, Lambda targets only if their resource policy
allows the rule, metrics in AWS/Events), against the emulator of the
environment: SMARTSTREAM_RUN_DIR (TLS CA) and SMARTSTREAM_MOTO_PORT, or
``--endpoint``. Prints the counts as JSON; exits 1 when an invocation failed.
"""

from __future__ import annotations

import argparse
import json
import sys

from emulator.engines.host import EngineContext
from emulator.engines.scheduler import SchedulerEngine, fire_rule


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator.engines.scheduler", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fire = commands.add_parser("fire", help="send the rule's scheduled event to its targets now")
    fire.add_argument("rule", help="rule name (default event bus)")
    fire.add_argument("--region", help="region of the rule (default: the first of SMARTSTREAM_REGIONS)")
    fire.add_argument("--endpoint", help="emulator URL (default: https://127.0.0.1:$SMARTSTREAM_MOTO_PORT)")
    args = parser.parse_args(argv)
    ctx = EngineContext.from_env()
    if args.endpoint:
        ctx.endpoint_url = args.endpoint
    engine = SchedulerEngine(ctx)
    counts = fire_rule(ctx, args.rule, args.region, engine)
    for error in engine.errors:
        print(f"error: {error}", file=sys.stderr)
    print(json.dumps({"rule": args.rule, **counts}))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
