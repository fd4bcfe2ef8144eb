"""The transform's pure core, without mocks: given raw bytes, when transformed, then..."""

from __future__ import annotations

import gzip
import io
import json
import weakref
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from smartstream_ml import synthetic
from smartstream_transform.core import TransformResult, source_stem, transform_object
from smartstream_transform.framing import Framer
from smartstream_transform.output import TableWriter, spool

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
KEY = "raw/2026/11/24/10/smartstream-local-cdc-1-2026-11-24-10-14-02-0f6b5a3e.gz"


def employee(**overrides):
    row = {
        "id": 1,
        "first_name": "John",
        "last_name": "Doe",
        "email": "john.doe@example.com",
        "department": "Engineering",
        "salary": "95000.00",
        "hire_date": "2022-01-15",
        "created_at": "2024-01-01 10:00:00.123456",
        "updated_at": "2024-01-01 10:00:00.123456",
    }
    return row | overrides


def run(records, message_format="json-unformatted", gzipped=True, key=KEY) -> TransformResult:
    body = synthetic.render(records, message_format)
    if gzipped:
        body = gzip.compress(body)
    result = transform_object(io.BytesIO(body), key)
    assert all(c.balanced for c in result.counts.values()), result.counts
    return result


def rows(result: TransformResult, index: int = 0) -> list[dict]:
    return pq.read_table(io.BytesIO(result.outputs[index].body)).to_pylist()


def quarantined(result: TransformResult) -> list[dict]:
    if result.quarantine is None:
        return []
    return [json.loads(line) for line in result.quarantine.body.decode().splitlines()]


# ------------------------------------------------------------------ framing


@pytest.mark.parametrize("message_format", ["json", "json-unformatted"])
@pytest.mark.parametrize("gzipped", [True, False])
def test_both_record_formats_gzip_or_plain_give_the_same_rows(message_format, gzipped):
    records = [synthetic.dms_record(employee(id=i), "load", START) for i in range(1, 6)]

    result = run(records, message_format, gzipped)

    assert result.totals.read == result.totals.written == 5
    assert [r["id"] for r in rows(result)] == [1, 2, 3, 4, 5]


def test_parser_reads_across_chunk_boundaries():
    records = [synthetic.dms_record(employee(id=i), "load", START) for i in range(200)]
    body = synthetic.render(records, "json")

    stream = io.BytesIO(body)
    values = [v for v, *_ in Framer(lambda: stream.read(61), spool, chunk_chars=97)]

    assert [v["data"]["id"] for v in values] == list(range(200))


def test_empty_object_writes_nothing():
    result = run([], gzipped=True)

    assert result.outputs == [] and result.quarantine is None
    assert result.totals.read == 0


def test_whitespace_only_object_writes_nothing():
    result = transform_object(io.BytesIO(b"\n \n"), KEY)

    assert result.outputs == [] and result.totals.read == 0


# ------------------------------------------------------------------ operations


def test_every_operation_keeps_its_cdc_metadata():
    records = [
        synthetic.dms_record(employee(id=1), "load", START),
        synthetic.dms_record(employee(id=2), "insert", START, transaction_id=77),
        synthetic.dms_record(employee(id=1, salary="99000.00"), "update", START, transaction_id=78),
        synthetic.dms_record({k: (2 if k == "id" else None) for k in employee()}, "delete", START, 79),
    ]

    out = rows(run(records))

    assert [(r["id"], r["_op"], r["_transaction_id"]) for r in out] == [
        (1, "load", None),
        (2, "insert", 77),
        (1, "update", 78),
        (2, "delete", 79),
    ]
    assert out[2]["salary"] == Decimal("99000.00")
    assert out[3]["email"] is None and out[3]["salary"] is None  # delete: key only
    assert {r["_source_key"] for r in out} == {KEY}
    assert [r["_record_seq"] for r in out] == [1, 2, 3, 4]
    assert out[0]["_commit_ts"] == START


def test_control_records_and_dms_tables_are_skipped_not_written():
    exceptions = synthetic.dms_record({"TASK_NAME": "t", "ERROR": "x"}, "insert", START, 1, schema="", table="x")
    apply_exceptions = synthetic.dms_record({"ERROR": "x"}, "insert", START, 2, table="awsdms_apply_exceptions")
    records = [
        synthetic.control_record(START),
        exceptions,
        apply_exceptions,
        synthetic.dms_record(employee(), "load", START),
    ]

    result = run(records)

    assert result.totals.skipped == 3
    assert result.totals.written == 1
    assert [o.key for o in result.outputs] == [f"trusted/public/employees/dt=2026-11-24/{source_stem(KEY)}.parquet"]


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"id": None}, "id: required, missing"),
        ({"id": "abc"}, "id: not an integer"),
        ({"email": "not-an-email"}, "email: not an email address"),
        ({"salary": "-1.00"}, "salary: below 0"),
        ({"salary": "12.345"}, "salary: more than 2 decimal places"),
        ({"salary": "lots"}, "salary: not a number"),
        ({"salary": "123456789.00"}, "salary: more than 8 digits before the point"),
        ({"salary": True}, "salary: not a number"),
        ({"salary": "1_000.00"}, "salary: not a number"),
        ({"salary": "\u0661\u0660\u0660\u0660.\u0660\u0660"}, "salary: not a number"),  # Arabic-Indic digits
        ({"hire_date": "2022-02-30"}, "hire_date: not a valid date"),
        ({"hire_date": "20240115"}, "hire_date: not a date"),
        ({"hire_date": "2024-W03-1"}, "hire_date: not a date"),
        ({"created_at": "yesterday"}, "created_at: not a timestamp"),
        ({"id": 2**63}, "id: integer beyond int64"),
        ({"id": 2.0}, "id: not an integer"),
        ({"first_name": "x" * 51}, "first_name: longer than 50"),
    ],
)
def test_contract_violations_are_quarantined_untouched_with_their_reason(override, reason):
    bad = synthetic.dms_record(employee(id=2) | override, "insert", START, 5)
    records = [synthetic.dms_record(employee(id=1), "load", START), bad]

    result = run(records)

    assert result.totals.written == 1 and result.totals.quarantined == 1
    [entry] = quarantined(result)
    assert entry["reason"].startswith(reason)
    assert json.loads(entry["record"]) == bad  # the original record, untouched
    assert entry["table"] == "public.employees" and entry["position"] == 2


def test_types_are_normalised():
    record = synthetic.dms_record(
        employee(salary="1234.5", email="", created_at="2024-03-10T12:00:00+02:00", first_name="Zoë"),
        "load",
        START,
    )

    [row] = rows(run([record]))

    assert row["salary"] == Decimal("1234.50")
    assert row["email"] == ""  # an empty string stays an empty string
    assert row["created_at"] == datetime(2024, 3, 10, 10, 0, tzinfo=UTC)  # to UTC
    assert row["hire_date"] == date(2022, 1, 15)
    assert row["first_name"] == "Zoë"


@pytest.mark.parametrize(
    ("salary", "expected"), [(95000, "95000.00"), (1234.5, "1234.50"), ("0", "0.00"), ("7.1", "7.10"), ("007", "7")]
)
def test_numeric_salaries_of_any_form_become_decimals(salary, expected):
    [row] = rows(run([synthetic.dms_record(employee(salary=salary), "load", START)]))

    assert row["salary"] == Decimal(expected)


def test_nulls_in_nullable_columns_pass():
    record = synthetic.dms_record(employee(department=None, salary=None, hire_date=None), "insert", START, 3)

    [row] = rows(run([record]))

    assert row["department"] is None and row["salary"] is None and row["hire_date"] is None


def test_unicode_survives_both_ways():
    names = ["Ólafur", "Søren", "José", "李", "Zoë 😀"]
    records = [synthetic.dms_record(employee(id=i, last_name=n), "load", START) for i, n in enumerate(names, 1)]
    broken = b'{"data": {"id": "\xff\xfe"}\n'

    body = gzip.compress(synthetic.render(records, "json") + broken)
    result = transform_object(io.BytesIO(body), KEY)

    assert [r["last_name"] for r in rows(result)] == names
    assert result.totals.quarantined == 1


def test_malformed_records_mid_file_are_quarantined_and_the_rest_written():
    good = [synthetic.dms_record(employee(id=i), "load", START) for i in range(1, 4)]
    body = (
        json.dumps(good[0]) + "\n"
        '{"data": {"id": 9, "first_name": "trunc\n' + json.dumps(good[1]) + "\n"
        "[1, 2, 3]\n"
        '{"no": "metadata"}\n' + json.dumps(good[2]) + "\n"
        '{"data": {}, "metadata": {"record-type": "data", "operation": "merge", "schema-name": "public",'
        ' "table-name": "employees", "timestamp": "2026-11-24T10:00:00Z"}}\n'
    ).encode()

    result = transform_object(io.BytesIO(body), KEY)

    assert [r["id"] for r in rows(result)] == [1, 2, 3]
    reasons = [q["reason"] for q in quarantined(result)]
    assert reasons[0].startswith("not valid JSON")
    assert reasons[1:] == ["not a JSON object", "no DMS metadata", "unknown operation 'merge'"]
    assert quarantined(result)[0]["record"] == '{"data": {"id": 9, "first_name": "trunc'
    assert result.totals.read == 7
    assert all(c.balanced for c in result.counts.values())


def test_malformed_pretty_printed_record_resynchronises_on_the_next_record():
    good = [synthetic.dms_record(employee(id=i), "load", START) for i in (1, 2)]
    body = (
        json.dumps(good[0], indent=4) + '{\n    "data": {\n        "id": 5,\n' + json.dumps(good[1], indent=4)
    ).encode()

    result = transform_object(io.BytesIO(body), KEY)

    assert [r["id"] for r in rows(result)] == [1, 2]
    assert result.totals.quarantined == 1


def test_unknown_column_of_a_known_table_is_kept_as_text():
    records = [
        synthetic.dms_record(employee(id=1), "load", START),
        synthetic.dms_record(employee(id=2) | {"nickname": "JJ", "badges": [1, 2]}, "insert", START, 4),
    ]

    out = rows(run(records))

    assert [r["_extra"] for r in out] == [None, '{"nickname":"JJ","badges":[1,2]}']
    assert out[1]["salary"] == Decimal("95000.00")


def test_unknown_table_passes_as_text_columns():
    records = [
        synthetic.dms_record({"id": 1, "ratio": 0.5, "ok": True, "tags": {"a": 1}}, "load", START, table="things"),
        synthetic.dms_record({"id": 2, "ratio": 2, "ok": False, "tags": None}, "insert", START, 1, table="things"),
    ]

    result = run(records)

    table = pq.read_table(io.BytesIO(result.outputs[0].body))
    assert result.outputs[0].key.startswith("trusted/public/things/dt=2026-11-24/")
    assert [str(table.schema.field(n).type) for n in ("id", "ratio", "ok", "tags")] == ["string"] * 4
    assert table.column("id").to_pylist() == ["1", "2"]
    assert table.column("ratio").to_pylist() == ["0.5", "2"]
    assert table.column("ok").to_pylist() == ["true", "false"]
    assert table.column("tags").to_pylist() == ['{"a":1}', None]


# ------------------------------------------------------------------ output naming


def test_outputs_are_partitioned_by_commit_date():
    records = [
        synthetic.dms_record(employee(id=1), "insert", datetime(2026, 11, 23, 23, 59, tzinfo=UTC), 1),
        synthetic.dms_record(employee(id=2), "insert", datetime(2026, 11, 24, 0, 1, tzinfo=UTC), 2),
    ]

    result = run(records)

    assert [o.key.split("/")[3] for o in result.outputs] == ["dt=2026-11-23", "dt=2026-11-24"]


def test_the_same_object_twice_gives_the_same_outputs_so_nothing_is_duplicated():
    records = list(synthetic.cdc_stream(synthetic.employees(50), START))

    first, second = run(records), run(records)

    assert [o.key for o in first.outputs] == [o.key for o in second.outputs]
    assert [rows(first, i) for i in range(len(first.outputs))] == [rows(second, i) for i in range(len(second.outputs))]


def test_key_with_spaces_and_special_characters_gives_a_safe_deterministic_name():
    key = "raw/2026/11/24/10/late batch été & co+1.json"

    result = run([synthetic.dms_record(employee(), "load", START)], key=key)

    assert result.outputs[0].key == f"trusted/public/employees/dt=2026-11-24/{source_stem(key)}.parquet"
    assert source_stem(key).startswith("late batch été & co+1-")
    assert source_stem(key) != source_stem("raw/2026/11/24/11/late batch été & co+1.json")


def test_a_realistic_stream_balances_and_keeps_every_row():
    people = synthetic.employees(300, seed=3)
    records = list(synthetic.cdc_stream(people, START, seed=3))

    result = run(records, "json")

    data_records = sum(1 for r in records if r["metadata"]["record-type"] == "data")
    assert result.totals.written == data_records
    assert result.totals.skipped == 1
    assert sum(o.rows for o in result.outputs) == data_records
    log = result.log_record()
    assert log["balanced"] and log["totals"]["read"] == len(records)


@pytest.mark.parametrize("schema", [None, pa.schema([("v", pa.string())])])
def test_a_finished_table_writer_releases_its_parquet_writer(schema):
    # an object can hold thousands of tables: a closed ParquetWriter kept alive holds about 30 KiB
    # of native memory each (10,000 tables: +300 MiB, past the function's memory)
    writer = TableWriter("trusted/s/t/dt=2026-11-24/x.parquet", schema)
    writer.add(pa.table({"v": ["a"]}))
    writer._write_held()  # pylint: disable=protected-access
    opened = weakref.ref(writer._writer) if schema is not None else None  # pylint: disable=protected-access

    out = writer.finish(pa.schema([("v", pa.string())]))

    assert writer._writer is None and (opened is None or opened() is None)  # pylint: disable=protected-access
    assert pq.read_table(io.BytesIO(out.body)).to_pylist() == [{"v": "a"}]
