"""The per-array log position parse (schema.lsns_of) against the per-row one (schema.lsn_of)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from smartstream_transform.schema import lsn_of, lsns_of

_HEX = st.sampled_from(["X", "x", "08X", "08x"])
_WORD = st.one_of(st.sampled_from([0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]), st.integers(0, 0xFFFFFFFF))


@st.composite
def _position(draw):
    hi, lo, hi_form, lo_form = draw(_WORD), draw(_WORD), draw(_HEX), draw(_HEX)
    text = f"{hi:{hi_form}}/{lo:{lo_form}}.{draw(st.integers(0, 99))}.{hi:{hi_form}}/{lo:{lo_form}}"
    spoil = draw(st.sampled_from(["", "", "", "newline", "digit", "empty", "int", "space"]))
    return {
        "": text,
        "newline": text + "\n",
        "digit": "\u0663" + text[1:],
        "empty": "",
        "int": 7,
        "space": " " + text,
    }[spoil]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), _position()), min_size=1, max_size=20))
def test_lsns_of_equals_lsn_of_per_row(positions):
    got = lsns_of(positions)
    try:
        want = [None if p is None else lsn_of(p) for p in positions]
    except ValueError:
        assert got is None  # the caller then takes lsn_of row by row, for the reasons
        return
    if any(w is not None and w >= 1 << 63 for w in want):
        assert got is None  # beyond int64: row by row as well
        return
    assert got is not None and got.to_pylist() == want
