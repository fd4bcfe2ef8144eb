"""Random CDC workloads for the end-to-end tests: transactions of inserts, updates and deletes."""

from __future__ import annotations

import random
from decimal import Decimal

import psycopg

DEPARTMENTS = ("Engineering", "Sales", "HR", "Finance", "Marketing", "Operations")


def _insert(cur: psycopg.Cursor, rng: random.Random, tag: str, n: int) -> int:
    cur.execute(
        "INSERT INTO public.employees (first_name, last_name, email, department, salary, hire_date)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (
            rng.choice(("Ana", "Bo", "Chen", "Dara", "Émile", "Farah", "O'Neil")),
            rng.choice(("Smith", "Nguyen", "Müller", "García", "Okafor", "")),
            f"{tag}.{n}@example.com",
            rng.choice(DEPARTMENTS),
            Decimal(rng.randrange(3_000_000, 20_000_000)) / 100,
            f"20{rng.randrange(10, 26)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        ),
    )
    return cur.fetchone()[0]


def run(conn: psycopg.Connection, transactions: int, seed: int, tag: str) -> dict[str, int]:
    """Run ``transactions`` random transactions (1-40 changes each); returns the counts of each operation.

    Some transactions change one key several times; some change a primary key.
    """
    rng = random.Random(seed)
    counts = {"insert": 0, "update": 0, "delete": 0, "key_change": 0}
    n = 0
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM public.employees")
        ids = [row[0] for row in cur.fetchall()]
        for _ in range(transactions):
            with conn.transaction():
                for _ in range(rng.randint(1, 40)):
                    roll = rng.random()
                    if roll < 0.45 or len(ids) < 5:
                        n += 1
                        ids.append(_insert(cur, rng, f"{tag}{seed}", n))
                        counts["insert"] += 1
                    elif roll < 0.85:
                        victim = rng.choice(ids)
                        for _ in range(rng.choice((1, 1, 1, 3))):  # sometimes one key several times
                            cur.execute(
                                "UPDATE public.employees SET salary = salary + %s, department = %s WHERE id = %s",
                                (Decimal(rng.randrange(-50000, 50000)) / 100 + 1000, rng.choice(DEPARTMENTS), victim),
                            )
                            counts["update"] += 1
                    elif roll < 0.97:
                        victim = ids.pop(rng.randrange(len(ids)))
                        cur.execute("DELETE FROM public.employees WHERE id = %s", (victim,))
                        counts["delete"] += 1
                    else:
                        old = ids.pop(rng.randrange(len(ids)))
                        new = old + 10_000_000  # far above the id sequence, so inserts never collide
                        cur.execute("UPDATE public.employees SET id = %s WHERE id = %s", (new, old))
                        ids.append(new)
                        counts["key_change"] += 1
    return counts
