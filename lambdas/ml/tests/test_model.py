"""The salary model's pure core."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from smartstream_ml import model, synthetic


def observations(people):
    return [
        model.Observation(
            p.id, p.department, model.tenure_years(date.fromisoformat(p.hire_date), synthetic.AS_OF), float(p.salary)
        )
        for p in people
    ]


def test_training_on_generated_data_finds_the_planted_anomalies():
    people = synthetic.employees(4000, seed=21)
    fitted = model.fit(observations(people))

    measured = model.quality(fitted, observations(people), {p.id: p.planted_anomaly for p in people})

    assert sum(p.planted_anomaly for p in people) > 50
    assert measured["precision"] >= 0.9
    assert measured["recall"] >= 0.9


def test_the_model_generalises_to_unseen_employees():
    fitted = model.fit(observations(synthetic.employees(4000, seed=21)))
    holdout = synthetic.employees(2000, seed=22, start_id=10_000)

    measured = model.quality(fitted, observations(holdout), {p.id: p.planted_anomaly for p in holdout})

    assert measured["precision"] >= 0.9 and measured["recall"] >= 0.9


def test_expected_salary_follows_department_and_tenure():
    fitted = model.fit(observations(synthetic.employees(3000, seed=5, anomaly_rate=0)))

    junior, _, _ = fitted.score("Engineering", 1.0, 100_000)
    senior, _, _ = fitted.score("Engineering", 10.0, 100_000)
    support, _, _ = fitted.score("Support", 10.0, 100_000)

    assert senior > junior
    assert support < senior
    assert abs(junior - synthetic.expected_salary("Engineering", 1.0)) / junior < 0.05


def test_one_extreme_salary_in_a_small_department_is_the_only_anomaly():
    # make demo's Engineering department (tenure, salary) and its injected 1,200: the
    # first least-squares line is pulled far towards the outlier, so every typical
    # salary sits off it; the refit without the outlier must still happen.
    engineering = [
        (4.86, 98000.0), (11.899, 85000.0), (5.385, 92514.0), (9.864, 100028.0), (3.354, 87542.0),
        (7.833, 95056.0), (11.398, 102570.0), (5.875, 90084.0), (9.363, 97598.0), (3.844, 85112.0),
    ]  # fmt: skip
    people = [model.Observation(i, "Engineering", t, s) for i, (t, s) in enumerate(engineering)]
    people.append(model.Observation(99, "Engineering", 7.365, 1_200.0))
    fitted = model.fit(people, min_department_rows=10)

    flagged = {o.id for o in people if fitted.score(o.department, o.tenure_years, o.salary)[2]}

    assert flagged == {99}
    assert 85_000 < fitted.score("Engineering", 7.0, 1.0)[0] < 100_000


def test_unknown_or_small_department_uses_the_line_over_everyone():
    fitted = model.fit(observations(synthetic.employees(500, seed=5)))

    assert fitted.line_for("Astronauts") == fitted.lines[model.GLOBAL]
    assert fitted.line_for(None) == fitted.lines[model.GLOBAL]


def test_too_little_data_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="at least 3 employees"):
        model.fit([model.Observation(1, "HR", 1.0, 50_000)])


def test_model_survives_its_json_form():
    fitted = model.fit(observations(synthetic.employees(300, seed=2)), trained_at=datetime(2026, 11, 24, tzinfo=UTC))

    again = model.SalaryModel.from_json(fitted.to_json())

    assert again == fitted
    assert again.version.startswith("20261124T000000Z-")
    assert again.score("HR", 3.0, 61_000) == fitted.score("HR", 3.0, 61_000)


def test_current_state_takes_the_latest_row_per_id_and_drops_deletes():
    t0, t1, t2 = (datetime(2026, 11, 24, h, tzinfo=UTC) for h in (1, 2, 3))
    rows = [
        {"id": 1, "salary": 10, "_op": "load", "_commit_ts": t0, "_record_seq": 1},
        {"id": 2, "salary": 20, "_op": "load", "_commit_ts": t0, "_record_seq": 2},
        {"id": 1, "salary": 11, "_op": "update", "_commit_ts": t1, "_record_seq": 3, "_transaction_id": "5"},
        {"id": 2, "salary": None, "_op": "delete", "_commit_ts": t2, "_record_seq": 4, "_transaction_id": "6"},
        {"id": 3, "salary": 30, "_op": "insert", "_commit_ts": t2, "_record_seq": 5, "_transaction_id": "6"},
    ]

    current = {r["id"]: r["salary"] for r in model.current_state(reversed(rows))}

    assert current == {1: 11, 3: 30}


def test_rows_without_salary_or_hire_date_are_not_observations():
    base = {"id": 1, "department": "HR", "salary": 1, "hire_date": date(2020, 1, 1), "_op": "insert"}

    assert model.observation(base, date(2021, 1, 1)).tenure_years == pytest.approx(1.0, abs=0.01)
    assert model.observation(base | {"salary": None}, date(2021, 1, 1)) is None
    assert model.observation(base | {"hire_date": None}, date(2021, 1, 1)) is None
    assert model.observation(base | {"_op": "delete"}, date(2021, 1, 1)) is None


def test_generator_is_deterministic_by_seed():
    assert synthetic.employees(50, seed=4) == synthetic.employees(50, seed=4)
    assert synthetic.employees(50, seed=4) != synthetic.employees(50, seed=5)
