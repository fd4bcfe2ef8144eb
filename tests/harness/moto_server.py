"""Start the local AWS emulator: moto in server mode, with the harness patches.

The emulator is a test double for AWS. Where moto lacks an API that the
production code calls, or behaves unlike AWS, a small named patch in
``tests/harness/moto_patches.py`` fills the gap; the production code path is
never changed to suit the emulator.

Usage: python -m tests.harness.moto_server -H 127.0.0.1 -p 5055
"""

from __future__ import annotations

import os
import sys

from moto import server

from tests.harness import moto_patches


def main(argv: list[str] | None = None) -> None:
    # AWS managed policies exist in every account (the DMS service roles
    # attach AmazonDMSVPCManagementRole and AmazonDMSCloudWatchLogsRole);
    # moto loads them only when asked (a moto setting, not a patch).
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    applied = moto_patches.apply_all()
    print("smartstream harness: moto patches applied: " + ", ".join(applied), flush=True)
    server.main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
