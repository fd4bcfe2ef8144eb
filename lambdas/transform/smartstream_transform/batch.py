"""Check and build one batch of a table's rows: an Arrow table of the good rows, and the bad ones with why.

A pending row is the tuple ``Pending`` the core collected per record. The
checks are per column (``columns.ColumnType.build``) over the whole batch.
Rules:
- a row with any violation is rejected, with the first reason in column order;
- a delete needs only a valid key: a delete's non-key column that breaks its
  type is written as null instead;
- a primary-key change gives a *derived* delete row of the old key beside its
  update: both stand or fall together (same ``seq``);
- metadata: the timestamp must be a DMS timestamp, stream-position a
  PostgreSQL log position (when present), transaction ids integers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from . import columns as col
from .contracts import Contract
from .schema import EXTRA, META_FIELDS, RESERVED, column_name_problem, contracted_schema, lsn_of, lsns_of, text_schema

COMMIT_TS = col.timestamp()  # _commit_ts
_INTEGER = col.integer()


class Pending(NamedTuple):
    """The fields of a pending row (the core builds plain tuples in this order: cheaper)."""

    data: dict[str, Any]
    op: str
    ts: str
    position: Any  # metadata stream-position, transaction-id, transaction-record-id as sent
    txid: Any
    trid: Any
    seq: int
    text: str
    start: int
    values: tuple | None  # the contract's columns of data in order, when data has exactly those
    derived: bool


def _case_clash(data: dict[str, Any]) -> str:
    """The reason for a record with two columns that Glue and Athena would fold into one."""
    seen: dict[str, str] = {}
    for name in data:
        other = seen.setdefault(name.lower(), name)
        if other != name:
            return f"columns {other!r} and {name!r} differ only by case (Glue and Athena fold names to lower case)"
    return "columns differ only by case"


class TableShape:
    """What a batch of one table is checked against: its contract, or the text columns seen so far."""

    def __init__(self, contract: Contract | None, key: Sequence[str] = (), names: Sequence[str] = ()):
        self.contract = contract
        self.key = tuple(contract.primary_key if contract else key)
        self.names: list[str] = []
        self._known: dict[str, str | None] = {}  # column name -> problem (None: fine)
        for name in names:
            self._see(name)

    def _see(self, name: str) -> str | None:
        if name not in self._known:
            problem = column_name_problem(name)
            self._known[name] = problem
            if problem is None:
                self.names.append(name)
        return self._known[name]

    def adopt(self, names: Sequence[str], key: Sequence[str]) -> None:
        """A DMS table definition of a table without a contract: its key and column order."""
        if self.contract is None:
            self.key = self.key or tuple(key)
            for name in names:
                self._see(name)

    def schema(self) -> pa.Schema:
        return contracted_schema(self.contract) if self.contract else text_schema(self.names)

    def build(self, rows: Sequence[Pending], source_key: str) -> tuple[pa.Table, dict[int, str]]:
        """(table of the kept rows, {row index: reason} of the rejected ones)."""
        n = len(rows)
        datas, ops, tss, positions, txids, trids, seqs, _texts, _starts, values, derived = zip(*rows, strict=True)
        reasons: dict[int, str] = {}
        deletes = [op == "delete" for op in ops]
        arrays: list[pa.Array] = []
        if self.contract is not None:
            contract = self.contract
            exact = None not in values  # every row has exactly the contract's columns: no extras
            if exact:
                by_column = zip(*values, strict=True)
                complete = True
            else:
                try:
                    by_column = zip(*map(contract.getter, datas), strict=True)
                    complete = True
                except KeyError:  # a column missing in some row
                    by_column = ([d.get(name) for d in datas] for name in contract.names)
                    complete = False
            for column, column_values in zip(contract.columns, by_column, strict=True):
                arrays.append(self._column(column.name, column.type, column.nullable, column_values, deletes, reasons))
            arrays.append(pa.nulls(n, pa.string()) if exact else self._extras(datas, complete, reasons))
        else:
            for i, d in enumerate(datas):
                for name in d:
                    problem = self._see(name)
                    if problem is not None:
                        reasons.setdefault(i, problem)
                if len({name.lower() for name in d}) != len(d):
                    reasons.setdefault(i, _case_clash(d))
            for name in self.names:
                values = [d.get(name) for d in datas]
                arrays.append(self._column(name, col.TEXT_ANY, True, values, deletes, reasons))
        fields = (ops, tss, list(positions), txids, trids, seqs, derived)
        arrays.extend(self._meta(rows, fields, arrays, reasons, source_key))
        table = pa.Table.from_arrays(arrays, schema=self.schema())
        # a derived delete and its update stand or fall together
        if reasons and any(derived):
            first: dict[int, int] = {}
            for i in sorted(reasons):
                first.setdefault(seqs[i], i)
            for i, seq in enumerate(seqs):
                source = first.get(seq)
                if source is not None and i not in reasons:
                    why = reasons[source]
                    reasons[i] = f"before-image key: {why}" if derived[source] else why
        if reasons:
            keep = [True] * n
            for i in reasons:
                keep[i] = False
            table = table.filter(pa.array(keep))
        return table, reasons

    def _column(self, name, column_type, nullable, values, deletes, reasons) -> pa.Array:
        array, bad = column_type.build(values)
        is_key = name in self.key
        for row, why in bad.items():
            if is_key or not deletes[row]:
                reasons.setdefault(row, f"{name}: {why}")
        if (not nullable or is_key) and array.null_count:
            for row in pc.indices_nonzero(pc.is_null(array)).to_pylist():
                if values[row] is None and (is_key or not deletes[row]):
                    reasons.setdefault(row, f"{name}: required, missing")
        return array

    def _extras(self, datas: list[dict[str, Any]], complete: bool, reasons: dict[int, str]) -> pa.Array:
        """``_extra``: the columns the contract does not know, as a JSON object."""
        names = self.contract.name_set
        size = len(names)
        extras: list[str | None] = [None] * len(datas)
        if complete:  # every row has every contract column: more columns mean extras
            suspects = [i for i, length in enumerate(map(len, datas)) if length != size]
        else:
            suspects = [i for i, d in enumerate(datas) if not d.keys() <= names]
        if not suspects:
            return pa.nulls(len(datas), pa.string())
        for i in suspects:
            d = datas[i]
            other = {k: v for k, v in d.items() if k not in names}
            clash = next((k for k in other if k in RESERVED), None)
            if clash is not None:
                reasons.setdefault(i, f"column {clash!r} collides with a CDC column")
                continue
            try:
                extras[i] = col.as_text(other)
            except col.Violation as exc:
                reasons.setdefault(i, f"{EXTRA}: {exc}")
        return pa.array(extras, type=pa.string())

    def _meta(self, rows, fields, arrays, reasons, source_key) -> list[pa.Array]:
        ops, tss, positions, txids, trids, seqs, derived = fields
        n = len(rows)
        commit, bad = COMMIT_TS.build(tss)
        for row, why in bad.items():
            reasons.setdefault(row, f"metadata timestamp: {why}")
        lsn = lsns_of(positions)
        if lsn is None:  # some position is not a PostgreSQL log position: row by row, for the reasons
            lsns: list[int | None] = [None] * n
            for i, position in enumerate(positions):
                if position is not None:
                    try:
                        lsns[i] = lsn_of(position)
                    except ValueError as exc:
                        reasons.setdefault(i, f"metadata {exc}")
                        positions[i] = None
            lsn = pa.array(lsns, type=pa.int64())
        position = pa.array(positions, type=pa.string())
        ids = []
        for field, sent in (("transaction-id", txids), ("transaction-record-id", trids)):
            array, bad = _INTEGER.build(sent)
            for row, why in bad.items():
                reasons.setdefault(row, f"metadata {field}: {why}")
            ids.append(array)
        op = pa.array(ops, type=pa.string())
        change = self.change_ids(rows, arrays, op, position, ids, tss, derived)
        return [
            op,
            commit,
            lsn,
            position,
            ids[0],
            ids[1],
            change,
            pa.repeat(pa.scalar(source_key, pa.string()), n),
            pa.array(seqs, type=pa.int64()),
        ]

    def change_ids(self, rows, arrays, op, position, ids, tss, derived) -> pa.Array:
        """The identity of each change: stream-position and transaction-record-id when DMS gave a
        position; else operation, timestamp, transaction ids and key (or the whole row)."""
        txid, trid = (pc.cast(a, pa.string()) for a in ids)
        if self.key and (self.contract is not None or all(k in self.names for k in self.key)):
            names = self.contract.names if self.contract else self.names
            key_parts = [pc.cast(arrays[names.index(k)], pa.string()) for k in self.key]
        else:
            key_parts = [pa.array([json.dumps(r[0], sort_keys=True, default=str) for r in rows], pa.string())]
        ts = pa.array(tss, type=pa.string())
        join = pc.binary_join_element_wise
        fallback = join(op, ts, txid, trid, *key_parts, "|", null_handling="replace", null_replacement="")
        positioned = join(position, trid, "|", null_handling="replace", null_replacement="")
        change = pc.if_else(pc.is_valid(position), positioned, fallback)
        if any(derived):
            mask = pa.array(derived, type=pa.bool_())
            change = pc.if_else(mask, join(change, pa.scalar("old-key"), "|"), change)
        return change


META_COUNT = len(META_FIELDS)
