"""The DMS engine's pure parts: test_decoding's output parsed exactly, and records in DMS's format."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from emulator.engines.dms.config import Selector
from emulator.engines.dms.decoding import (
    UNCHANGED_TOAST,
    DecodingError,
    parse_begin,
    parse_change,
    parse_commit,
    parse_header,
)
from emulator.engines.dms.records import Column, RecordFormat, Table, converter, dms_column_type, dms_lsn

# ------------------------------------------------------------------------------------------------
# test_decoding output (lines as PostgreSQL 15 prints them)
# ------------------------------------------------------------------------------------------------
INSERT = (
    "table public.t: INSERT: id[integer]:1 n[numeric]:12.50 f[double precision]:1.5e+300 r[real]:NaN"
    " b[boolean]:true by[bytea]:'\\x00ff' j[jsonb]:'{\"a\": \"b''c\"}' a[integer[]]:'{1,2,NULL}'"
    " ta[text[]]:'{\"a b\",c''d,\"e\\\"f\",NULL}' ts[timestamp without time zone]:'2024-01-01 10:00:00.123456'"
    " tz[timestamp with time zone]:'2024-01-01 08:00:00.5+00' s[text]:'it''s\nnew line' big[bigint]:-9"
    " c[character]:'ab ' bt[bit]:B'101' nn[numeric]:Infinity e[text]:null"
)


def test_an_insert_is_parsed_with_every_kind_of_value():
    change = parse_change(INSERT)
    assert (change.schema, change.table, change.op, change.old) == ("public", "t", "INSERT", None)
    assert change.new == {
        "id": "1",
        "n": "12.50",
        "f": "1.5e+300",
        "r": "NaN",
        "b": "true",
        "by": "\\x00ff",
        "j": '{"a": "b\'c"}',
        "a": "{1,2,NULL}",
        "ta": '{"a b",c\'d,"e\\"f",NULL}',
        "ts": "2024-01-01 10:00:00.123456",
        "tz": "2024-01-01 08:00:00.5+00",
        "s": "it's\nnew line",
        "big": "-9",
        "c": "ab ",
        "bt": "101",
        "nn": "Infinity",
        "e": None,
    }
    assert change.types["a"] == "integer[]" and change.types["tz"] == "timestamp with time zone"


def test_quoted_identifiers_and_a_value_that_looks_like_syntax():
    line = (
        'table "My Schema"."Odd ""T""": INSERT: "Col A"[character varying]:\'x new-tuple: y[int]:\' '
        "\"weird[]:\"[text]:'null' plain[text]:''''"
    )
    change = parse_change(line)
    assert (change.schema, change.table) == ("My Schema", 'Odd "T"')
    assert change.new == {"Col A": "x new-tuple: y[int]:", "weird[]:": "null", "plain": "'"}


def test_an_update_with_a_new_key_carries_the_old_key():
    change = parse_change(
        "table public.t: UPDATE: old-key: id[integer]:2 new-tuple: id[integer]:3 s[text]:'a' big[text]:"
        "unchanged-toast-datum"
    )
    assert change.old == {"id": "2"}
    assert change.new == {"id": "3", "s": "a", "big": UNCHANGED_TOAST}


def test_an_update_without_key_change_and_deletes():
    assert parse_change("table public.t: UPDATE: id[integer]:1 s[text]:'z'").old is None
    delete = parse_change("table public.t: DELETE: id[integer]:3")
    assert (delete.op, delete.old, delete.new) == ("DELETE", {"id": "3"}, None)
    nothing = parse_change("table public.t: DELETE: (no-tuple-data)")
    assert (nothing.old, nothing.new) == (None, None)


def test_truncate_begin_commit():
    change = parse_change('table public.a, "S".b: TRUNCATE: restart_seqs cascade')
    assert change.op == "TRUNCATE" and change.truncated == [("public", "a"), ("S", "b")]
    assert parse_header("table public.t: TRUNCATE: (no-flags)")[:3] == ("public", "t", "TRUNCATE")
    assert parse_begin("BEGIN 737") == 737
    xid, when = parse_commit("COMMIT 737 (at 2024-07-29 00:58:17.97434+00)")
    assert xid == 737 and when == datetime(2024, 7, 29, 0, 58, 17, 974340, tzinfo=UTC)
    assert parse_commit("COMMIT 9 (at 2024-07-29 02:58:17+02)")[1] == datetime(2024, 7, 29, 0, 58, 17, tzinfo=UTC)


def test_malformed_output_is_an_error_not_a_guess():
    for line in ("table public.t: INSERT: id[integer]:'open", "table t INSERT", "table public.t: INSERT: id:1"):
        with pytest.raises(DecodingError):
            parse_change(line)


# ------------------------------------------------------------------------------------------------
# DMS's type mapping
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pg_type", "text", "value"),
    [
        ("integer", "42", 42),
        ("bigint", "9223372036854775807", 9223372036854775807),
        ("smallint", "-3", -3),
        ("numeric", "12.50", "12.50"),
        ("numeric", "NaN", "NaN"),
        ("double precision", "1.5e+300", 1.5e300),
        ("real", "NaN", "NaN"),
        ("real", "-Infinity", "-Infinity"),
        ("boolean", "true", "true"),
        ("boolean", "f", "false"),
        ("bytea", "\\x00ff", "0x00FF"),
        ("timestamp without time zone", "2024-01-01 10:00:00.123456", "2024-01-01T10:00:00.123456Z"),
        ("timestamp without time zone", "2024-01-01 10:00:00", "2024-01-01T10:00:00Z"),
        ("timestamp without time zone", "infinity", "infinity"),
        ("timestamp with time zone", "2024-01-01 08:00:00.5+00", "2024-01-01T08:00:00.500000Z"),
        ("timestamp with time zone", "2024-01-01 10:00:00+02", "2024-01-01T08:00:00.000000Z"),
        ("date", "2024-02-03", "2024-02-03"),
        ("jsonb", '{"a": 1}', '{"a": 1}'),
        ("integer[]", "{1,2,NULL}", "{1,2,NULL}"),
        ("uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ("interval", "1 day 02:00:00", "1 day 02:00:00"),
    ],
)
def test_values_map_as_dms_maps_them(pg_type, text, value):
    assert converter(pg_type)(text) == value


def test_map_boolean_as_boolean_and_no_hex_prefix():
    assert converter("boolean", map_boolean=True)("true") is True
    assert converter("bytea", hex_prefix="")("\\xabcd") == "ABCD"


def test_column_types_of_the_table_definition():
    assert dms_column_type("integer", -1, False) == {"nullable": False, "type": "INT32"}
    assert dms_column_type("numeric", (10 << 16) + 2 + 4, True) == {
        "nullable": True,
        "precision": 10,
        "scale": 2,
        "type": "NUMERIC",
    }
    assert dms_column_type("character varying", 128 + 4, False) == {"length": 128, "nullable": False, "type": "STRING"}
    assert dms_column_type("timestamp with time zone", -1, True)["type"] == "TIMESTAMP"
    assert dms_column_type("jsonb", -1, True)["type"] == "STRING"


# ------------------------------------------------------------------------------------------------
# Records
# ------------------------------------------------------------------------------------------------
TABLE = Table(
    "public",
    "foo",
    [Column("id", "integer", -1, False), Column("name", "text"), Column("age", "integer"), Column("note", "text")],
    ["id"],
)


def test_a_load_record_is_the_captured_dms_record():
    fmt = RecordFormat("TASKID", "json-unformatted", include_partition_value=True, partition_include_schema_table=True)
    data = fmt.row({"id": "42", "name": "John", "age": None, "note": ""}, {}, TABLE)
    assert data == {"id": 42, "name": "John"}  # without IncludeNullAndEmpty: null and empty left out
    record, key = fmt.data_record("load", "public", "foo", data, data, TABLE, "2024-07-29T00:57:35.691762Z")
    assert fmt.serialize(record) == (
        b'{"data":{"id":42,"name":"John"},"metadata":{"timestamp":"2024-07-29T00:57:35.691762Z",'
        b'"record-type":"data","operation":"load","partition-key-type":"primary-key",'
        b'"partition-key-value":"public.foo.42","schema-name":"public","table-name":"foo"}}\n'
    )
    assert key == "public.foo.42"


def test_json_format_is_indented_without_newline_and_flags_shape_the_metadata():
    fmt = RecordFormat("TASKID", "json", include_null_and_empty=True, before_image=True)
    data = fmt.row({"id": "45", "name": "Jane"}, {}, TABLE)
    before = fmt.before({"id": "46"}, {"id": "integer"}, TABLE)
    record, key = fmt.data_record(
        "update", "public", "foo", data, data, TABLE, "2024-07-29T00:59:07.686557Z", before, {"transaction-id": 1141}
    )
    text = fmt.serialize(record).decode()
    assert text.startswith('{\n    "data": {\n        "id": 45,') and not text.endswith("\n")
    assert json.loads(text) == {
        "data": {"id": 45, "name": "Jane", "age": None, "note": None},
        "before-image": {"id": 46},
        "metadata": {
            "timestamp": "2024-07-29T00:59:07.686557Z",
            "record-type": "data",
            "operation": "update",
            "partition-key-type": "schema-table",
            "schema-name": "public",
            "table-name": "foo",
            "transaction-id": 1141,
        },
    }
    assert key == "public.foo"


def test_before_image_column_filters():
    old = {"id": "1", "name": "a", "note": "long"}
    types = {"id": "integer", "name": "character varying", "note": "text"}
    assert RecordFormat("T", before_image_filter="pk-only").before(old, types, TABLE) == {"id": 1}
    assert RecordFormat("T", before_image_filter="non-lob").before(old, types, TABLE) == {"id": 1, "name": "a"}
    assert RecordFormat("T", before_image_filter="all").before(old, types, TABLE) == {
        "id": 1,
        "name": "a",
        "note": "long",
    }
    assert RecordFormat("T").before(None, types, TABLE) == {}


def test_control_records_are_keyed_by_the_task():
    fmt = RecordFormat("TASKID", include_control_details=True, include_partition_value=True)
    record, key = fmt.control_record("create-table", "public", "foo", "now", fmt.table_def(TABLE))
    assert key == "TASKID"
    assert record["control"]["table-def"]["primary-key"] == ["id"]
    assert record["metadata"]["partition-key-type"] == "task-id"
    assert record["metadata"]["partition-key-value"] == "TASKID"
    bare, _ = RecordFormat("TASKID").control_record("drop-table", "public", "foo", "now")
    assert "control" not in bare and "partition-key-value" not in bare["metadata"]


def test_lsn_and_selection_rules():
    assert dms_lsn("2/7C007178") == "00000002/7C007178"
    rules = json.dumps(
        {
            "rules": [
                {"rule-type": "selection", "object-locator": {"schema-name": "public", "table-name": "emp%"}},
                {
                    "rule-type": "selection",
                    "rule-action": "exclude",
                    "object-locator": {"schema-name": "public", "table-name": "emp_archive"},
                },
            ]
        }
    )
    selected = Selector(rules)
    assert selected("public", "employees") and selected("public", "emp")
    assert not selected("public", "emp_archive") and not selected("other", "employees")
    assert not selected("public", "xemployees")
