"""Property tests: DMS-shaped objects in both framings with random corruption, against invariants.

Invariants: nothing raises on data; every count balances; every data record
ends in exactly one of trusted (its change identity in the object's trusted
rows) or quarantine (poison records and garbage fragments, one entry each);
the latest state derived from trusted equals the generator's truth; duplicate
delivery, replay and object order change no saved query's answer.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import zlib
from collections import Counter

import pyarrow.parquet as pq
from dms_streams import history, objects
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from queries import answers
from smartstream_ml.model import current_state
from smartstream_transform.core import transform_object

EXAMPLES = 30
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def run_all(raws, order):
    """Transform the objects in the given order; the lake keeps the last write of each key."""
    lake: dict[str, bytes] = {}
    results = {}
    for index in order:
        raw = raws[index]
        result = transform_object(io.BytesIO(raw.body), raw.key)
        assert result.log_record()["balanced"], result.counts
        for out in result.outputs:
            lake[out.key] = out.body
        results[raw.key] = result
    return lake, results


def trusted_rows(lake):
    return [row for body in lake.values() for row in pq.read_table(io.BytesIO(body)).to_pylist()]


def identity(row):
    if row["_stream_position"] is not None:
        return (row["_stream_position"], row["_transaction_record_id"])
    return ("load", row["id"], row["_commit_ts"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def state_of(rows):
    return {
        r["id"]: (r["first_name"], r["last_name"], r["email"], r["department"], str(r["salary"]), str(r["hire_date"]))
        for r in current_state(rows)
    }


def truth_of(hist):
    return {
        i: (r["first_name"], r["last_name"], r["email"], r["department"], r["salary"], r["hire_date"])
        for i, r in hist.truth.items()
    }


@SETTINGS
@given(
    seed=st.integers(0, 2**31),
    parts=st.integers(1, 4),
    garbage=st.booleans(),
    poisons=st.booleans(),
    duplicates=st.booleans(),
    shuffle=st.randoms(use_true_random=False),
)
def test_every_record_lands_once_and_the_state_is_the_truth_whatever_the_delivery(
    seed, parts, garbage, poisons, duplicates, shuffle, tmp_path_factory
):
    hist = history(seed)
    rng = random.Random(seed)
    raws = objects(hist, rng, parts, garbage, poisons, duplicates)
    order = list(range(len(raws)))
    shuffle.shuffle(order)
    order += [i for i in order if shuffle.random() < 0.3]  # some objects processed twice (a retry)

    lake, results = run_all(raws, order)

    for raw in raws:  # every record in exactly one place
        result = results[raw.key]
        rows = [r for r in trusted_rows({o.key: o.body for o in result.outputs}) if not _derived(r)]
        assert Counter(identity(r) for r in rows) == Counter(raw.identities)
        assert result.totals.written == raw.good
        assert result.totals.quarantined == raw.poison + raw.garbage
        assert result.totals.read == raw.good + raw.poison + raw.garbage + result.totals.skipped
    rows = trusted_rows(lake)
    assert state_of(rows) == truth_of(hist)
    clean_lake, _ = run_all(objects(hist, random.Random(seed), 1, False, False, False), [0])
    got = answers(lake, tmp_path_factory.mktemp("lake"))
    expected = answers(clean_lake, tmp_path_factory.mktemp("clean"))
    assert got == expected
    assert {row[0] for row in got["current-employees"]} == set(hist.truth)


def _derived(row):
    return row["_change_id"].endswith("|old-key")


@SETTINGS
@given(seed=st.integers(0, 2**31), cut=st.floats(0.0, 1.0), framing=st.sampled_from(["json", "json-unformatted"]))
def test_a_truncated_object_keeps_every_whole_record_before_the_cut(seed, cut, framing):
    hist = history(seed, employees=6, transactions=8)
    pieces = [(json.dumps(r, indent=4) if framing == "json" else json.dumps(r) + "\n").encode() for r in hist.records]
    body = b"".join(pieces)
    at = int(len(body) * cut)
    whole = 0
    size = 0
    for piece, record in zip(pieces, hist.records, strict=True):
        size += len(piece)
        if size <= at and record["metadata"]["record-type"] == "data":
            whole += 1

    plain = transform_object(io.BytesIO(body[:at]), "raw/x/plain.json")
    squeezed = gzip.compress(body)
    zipped = transform_object(io.BytesIO(squeezed[: int(len(squeezed) * cut)]), "raw/x/zipped.gz")

    assert plain.log_record()["balanced"] and zipped.log_record()["balanced"]
    assert plain.totals.written >= whole  # a record cut just after its closing brace is still whole
    assert plain.totals.written <= whole + 1
    if int(len(squeezed) * cut) < len(squeezed) and zipped.quarantine is not None:
        entries = [json.loads(line) for line in zipped.quarantine.body.splitlines()]
        assert any("GZIP" in e["reason"] for e in entries) or int(len(squeezed) * cut) < 2


@SETTINGS
@given(data=st.binary(max_size=400), gz=st.booleans())
def test_nothing_raises_on_arbitrary_bytes(data, gz):
    body = zlib.compress(data) if gz else data

    result = transform_object(io.BytesIO(body), "raw/x/random.bin")

    assert result.log_record()["balanced"]
    assert result.totals.written == 0 or result.outputs
