"""The data arriving, stage by stage: ``python -m tests.harness.demo`` (the end of ``make demo``).

After ``site.yml`` and ``seed.yml``: shows rows in the source, records in the
stream, objects in raw/ and the state derived from trusted/ until trusted/
matches the source; then makes the seed README's insert / update / delete
(step 6, "Test CDC") and shows each arrive in trusted/, with the seconds it took.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.harness import dataflow

CDC_CHANGES = Path(dataflow.ROOT / "roles" / "database" / "files" / "cdc_changes.sql")
ANOMALIES = """
INSERT INTO public.employees (first_name, last_name, email, department, salary, hire_date) VALUES
  ('Ada', 'Outlier', 'ada.outlier@example.com', 'HR', 990000.00, '2024-03-01'),
  ('Ben', 'Outlier', 'ben.outlier@example.com', 'Engineering', 1200.00, '2019-07-15'),
  ('Cy', 'Outlier', 'cy.outlier@example.com', 'Sales', 870000.00, '2022-11-30')
ON CONFLICT (email) DO NOTHING
"""


def stage_line(platform: dataflow.Platform, conn, started: float) -> tuple[str, bool]:
    source = dataflow.source_state(conn)
    trusted = dataflow.trusted_state(platform)
    line = (
        f"  t={time.monotonic() - started:5.1f}s  source {len(source):>6} rows | "
        f"stream {dataflow.stream_records(platform):>6} records | "
        f"raw/ {len(dataflow.objects(platform, 'raw/')):>4} objects | "
        f"trusted/ {len(dataflow.objects(platform, dataflow.TRUSTED_TABLE)):>4} files, {len(trusted):>6} current rows"
    )
    return line, not dataflow.state_difference(source, trusted)


def follow(platform: dataflow.Platform, conn, timeout: float = 240) -> float:
    """Print the stages every few seconds until trusted/ equals the source; returns the seconds taken."""
    started = time.monotonic()
    while True:
        line, equal = stage_line(platform, conn, started)
        print(line, flush=True)
        if equal:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise SystemExit(f"trusted/ did not match the source within {timeout:.0f} s: see `make status`")
        time.sleep(3)


def employee(platform: dataflow.Platform, email: str) -> tuple | None:
    for row in dataflow.trusted_state(platform).values():
        if row[3] == email:
            return row
    return None


def main() -> None:
    platform = dataflow.Platform.load()
    print(
        f"Data path of {platform.outputs['target']}: PostgreSQL {platform.db_host}:{platform.db_port}"
        f" -> DMS -> Kinesis {platform.stream} -> Firehose {platform.firehose}"
        f" -> s3://{platform.bucket}/raw/ -> Lambda {platform.transform_function} -> trusted/"
    )
    with platform.connect() as conn:
        print("1. The seeded rows travel to trusted/:")
        took = follow(platform, conn)
        print(f"   trusted/ matches the source table row for row after {took:.1f} s\n")

        print("2. The seed README's step 6: an insert, an update and a delete in the source:")
        with conn.cursor() as cur:
            cur.execute(CDC_CHANGES.read_text())
        started = time.monotonic()
        checks = {
            "insert alice.williams@example.com": lambda: employee(platform, "alice.williams@example.com"),
            "update john.doe@example.com salary 98000.00": lambda: (
                (row := employee(platform, "john.doe@example.com")) is not None and row[5] == "98000.00"
            ),
            "delete bob.johnson@example.com": lambda: employee(platform, "bob.johnson@example.com") is None,
        }
        pending = dict(checks)
        while pending:
            for name, check in list(pending.items()):
                if check():
                    print(f"   {name}: in trusted/ after {time.monotonic() - started:.1f} s", flush=True)
                    del pending[name]
            if time.monotonic() - started > 180:
                sys.exit(f"not arrived within 180 s: {', '.join(pending)}; see `make status`")
            time.sleep(1)
        took = follow(platform, conn)
        print(f"   trusted/ matches the source again ({took:.1f} s)\n")

        print("3. Three salaries far from their department's, for the ML model to find:")
        with conn.cursor() as cur:
            cur.execute(ANOMALIES)
        took = follow(platform, conn)
        print(f"   in trusted/ after {took:.1f} s")


if __name__ == "__main__":
    main()
