"""Start the local AWS emulator: moto in server mode, its patches, and the engines.

Usage: python -m emulator.server -H 127.0.0.1 -p 5055 -c cert.pem -k key.pem

moto keeps the control-plane state of every AWS service the platform uses;
``emulator.patches`` fills its API gaps, and ``emulator.engines`` move the
data as the AWS services do (see emulator/README.md). Environment:
SMARTSTREAM_RUN_DIR (logs, status, TLS), SMARTSTREAM_ENGINES (a comma list to
run only some engines; ``none`` for none), SMARTSTREAM_IAM_ENFORCED (default
true: requests of assumed roles are evaluated against their policies; the
root key SMARTSTREAM_ROOT_ACCESS_KEY, default "testing", is the account root),
SMARTSTREAM_EMULATOR_SLOW (slow mode: AWS creation/deletion times divided by
it, e.g. 60; unset: at once; see emulator/slow.py).
"""

from __future__ import annotations

import argparse
import os
import sys

from moto import server

from emulator import engines, patches, slow
from emulator.patches import iam


def _port(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-p", "--port", type=int, default=5000)
    known, _ = parser.parse_known_args(argv)
    return known.port


def main(argv: list[str] | None = None) -> None:
    argv = argv if argv is not None else sys.argv[1:]
    # AWS managed policies exist in every account (the DMS service roles
    # attach AmazonDMSVPCManagementRole and AmazonDMSCloudWatchLogsRole);
    # moto loads them only when asked (a moto setting, not a patch).
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    applied = patches.apply_all()
    enforced = os.environ.get("SMARTSTREAM_IAM_ENFORCED", "true").lower() != "false"
    iam.enforce(enforced)
    print(f"smartstream emulator: IAM enforced: {enforced}", flush=True)
    print("smartstream emulator: moto patches applied: " + ", ".join(applied), flush=True)
    slow.configure()
    scale = f"on, AWS times / {slow.factor():g}" if slow.enabled() else "off (resources ready at once)"
    print(f"smartstream emulator: slow mode ({slow.ENV}): {scale}", flush=True)
    selected = os.environ.get("SMARTSTREAM_ENGINES", "")
    only = None if not selected else tuple(e for e in selected.split(",") if e and e != "none")
    host = engines.EngineHost(engines.EngineContext.from_env(_port(argv)))
    installed = engines.install_all(host, only)
    print("smartstream emulator: engines: " + (", ".join(installed) or "none"), flush=True)
    server.main(argv)


if __name__ == "__main__":
    main()
