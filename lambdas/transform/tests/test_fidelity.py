"""The cases of issue 10 ("Transform fidelity"), one test each: given an object, when transformed, then..."""

from __future__ import annotations

import base64
import gzip
import io
import json
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from queries import answers, render
from smartstream_ml import synthetic
from smartstream_transform.core import transform_object
from smartstream_transform.framing import INLINE_LIMIT

START = datetime(2026, 11, 24, 10, tzinfo=UTC)
KEY = "raw/2026/11/24/10/smartstream-cdc-1-2026-11-24-10-00-00-aaaa.gz"


def person(i: int, **overrides):
    return synthetic.employees(1, seed=i, start_id=i)[0].row() | overrides


def cdc(row, op, lsn, trid=1, xid=900, when=START, before=None):
    record = synthetic.dms_record(row, op, when, xid)
    hi, lo = lsn >> 32, lsn & 0xFFFFFFFF
    record["metadata"] |= {"stream-position": f"{hi:08X}/{lo:08X}.2.{hi:08X}/{lo:08X}", "transaction-record-id": trid}
    if before is not None:
        record["before-image"] = before
    return record


def transform(body: bytes, key: str = KEY):
    result = transform_object(io.BytesIO(body), key)
    assert result.log_record()["balanced"], result.counts
    return result


def rows(result):
    return [r for o in result.outputs for r in pq.read_table(io.BytesIO(o.body)).to_pylist()]


def entries(result):
    return [json.loads(line) for line in result.quarantine.body.splitlines()] if result.quarantine else []


# ------------------------------------------------------------------ 1. framing


@pytest.mark.parametrize("gap", [b"", b"\n", b"\r\n"])
def test_given_a_broken_pretty_record_then_every_following_record_is_still_written(gap):
    good = [synthetic.dms_record(person(i), "load", START) for i in range(1, 16)]
    pretty = [json.dumps(r, indent=4).encode() for r in good]
    broken = b'{\n    "data": {\n        "id": 99,\n        "first_name": "Tru'

    result = transform(gap.join([pretty[0], broken, *pretty[1:]]))

    assert sorted(r["id"] for r in rows(result)) == list(range(1, 16))
    [entry] = entries(result)
    assert entry["record"] == broken.decode() and entry["reason"].startswith("not valid JSON")
    assert result.totals.read == 16 and result.totals.quarantined == 1


@pytest.mark.parametrize("inside", ["x}{}", 'x}{}y}{\\"data\\":1}', 'x} {"a": 1}', 'x}{"b": [1]}'])
def test_given_a_broken_record_holding_braces_in_a_string_then_it_stays_one_fragment(inside):
    good = [synthetic.dms_record(person(i), "load", START) for i in (1, 2)]
    broken = ('{\n    "data": {\n        "id": 99,\n        "first_name": "' + inside + '", "cut').encode()

    result = transform(json.dumps(good[0], indent=4).encode() + broken + json.dumps(good[1], indent=4).encode())

    assert sorted(r["id"] for r in rows(result)) == [1, 2]
    [entry] = entries(result)  # not one entry per '{...}' found inside the bad record's strings
    assert entry["record"] == broken.decode()
    assert result.totals.read == 3 and result.totals.quarantined == 1


def test_given_crlf_lines_and_garbage_between_records_then_each_garbage_is_its_own_fragment():
    good = [json.dumps(synthetic.dms_record(person(i), "load", START)).encode() for i in (1, 2, 3)]
    body = good[0] + b"\r\n@@@\r\n" + good[1] + b"}{" + good[2] + b"\r\n"

    result = transform(body)

    assert sorted(r["id"] for r in rows(result)) == [1, 2, 3]
    assert [e["record"] for e in entries(result)] == ["@@@", "}{"]
    first = entries(result)[0]
    assert body[first["range"][0] : first["range"][1]] == b"@@@"


def test_given_a_huge_bad_fragment_then_it_is_kept_in_the_blob_and_referenced():
    good = json.dumps(synthetic.dms_record(person(1), "load", START)).encode()
    junk = b"x" * (3 * INLINE_LIMIT)

    result = transform(junk + b"\n" + good + b"\n")

    [entry] = entries(result)
    assert "record" not in entry and entry["record_bytes"] == len(junk) and entry["range"] == [0, len(junk)]
    blob = result.quarantine_blob.body
    assert blob[entry["record_offset"] : entry["record_offset"] + entry["record_bytes"]] == junk
    assert [r["id"] for r in rows(result)] == [1]


# ------------------------------------------------------------------ 2. record-level isolation


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda r: r["data"].update(id=2**64), "id: integer beyond int64"),
        (lambda r: r["data"].update(first_name="\ud800"), "first_name: lone surrogate"),
        (lambda r: r["metadata"].update(operation=["insert"]), "unknown operation"),
        (lambda r: r["metadata"].update({"table-name": {"t": 1}}), "schema-name/table-name not strings"),
        (lambda r: r["data"].update(_record_seq=5), "column '_record_seq' collides with a CDC column"),
        (lambda r: r["metadata"].update({"transaction-id": "99"}), "metadata transaction-id: not an integer"),
        (lambda r: r.update({"before-image": [1]}), "before-image not an object"),
        # years 0001-9999 only, also once a zone is applied (Python and Parquet readers' range)
        (lambda r: r["metadata"].update({"commit-timestamp": "9999-12-31T23:00:00-05:00"}), "metadata timestamp"),
        (lambda r: r["metadata"].update({"commit-timestamp": "0001-01-01T00:30:00+01:00"}), "metadata timestamp"),
        (lambda r: r["data"].update(created_at="9999-12-31T23:00:00-05:00"), "created_at: timestamp out of range"),
        (lambda r: r["data"].update(created_at="0000-01-01T00:00:00Z"), "created_at: not a timestamp"),
        (lambda r: r["data"].update(hire_date="0000-01-01"), "hire_date: not a date"),
    ],
)
def test_given_one_odd_record_then_only_it_is_quarantined_with_its_reason(spoil, reason):
    records = [cdc(person(i), "update", 0x100 + i, before={}) for i in range(1, 6)]
    spoil(records[2])

    result = transform("".join(json.dumps(r) + "\n" for r in records).encode())  # ASCII: escapes kept

    assert sorted(r["id"] for r in rows(result)) == [1, 2, 4, 5]
    [entry] = entries(result)
    assert entry["reason"].startswith(reason), entry["reason"]


def test_given_a_truncated_gzip_then_what_inflated_is_written_and_the_tail_quarantined():
    records = [synthetic.dms_record(person(i), "load", START) for i in range(1, 400)]
    body = gzip.compress(synthetic.render(records, "json-unformatted"))

    result = transform(body[: len(body) // 2])

    assert 0 < result.totals.written < 399
    reasons = [e["reason"] for e in entries(result)]
    assert any(r.startswith("GZIP stream truncated") for r in reasons)
    assert result.totals.read == result.totals.written + result.totals.quarantined


def test_given_invalid_utf8_then_the_record_is_quarantined_with_its_original_bytes():
    good = json.dumps(synthetic.dms_record(person(1), "load", START)).encode()
    bad = json.dumps(synthetic.dms_record(person(2, last_name="XX"), "load", START)).encode().replace(b"XX", b"\xc3(")

    result = transform(good + b"\n" + bad + b"\n")

    assert [r["id"] for r in rows(result)] == [1]
    [entry] = entries(result)
    assert entry["reason"].startswith("invalid UTF-8") and base64.b64decode(entry["record_base64"]) == bad


# ------------------------------------------------------------------ 3. exact ordering


def test_given_equal_commit_times_in_two_objects_then_the_log_position_decides_not_the_object_name():
    delete = cdc({k: (1 if k == "id" else None) for k in person(1)}, "delete", 0x200)
    update = cdc(person(1, salary="1.00"), "update", 0x100, before={})  # earlier in the log, same commit time
    first = transform(synthetic.render([delete], "json"), "raw/2026/11/24/10/a-zzzz.gz")
    second = transform(synthetic.render([update], "json"), "raw/2026/11/24/10/b-aaaa.gz")
    lake = {o.key: o.body for r in (first, second) for o in r.outputs}

    assert answers(lake, _tmp())["current-employees"] == []  # the deleted row stays deleted


def test_given_a_transaction_spanning_two_objects_then_its_last_record_wins():
    a = cdc(person(1, salary="10.00"), "update", 0x300, trid=1, before={})
    b = cdc(person(1, salary="20.00"), "update", 0x300, trid=2, before={})
    lake = {}
    for name, record in (("y", b), ("x", a)):
        lake |= {o.key: o.body for o in transform(synthetic.render([record]), f"raw/p/{name}.gz").outputs}

    [row] = answers(lake, _tmp())["current-employees"]
    assert str(row[5]) == "20.00"


def test_transaction_ids_are_integers_and_positions_are_kept():
    [row] = rows(transform(synthetic.render([cdc(person(1), "insert", 0x2_7C007178, xid=99)])))

    assert row["_transaction_id"] == 99 and row["_transaction_record_id"] == 1
    assert row["_stream_position"] == "00000002/7C007178.2.00000002/7C007178"
    assert row["_lsn"] == 0x2_7C007178


def test_given_a_primary_key_change_then_the_old_key_is_deleted():
    load = synthetic.dms_record(person(46), "load", START)
    change = cdc(person(46, id=45), "update", 0x400, before={"id": 46})

    result = transform(synthetic.render([load, change]))

    assert [(r["id"], r["_op"]) for r in rows(result)] == [(46, "load"), (45, "update"), (46, "delete")]
    assert result.totals.written == 2
    assert [r[0] for r in answers({o.key: o.body for o in result.outputs}, _tmp())["current-employees"]] == [45]


def test_given_a_delete_whose_other_columns_break_the_contract_then_it_still_deletes():
    load = synthetic.dms_record(person(7), "load", START)
    delete = cdc(person(7, salary="lots", email="nope", hire_date="20240115"), "delete", 0x500)

    result = transform(synthetic.render([load, delete]))

    assert result.totals.quarantined == 0
    assert answers({o.key: o.body for o in result.outputs}, _tmp())["current-employees"] == []


def test_given_a_load_row_and_a_cdc_change_of_one_key_then_the_change_wins_whatever_the_timestamps():
    change = cdc(person(3, salary="5.00"), "update", 0x10, when=START - timedelta(hours=1), before={})
    load = synthetic.dms_record(person(3, salary="9.00"), "load", START)

    result = transform(synthetic.render([change, load]))

    [row] = answers({o.key: o.body for o in result.outputs}, _tmp())["current-employees"]
    assert str(row[5]) == "5.00"


# ------------------------------------------------------------------ 4. stable types


def test_given_a_table_without_contract_then_every_file_has_the_same_text_columns_and_exact_integers():
    files = []
    for n, value in enumerate([9007199254740993, "text", 1.5]):
        record = synthetic.dms_record({"id": n, "v": value}, "load", START, table="things")
        files.append(transform(synthetic.render([record]), f"raw/p/{n}.gz").outputs[0])

    schemas = {str(pq.read_schema(io.BytesIO(f.body))) for f in files}
    assert len(schemas) == 1
    values = [pq.read_table(io.BytesIO(f.body)).column("v").to_pylist()[0] for f in files]
    assert values == ["9007199254740993", "text", "1.5"]


@pytest.mark.parametrize("column", ["_OP", "DT", "_Record_Seq", "_EXTRA"])
def test_given_a_column_equal_to_a_cdc_column_but_for_case_then_the_record_is_quarantined(column):
    # Glue and Athena fold column names to lower case: `_OP` beside `_op` (or `DT` beside the
    # partition column dt) would make the table unreadable
    good = synthetic.dms_record({"id": 1, "v": "a"}, "load", START, table="things")
    odd = synthetic.dms_record({"id": 2, column: "b"}, "load", START, table="things")

    result = transform(synthetic.render([good, odd]))

    assert [r["id"] for r in rows(result)] == ["1"]
    [entry] = entries(result)
    assert entry["reason"] == f"column {column!r} collides with a CDC column"


def test_given_two_columns_that_differ_only_by_case_then_the_record_is_quarantined():
    # PostgreSQL keeps "Name" and name apart; Glue and Athena would see one column
    good = synthetic.dms_record({"id": 1, "name": "a"}, "load", START, table="things")
    odd = synthetic.dms_record({"id": 2, "name": "b", "Name": "c"}, "load", START, table="things")

    result = transform(synthetic.render([good, odd]))

    assert [r["id"] for r in rows(result)] == ["1"]
    [entry] = entries(result)
    assert entry["reason"] == "columns 'name' and 'Name' differ only by case (Glue and Athena fold names to lower case)"


@pytest.mark.parametrize("table", [".", "..", "dt=2024-01-01", "a=b"])
def test_given_a_table_named_like_a_path_segment_then_its_records_are_quarantined_not_written(table):
    odd = synthetic.dms_record({"id": 2}, "load", START, table=table)

    result = transform(synthetic.render([odd, synthetic.dms_record(person(1), "load", START)]))

    assert [o.key.split("/")[1:3] for o in result.outputs] == [["public", "employees"]]
    [entry] = entries(result)
    assert entry["reason"].startswith("schema-name/table-name unusable in a key")


def test_given_a_create_table_then_its_key_is_used_for_key_changes_of_a_table_without_contract():
    control = synthetic.control_record(START)
    control["metadata"]["table-name"] = "things"
    control["control"]["table-def"] = {
        "columns": {"k": {"type": "INT32"}, "v": {"type": "STRING"}},
        "primary-key": ["k"],
    }
    change = cdc({"k": 2, "v": "x"}, "update", 0x10, before={"k": 1})
    change["metadata"]["table-name"] = "things"

    out = rows(transform(synthetic.render([control, change])))

    assert [(r["k"], r["_op"]) for r in out] == [("2", "update"), ("1", "delete")]


# ------------------------------------------------------------------ 7. redelivery


def test_given_the_same_changes_in_two_objects_then_no_saved_query_answer_changes():
    records = [synthetic.dms_record(person(i), "load", START) for i in (1, 2, 3)]
    records += [cdc(person(2, salary="77.00"), "update", 0x50, before={})]
    once = transform(synthetic.render(records), "raw/p/one.gz")
    again = transform(synthetic.render(records[1:], "json"), "raw/p/two.gz")

    single = answers({o.key: o.body for o in once.outputs}, _tmp())
    double = answers({o.key: o.body for r in (once, again) for o in r.outputs}, _tmp())

    assert single == double


def test_salary_anomalies_lists_a_change_scored_twice_once():
    row = {"id": 1, "department": "HR", "salary": 9.0, "expected_salary": 50.0, "anomaly_score": 9.1234}
    row |= {"is_anomaly": True, "model_version": "v1", "_commit_ts": START}
    con = duckdb.connect()
    con.execute("CREATE SCHEMA lake")
    con.register("twice", pa.Table.from_pylist([row | {"source_key": "a"}, row | {"source_key": "b"}]))
    con.execute("CREATE VIEW lake.anomalies AS SELECT * FROM twice")

    assert len(con.execute(render("salary-anomalies")).fetchall()) == 1


def _tmp():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="lake-"))
