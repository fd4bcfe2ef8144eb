"""The block path (``blocks.py``: clean lines parsed by pyarrow.json) against the per-record path.

Differential: every object is transformed twice, with blocks (at many block
and read sizes, so blocks start and end anywhere) and without
(``block_bytes=0``: every record framed and checked on its own), and the two
outcomes must be identical: the same trusted files with the same schema and
rows in the same order, the same quarantine entries byte for byte (reasons,
positions, ranges, records; their order in the file follows batch flushes on
either path), the same counts. The objects are DMS-shaped
``json-unformatted`` records with, at random or one at a time, every hazard
where pyarrow could read a record differently from ``json`` and the column
checks (types, sizes, escapes, surrogates, invalid UTF-8, duplicate keys,
null versus missing, before-images, control records, other tables, framing
oddities). The fast path must also really be taken on clean input.
"""

from __future__ import annotations

import gzip
import io
import json
import random

import pytest
from block_corpus import KEY, LINE_HAZARDS, RECORD_HAZARDS, assert_same, body_of, clean, control, outcome, render, ts_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from smartstream_transform import blocks
from smartstream_transform.core import transform_object

EXAMPLES = 300


# ---------------------------------------------------------------------- tests


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    n=st.integers(1, 80),
    rate=st.sampled_from([0.0, 0.0, 0.02, 0.1, 0.5]),
    block_bytes=st.sampled_from([1, 200, 1000, 4000, 1 << 21]),
    read_size=st.sampled_from([1, 97, 1000, 5000, 1 << 20]),
    compress=st.booleans(),
    controls=st.integers(0, 3),
)
def test_blocks_give_what_the_per_record_path_gives(seed, n, rate, block_bytes, read_size, compress, controls):
    rng = random.Random(seed)
    records = [control() for _ in range(controls)] + [clean(rng, n, i) for i in range(n)]
    lines = []
    record_hazards, line_hazards = list(RECORD_HAZARDS.values()), list(LINE_HAZARDS.values())
    for record in records:
        if rng.random() < rate:
            rng.choice(record_hazards)(record)
        line = render(record, rng.randrange(3))
        if rng.random() < rate / 2:
            line = rng.choice(line_hazards)(line)
        lines.append(line)
    assert_same(body_of(lines, compress), block_bytes, read_size)


def _hazard_object(mutate_record=None, mutate_line=None, at: int = 20, n: int = 40) -> bytes:
    rng = random.Random(at)
    lines = []
    for i in range(n):
        record = clean(rng, n, i)
        if i == at and mutate_record is not None:
            mutate_record(record)
        line = render(record, i % 3)
        if i == at and mutate_line is not None:
            line = mutate_line(line)
        lines.append(line)
    return body_of(lines, compress=False)


@pytest.mark.parametrize("name", sorted(RECORD_HAZARDS))
def test_each_record_hazard_gives_what_the_per_record_path_gives(name):
    for at in (0, 20, 39):
        body = _hazard_object(mutate_record=RECORD_HAZARDS[name], at=at)
        for block_bytes, read_size in ((1, 1 << 20), (1500, 700), (1 << 21, 1 << 20)):
            assert_same(body, block_bytes, read_size)


@pytest.mark.parametrize("name", sorted(LINE_HAZARDS))
def test_each_line_hazard_gives_what_the_per_record_path_gives(name):
    for at in (0, 20, 39):
        body = _hazard_object(mutate_line=LINE_HAZARDS[name], at=at)
        for block_bytes, read_size in ((1, 1 << 20), (1500, 700), (1 << 21, 1 << 20)):
            assert_same(body, block_bytes, read_size)


def test_clean_objects_take_the_block_path():
    """Control records at the start, CRLF, blank lines, every style, several days, before-images with
    the same key or empty: every data record goes through blocks (else the speed is not there)."""
    rng = random.Random(7)
    n = 400
    lines = [render(control(), 0), render(control(), 1)]
    for i in range(n):
        line = render(clean(rng, n, i), i % 3)
        lines.append(line + (b"\r" if i % 7 == 0 else b"") + (b"\n" if i % 11 == 0 else b""))
    body = body_of(lines, compress=True)
    assert assert_same(body, 1, 1 << 20) == 1  # one block (one slice inflated), after the control records
    plain = gzip.decompress(body)
    taken = assert_same(plain, 2000, 1000)
    assert taken >= len(plain) // 3000  # blocks of 2000 bytes or more, all taken
    result = transform_object(io.BytesIO(body), KEY, block_bytes=2000)
    counts = result.counts["public.employees"]
    assert (counts.read, counts.written, counts.quarantined, counts.skipped) == (n + 2, n, 0, 2)


def test_a_block_of_another_table_or_with_a_hazard_is_declined_not_half_taken():
    """A hazard anywhere in a block sends the whole block the per-record way (none of it is taken)."""
    body = _hazard_object(mutate_record=RECORD_HAZARDS["salary underscore"], at=39)
    _, taken = outcome(body, 1 << 21)
    assert taken == 0
    body = _hazard_object(mutate_record=RECORD_HAZARDS["table without contract"], at=0)
    _, taken = outcome(body, 1 << 21)
    assert taken == 0


def test_a_null_before_image_is_not_taken_for_a_missing_one_whatever_its_spelling():
    """pyarrow reads a missing before-image and ``null`` alike; the per-record path quarantines an
    update with ``null``. The block path counts the key in the bytes, and declines when a key could be
    spelled with escapes (which the count would miss) — even next to a value that reads "before-image"."""
    rng = random.Random(3)
    n = 30
    lines = []
    for i in range(n):
        record = clean(rng, n, i)
        record.pop("before-image", None)
        line = render(record, 1)
        if i == 12:  # an update with a null before-image, its key escaped
            record["metadata"] |= {"operation": "update", "commit-timestamp": record["metadata"]["timestamp"]}
            line = render(record, 1)[:-1] + b', "before\\u002dimage": null}'
        elif i == 13:  # a before-image holding the key, its key escaped too
            record["metadata"] |= {"operation": "update", "commit-timestamp": record["metadata"]["timestamp"]}
            line = render(record, 1)[:-1] + b', "before\\u002dimage": {"id": %d}}' % record["data"]["id"]
        elif i == 14:  # a value that reads "before-image"
            record["data"]["department"] = "before-image"
            line = render(record, 1)
        lines.append(line)
    for body in (body_of(lines, False), body_of(lines[12:13] + lines[20:], False)):
        assert_same(body, 1 << 21, 1 << 20)
        want, _ = outcome(body, 0)
        assert b"before-image not an object" in b"".join(want[1])


def test_a_key_change_and_its_delete_stand_or_fall_together_when_a_batch_is_retried_record_by_record():
    """Found by the differential test: a batch that Arrow could not convert (a log position beyond
    int64) was retried row by row, so an update whose before-image key is null was written without
    the delete of its old key (which alone was dropped). Both now fall, in any batch."""
    rng = random.Random(5)
    lines = []
    for i in range(10):
        record = clean(rng, 10, i)
        meta = record["metadata"]
        meta |= {"operation": "update", "commit-timestamp": meta["timestamp"], "timestamp": ts_of(0, i)}
        meta |= {"commit-timestamp": meta["timestamp"], "stream-position": "00000002/7C000058.3.00000002/7C000058"}
        meta |= {"transaction-id": 5, "transaction-record-id": 1}
        record.pop("before-image", None)
        if i == 3:
            record["before-image"] = {"id": None}
        if i == 7:
            meta["stream-position"] = "FFFFFFFF/00000000.3.FFFFFFFF/00000000"
        lines.append(render(record, 0))
    body = body_of(lines, False)
    (_files, quarantine, _blob, counts), _ = outcome(body, 0)
    assert counts["public.employees"] == (10, 8, 2, 0)
    reasons = sorted(json.loads(line)["reason"] for line in quarantine)
    assert reasons == ["before-image key: id: required, missing", "could not be converted to its table's types"]
    assert_same(body, 1, 1 << 20)


def test_this_pyarrow_reads_as_the_block_path_relies_on_and_the_canaries_agree_with_json():
    assert blocks.pyarrow_fits()
    for line, rows in blocks._CANARIES:  # pylint: disable=protected-access
        if rows is not None and b"\r" not in line and line.count(b'{"data"') == 1:
            value = json.loads(line)
            assert value["data"] == {k: v for k, v in rows[0]["data"].items() if k in value["data"]}


def test_a_pyarrow_that_reads_otherwise_turns_the_block_path_off(monkeypatch):
    body = _hazard_object(n=40)
    _, taken = outcome(body, 1 << 21)
    assert taken == 1
    blocks.pyarrow_fits.cache_clear()
    canaries = [*blocks._CANARIES, (b'{"data": {"id": 1.0}}', [{"data": {"id": 1, "s": None}, "metadata": None}])]
    monkeypatch.setattr(blocks, "_CANARIES", tuple(canaries))
    try:
        assert not blocks.pyarrow_fits()
        got, taken = outcome(body, 1 << 21)
        assert taken == 0
        assert got == outcome(body, 0)[0]
    finally:
        blocks.pyarrow_fits.cache_clear()
