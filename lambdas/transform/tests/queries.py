"""The saved Athena queries (Trino SQL, Jinja names) run by DuckDB over trusted Parquet files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import sqlglot

QUERIES = Path(__file__).resolve().parents[3] / "roles" / "analytics" / "templates" / "queries"
EMPLOYEE_QUERIES = ("current-employees", "changes-per-day", "salary-by-department")


def render(name: str) -> str:
    sql = (QUERIES / f"{name}.sql").read_text()
    for placeholder, value in (
        ("{{ analytics_database_name }}", "lake"),
        ("{{ analytics_employees_table }}", "employees"),
        ("{{ analytics_anomalies_table }}", "anomalies"),
    ):
        sql = sql.replace(placeholder, value)
    return sqlglot.transpile(sql, read="trino", write="duckdb")[0]


def answers(files: dict[str, bytes], root: Path, names=EMPLOYEE_QUERIES) -> dict[str, list[tuple]]:
    """Each query's rows over the trusted employees files (key -> Parquet bytes), as Glue would see them."""
    for key, body in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    con = duckdb.connect()
    con.execute("CREATE SCHEMA lake")
    pattern = str(root / "trusted" / "public" / "employees" / "*" / "*.parquet")
    con.execute(f"CREATE VIEW lake.employees AS SELECT * FROM read_parquet('{pattern}', hive_partitioning = true)")
    try:
        return {name: con.execute(render(name)).fetchall() for name in names}
    finally:
        con.close()
