"""The catalog, Athena and the ML loop on the converged platform: the answers in SQL.

Runs after test_pipeline.py (conftest.FILE_ORDER) on the same platform: the
crawlers catalog trusted/ and trusted-analytics/, the analytics views answer
through Athena (StartQueryExecution in the environment's workgroup,
GetQueryResults page by page), and the ML model trained from trusted/ finds
salaries injected in the source.
"""

from __future__ import annotations

import time
from decimal import Decimal

from tests.e2e import workload
from tests.e2e.conftest import converged, run_playbook
from tests.harness import dataflow


def test_current_employees_view_equals_the_source_after_random_changes(platform, source):
    # Given random inserts, updates, deletes and key changes, arrived in trusted/
    seed = 31
    workload.run(source, transactions=40, seed=seed, tag="athena")
    while len(dataflow.source_state(source)) <= 1000:  # run alone (-k / this file only): enough for two pages
        seed += 1
        workload.run(source, transactions=40, seed=seed, tag="athena")
    converged(platform, source)
    # When the crawlers run (they also create the views once their tables exist)
    started = time.monotonic()
    run_playbook("crawlers.yml")
    crawled = time.monotonic() - started
    glue = platform.client("glue")
    tables = {
        t["Name"]: t for t in glue.get_tables(DatabaseName=platform.outputs["catalog"]["database_name"])["TableList"]
    }
    assert tables["employees"]["TableType"] == "EXTERNAL_TABLE"
    assert tables["current_employees"]["TableType"] == "VIRTUAL_VIEW"
    # Then SELECT * FROM the view, read page by page, equals the source table row for row
    started = time.monotonic()
    rows, pages = dataflow.athena_rows(platform, "SELECT * FROM current_employees")
    queried = time.monotonic() - started
    expected = dataflow.source_state(source)
    assert len(rows) == len(expected) > 1000 and pages > 1, (len(rows), len(expected), pages)
    assert len({row["id"] for row in rows}) == len(rows)
    through_athena = {row["id"]: dataflow.normalise(row) for row in rows}
    assert not dataflow.state_difference(dataflow.to_milliseconds(expected), through_athena)
    print(f"crawl {crawled:.1f} s; view: {len(rows)} rows in {pages} pages, {queried:.1f} s")


def test_salaries_injected_in_the_source_appear_in_the_anomalies_view(platform, source):
    # Given three salaries far from any department's, inserted in the source and arrived in trusted/
    injected = {}
    with source.cursor() as cur:
        for n, (department, salary) in enumerate(
            (("Engineering", "9500000.00"), ("Sales", "150.00"), ("HR", "120.00"))
        ):
            cur.execute(
                "INSERT INTO public.employees (first_name, last_name, email, department, salary, hire_date)"
                " VALUES ('Ml', 'Outlier', %s, %s, %s, '2021-06-01') RETURNING id",
                (f"ml.outlier{n}.{time.time_ns()}@example.com", department, Decimal(salary)),
            )
            injected[cur.fetchone()[0]] = Decimal(salary)
    converged(platform, source)
    # When the model is trained from trusted/, the ML function scores trusted/ and the crawlers run
    started = time.monotonic()
    trained = run_playbook("train.yml", "-e", "train_force=true", "-e", "train_score_now=true")
    assert "published" in trained
    run_playbook("crawlers.yml")
    looped = time.monotonic() - started
    # Then the injected employees are in the salary_anomalies view, with their salaries
    rows, _ = dataflow.athena_rows(platform, "SELECT * FROM salary_anomalies")
    found = {row["id"]: Decimal(str(row["salary"])) for row in rows if row["id"] in injected}
    assert found == injected, (injected, rows[:10])
    # And the model flags few of the other current employees (uniform random salaries, 30k-200k)
    others = {row["id"] for row in rows} - injected.keys()
    assert len(others) <= 0.05 * len(dataflow.source_state(source)), len(others)
    print(f"train, score and crawl {looped:.1f} s; {len(rows)} anomalies listed")
