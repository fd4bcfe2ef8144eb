"""avg and approx_percentile of decimals answer with Trino's types (emulator/engines/athena/trino_types.py)."""

from __future__ import annotations

import decimal
import io

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot

from emulator.engines.athena.trino_types import trino_result_types
from tests.emulator.test_engine_athena import lake, rows, run  # noqa: F401 - lake is the module's fixture

D = decimal.Decimal


def duck(sql: str) -> tuple[list[str], list[tuple]]:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES ('a', 1.00::DECIMAL(10,2), 1::BIGINT), ('a', 2.01::DECIMAL(10,2), 2),"
        " ('b', -1.01::DECIMAL(10,2), 3), ('b', -1.02::DECIMAL(10,2), 4), ('c', NULL, NULL)) v(d, s, i)"
    )
    tree = trino_result_types(sqlglot.parse_one(sql, read="athena"), lambda q: [str(t) for t in con.sql(q).types])
    relation = con.sql(tree.sql(dialect="duckdb"))
    return [str(t) for t in relation.types], relation.fetchall()


def test_avg_of_a_decimal_is_that_decimal_rounded_half_up_from_the_exact_quotient():
    # 1.505 -> 1.51 and -1.015 -> -1.02 (half up, away from zero); DuckDB alone gives DOUBLE 1.505 / -1.015
    types, got = duck("SELECT d, avg(s), avg(DISTINCT s), avg(i) FROM t GROUP BY d ORDER BY d")
    assert types == ["VARCHAR", "DECIMAL(10,2)", "DECIMAL(10,2)", "DOUBLE"]
    assert got == [("a", D("1.51"), D("1.51"), 1.5), ("b", D("-1.02"), D("-1.02"), 3.5), ("c", None, None, None)]


def test_avg_of_a_decimal_as_a_window_and_over_a_cte_and_no_rows():
    types, got = duck("SELECT d, avg(s) OVER (PARTITION BY d) FROM t WHERE d = 'a'")
    assert types == ["VARCHAR", "DECIMAL(10,2)"] and got == [("a", D("1.51"))] * 2
    types, got = duck("WITH x AS (SELECT * FROM t) SELECT avg(s) FROM (SELECT s FROM x WHERE d = 'b')")
    assert types == ["DECIMAL(10,2)"] and got == [(D("-1.02"),)]
    assert duck("SELECT avg(s) FROM t WHERE false") == (["DECIMAL(10,2)"], [(None,)])


def test_approx_percentile_of_a_decimal_is_a_real():
    types, got = duck("SELECT approx_percentile(s, 0.5), approx_percentile(i, 0.5) FROM t WHERE d = 'a'")
    assert types == ["FLOAT", "BIGINT"] and isinstance(got[0][0], float) and got[0][1] in (1, 2)


def test_the_salary_view_over_decimal_salaries_answers_as_athena_does(lake):  # noqa: F811
    # Given trusted Parquet whose salary is decimal(10,2), as the transform writes it under a contract
    table = pa.table(
        {
            "department": ["eng", "eng", "eng", "ops"],
            "salary": pa.array([D("88475.00"), D("88475.00"), D("88475.02"), D("100.00")], pa.decimal128(10, 2)),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    lake["s3"].put_object(Bucket="lake", Key="typed/pay/p.parquet", Body=sink.getvalue())
    ddl = (
        "CREATE EXTERNAL TABLE pay (department string, salary decimal(10,2)) STORED AS PARQUET "
        "LOCATION 's3://lake/typed/pay/'"
    )
    created = run(lake, ddl)
    assert created["Status"]["State"] == "SUCCEEDED", created["Status"]

    # When Athena averages and takes the median
    execution = run(
        lake,
        "SELECT department, round(avg(salary), 2) AS average_salary, approx_percentile(salary, 0.5) AS median "
        "FROM pay GROUP BY department ORDER BY department",
    )

    # Then the average is a decimal(10,2) rounded from the exact 88475.00666.. (88475.01), the median a real
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    assert rows(lake, execution)[1:] == [["eng", "88475.01", "88475.0"], ["ops", "100.00", "100.0"]]
    info = lake["athena"].get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    columns = {c["Name"]: c for c in info["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]}
    assert (columns["average_salary"]["Type"], columns["average_salary"]["Scale"]) == ("decimal", 2)
    assert columns["median"]["Type"] == "real"
    dropped = run(lake, "DROP TABLE pay")
    assert dropped["Status"]["State"] == "SUCCEEDED", dropped["Status"]
    assert run(lake, "SELECT count(*) FROM pay")["Status"]["StateChangeReason"].startswith("TABLE_NOT_FOUND")
    assert lake["s3"].head_object(Bucket="lake", Key="typed/pay/p.parquet")  # DROP TABLE keeps the data
