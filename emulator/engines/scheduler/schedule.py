"""EventBridge schedule expressions, evaluated as AWS does (pure functions of the scheduler engine).

https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
- ``rate(value unit)``: value a positive integer, unit ``minute|hour|day`` when
  value is 1, ``minutes|hours|days`` otherwise; the first run is one period
  after the rule was created (or enabled), then every period.
- ``cron(minutes hours day-of-month month day-of-week year)``, UTC: one of
  day-of-month / day-of-week must be ``?``; day-of-week 1-7 is SUN-SAT (or
  SUN..SAT names); wildcards ``, - * / ? L W #`` (``L`` in day-of-month: last
  day; ``nL`` in day-of-week: last <n> of the month; ``nW``: weekday nearest
  to day n; ``n#k``: k-th <n> of the month); year 1970-2199.
croniter (7.0) evaluates the first five fields once translated (``?`` -> ``*``,
day-of-week numbers minus one); the year field is filtered here.
Not supported (ValueError): ``LW`` in day-of-month, ``L`` with an offset
(``L-3``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_YEARS = (1970, 2199)


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule expression; ``next_after`` gives the next run strictly after a time."""

    expression: str
    period: timedelta | None = None  # rate()
    cron: str | None = None  # croniter's five fields
    years: str = "*"  # AWS's year field

    def next_after(self, after: datetime, anchor: datetime | None = None) -> datetime | None:
        """The next run after ``after`` (UTC); a rate counts whole periods from ``anchor`` (creation/enable time)."""
        after = after.astimezone(UTC)
        if self.period is not None:
            anchor = (anchor or after).astimezone(UTC)
            if after < anchor + self.period:
                return anchor + self.period
            periods = int((after - anchor) / self.period) + 1
            return anchor + periods * self.period
        return _cron_next(self.cron or "", self.years, after)


def parse(expression: str) -> Schedule:
    """Parse ``rate(...)`` or ``cron(...)`` as EventBridge accepts it (ValueError otherwise)."""
    expression = expression.strip()
    rate = _RATE.match(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise ValueError(f"invalid rate expression {expression!r}: rate(1 minute) or rate(N minutes), N > 1")
        return Schedule(expression, period=timedelta(seconds=value * _UNIT_SECONDS[unit.rstrip("s")]))
    if expression.startswith("cron(") and expression.endswith(")"):
        fields = expression[5:-1].split()
        if len(fields) != 6:
            raise ValueError(f"invalid cron expression {expression!r}: six fields (min hour dom month dow year)")
        minutes, hours, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ValueError(f"invalid cron expression {expression!r}: exactly one of day-of-month/day-of-week is ?")
        if "LW" in dom.upper() or re.search(r"L-\d", dom.upper()):
            raise ValueError(f"cron day-of-month {dom!r} is not supported by the emulator")
        five = " ".join([minutes, hours, dom.replace("?", "*"), month, _day_of_week(dow.replace("?", "*"))])
        if not croniter.is_valid(five):
            raise ValueError(f"invalid cron expression {expression!r}")
        _year_allows(year, 2000)  # validates the field
        return Schedule(expression, cron=five, years=year)
    raise ValueError(f"invalid schedule expression {expression!r}: rate(...) or cron(...)")


def _aws_day(day: str) -> str:
    """AWS day-of-week number (1 = SUN) to croniter's (0 = SUN); names unchanged."""
    if day.isdigit():
        if not 1 <= int(day) <= 7:
            raise ValueError(f"day-of-week {day} out of 1-7")
        return str(int(day) - 1)
    return day


def _day_of_week(field: str) -> str:
    parts = []
    for part in field.split(","):
        part, _, step = part.partition("/")
        step = f"/{step}" if step else ""
        upper = part.upper()
        if upper == "L":  # last day of the week: Saturday
            parts.append("6" + step)
        elif upper.endswith("L"):  # nL: last <n> of the month
            parts.append(f"L{_aws_day(part[:-1])}")
        elif "#" in part:
            day, nth = part.split("#", 1)
            parts.append(f"{_aws_day(day)}#{nth}")
        elif "-" in part:
            first, last = part.split("-", 1)
            parts.append(f"{_aws_day(first)}-{_aws_day(last)}{step}")
        else:
            parts.append(_aws_day(part) + step)
    return ",".join(parts)


def _year_allows(field: str, year: int) -> bool:
    for part in field.split(","):
        part, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if part == "*":
            first, last = _YEARS
        elif "-" in part:
            first, last = (int(x) for x in part.split("-", 1))
        else:
            first = int(part)
            last = _YEARS[1] if step_text else first
        if first < _YEARS[0] or last > _YEARS[1]:
            raise ValueError(f"year {part} out of {_YEARS[0]}-{_YEARS[1]}")
        if first <= year <= last and (year - first) % step == 0:
            return True
    return False


def _cron_next(five: str, years: str, after: datetime) -> datetime | None:
    start = after
    while start.year <= _YEARS[1]:
        if not _year_allows(years, start.year):
            allowed = next((y for y in range(start.year + 1, _YEARS[1] + 1) if _year_allows(years, y)), None)
            if allowed is None:
                return None
            start = datetime(allowed, 1, 1, tzinfo=UTC) - timedelta(seconds=1)
        candidate = croniter(five, start).get_next(datetime).astimezone(UTC)
        if _year_allows(years, candidate.year):
            return candidate
        start = datetime(candidate.year, 1, 1, tzinfo=UTC)  # a year not allowed: look from its start
    return None
