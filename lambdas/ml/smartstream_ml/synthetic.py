"""Realistic synthetic employees, deterministic by seed, with planted salary anomalies.

Used by the tests, the demo and the benchmarks. ``employees(n, seed)`` gives
rows shaped like the seed's ``employees`` table plus the label
``planted_anomaly``; ``dms_records(rows, ...)`` renders them as DMS writes
them to Kinesis (load or CDC operations, ``json`` or ``json-unformatted``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

# department: (base salary at hire, yearly raise, relative spread)
DEPARTMENTS: dict[str, tuple[float, float, float]] = {
    "Engineering": (95_000, 4_500, 0.08),
    "Data": (90_000, 4_000, 0.08),
    "Sales": (62_000, 2_800, 0.10),
    "Marketing": (66_000, 2_600, 0.09),
    "Finance": (72_000, 3_200, 0.08),
    "HR": (58_000, 2_200, 0.08),
    "Support": (48_000, 1_600, 0.09),
    "Legal": (98_000, 4_200, 0.07),
}
FIRST_NAMES = [
    "John",
    "Jane",
    "Bob",
    "Alice",
    "Chen",
    "Fatima",
    "José",
    "Zoë",
    "Ólafur",
    "Priya",
    "Kenji",
    "Amara",
    "Liam",
    "Noah",
    "Emma",
    "Ava",
    "Mateo",
    "Søren",
    "Ana",
    "Yusuf",
]
LAST_NAMES = [
    "Doe",
    "Smith",
    "Johnson",
    "Williams",
    "Müller",
    "García",
    "Nakamura",
    "O'Brien",
    "Kowalski",
    "Singh",
    "Nguyen",
    "Silva",
    "Andersson",
    "Rossi",
    "Dubois",
    "Kim",
    "Okafor",
    "Haddad",
    "Petrov",
    "Larsen",
]
AS_OF = date(2026, 11, 1)


@dataclass(frozen=True, slots=True)
class Employee:
    id: int
    first_name: str
    last_name: str
    email: str
    department: str
    salary: str  # NUMERIC(10,2) as DMS sends it: a string
    hire_date: str
    created_at: str
    updated_at: str
    planted_anomaly: bool

    def row(self) -> dict[str, Any]:
        """The source-table row (without the label)."""
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "department": self.department,
            "salary": self.salary,
            "hire_date": self.hire_date,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def expected_salary(department: str, tenure_years: float) -> float:
    base, raise_per_year, _spread = DEPARTMENTS[department]
    return base + raise_per_year * tenure_years


def employees(n: int, seed: int = 7, anomaly_rate: float = 0.02, start_id: int = 1) -> list[Employee]:
    """``n`` employees; about ``anomaly_rate`` of them paid far from their peers (x2.2-3.5 or /2.5-4)."""
    rng = random.Random(seed)
    departments = list(DEPARTMENTS)
    result = []
    for i in range(n):
        emp_id = start_id + i
        department = departments[rng.randrange(len(departments))]
        tenure_days = rng.randint(30, 15 * 365)
        hire = AS_OF - timedelta(days=tenure_days)
        spread = DEPARTMENTS[department][2]
        salary = expected_salary(department, tenure_days / 365.25) * rng.lognormvariate(0, spread)
        planted = rng.random() < anomaly_rate
        if planted:
            salary = salary * rng.uniform(2.2, 3.5) if rng.random() < 0.5 else salary / rng.uniform(2.5, 4.0)
        first = FIRST_NAMES[rng.randrange(len(FIRST_NAMES))]
        last = LAST_NAMES[rng.randrange(len(LAST_NAMES))]
        local = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
        created = datetime.combine(hire, datetime.min.time(), tzinfo=UTC) + timedelta(seconds=rng.randint(0, 86_399))
        result.append(
            Employee(
                id=emp_id,
                first_name=first,
                last_name=last,
                email=f"{local}.{emp_id}@example.com",
                department=department,
                salary=f"{salary:.2f}",
                hire_date=hire.isoformat(),
                created_at=created.strftime("%Y-%m-%d %H:%M:%S.%f"),
                updated_at=created.strftime("%Y-%m-%d %H:%M:%S.%f"),
                planted_anomaly=planted,
            )
        )
    return result


def dms_record(
    row: dict[str, Any],
    operation: str,
    commit_ts: datetime,
    transaction_id: int | None = None,
    schema: str = "public",
    table: str = "employees",
) -> dict[str, Any]:
    """One record as DMS writes it to Kinesis (metadata of the DMS record envelope)."""
    metadata: dict[str, Any] = {
        "timestamp": commit_ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "record-type": "data",
        "operation": operation,
        "partition-key-type": "primary-key",
        "partition-key-value": f"{schema}.{table}.{row.get('id')}",
        "schema-name": schema,
        "table-name": table,
    }
    if operation != "load":
        metadata["transaction-id"] = transaction_id if transaction_id is not None else 0
        metadata["commit-timestamp"] = metadata["timestamp"]
    return {"data": row, "metadata": metadata}


def control_record(commit_ts: datetime, operation: str = "create-table") -> dict[str, Any]:
    return {
        "control": {"table-def": {"columns": {}}},
        "metadata": {
            "timestamp": commit_ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "record-type": "control",
            "operation": operation,
            "partition-key-type": "task-id",
            "schema-name": "public",
            "table-name": "employees",
        },
    }


def cdc_stream(people: Iterable[Employee], start: datetime, seed: int = 7) -> Iterator[dict[str, Any]]:
    """A full load of ``people`` then CDC: some updates (raises) and deletes, in commit order."""
    rng = random.Random(seed)
    people = list(people)
    ts = start
    yield control_record(ts)
    for person in people:
        yield dms_record(person.row(), "load", ts)
    txid = 1000
    for person in people:
        roll = rng.random()
        if roll < 0.10:
            ts += timedelta(seconds=rng.randint(1, 30))
            txid += 1
            row = person.row() | {"salary": f"{float(person.salary) * 1.05:.2f}", "updated_at": ts.isoformat(" ")}
            yield dms_record(row, "update", ts, txid)
        elif roll < 0.13:
            ts += timedelta(seconds=rng.randint(1, 30))
            txid += 1
            keys_only = {k: (v if k == "id" else None) for k, v in person.row().items()}
            yield dms_record(keys_only, "delete", ts, txid)


def render(records: Iterable[dict[str, Any]], message_format: str = "json-unformatted") -> bytes:
    """Records as Firehose concatenates them: one per line, or pretty JSON with no delimiter."""
    if message_format == "json-unformatted":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    if message_format == "json":
        return "".join(json.dumps(r, ensure_ascii=False, indent=4) for r in records).encode()
    raise ValueError(f"unknown DMS message format {message_format!r}")
