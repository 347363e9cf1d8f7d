"""The cron expressions and time zones the API accepts, written so that a schema can state them exactly.

`CRON_PATTERN` is one regular expression (the OpenAPI schema's `pattern` for cronExpression): five fields of
numbers, names (JAN-DEC, SUN-SAT, any case), `*`, ranges (`a-b`, wrapping when a > b), steps (`*/n`, `a/n`,
`a-b/n`) and lists, or one of the @-aliases, with spaces or tabs between fields. Every expression it matches is
valid and fires (`build_schedule` accepts it); the API refuses the rest. It leaves out croniter's extensions
(`L`, `W`, `#`, `?`, seconds and year fields), and a day-of-month and month that never meet when the day of the
week is `*`: with a `*` among the day-of-week elements, croniter (like cron) fires on the days of the month
alone, so `0 0 31 4 *` (April 31) never fires. The pattern accepts such a pair only where one of its elements
certainly meets the other field: a day up to 29, a day 30 with a month other than February, or any day with
a month of 31 days. Expressions it refuses for that reason although they would fire (the rare `31 4-6` with
day-of-week `*`) get a reason saying so.

`TIME_ZONES` are the IANA zone names of the pinned tzdata package, the same on every host (a host's own zoneinfo
directory may hold more); `ZONE_PATTERN`, which matches exactly those names, is the schema's rule for timezone."""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterable
from typing import Final

# Spellings of one field value: the number (with at most one leading zero below 10), and its names.
_MONTHS: Final = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS: Final = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# Months of 31 days, and February (the only month without a 30th).
_LONG_MONTHS: Final = (1, 3, 5, 7, 8, 10, 12)
_FEBRUARY: Final = 2
# Highest step written: larger steps take one value of any field (croniter accepts them).
_STEP: Final = "[1-9][0-9]{0,2}"
_SEPARATOR: Final = r"[ \t]+"
_ALIASES: Final = ("yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly")


def _any_case(word: str) -> str:
    return "".join(f"[{char.upper()}{char.lower()}]" if char.isalpha() else re.escape(char) for char in word)


def _numbers(values: Iterable[int]) -> list[str]:
    spelled = []
    for value in values:
        spelled.append(str(value))
        if value < 10:
            spelled.append(f"0{value}")
    return spelled


def _alternatives(spellings: Iterable[str]) -> str:
    # Longest first, so that "30" is tried before "3".
    return "(?:" + "|".join(sorted(set(spellings), key=lambda text: (-len(text), text))) + ")"


def _values(low: int, high: int, names: tuple[str, ...] = (), *, first_name: int = 0, only: Iterable[int] = ()) -> str:
    """Spellings of the values `only` (default: low..high), with the names of those that have one."""
    chosen = list(only) or list(range(low, high + 1))
    spelled = _numbers(chosen)
    spelled += [_any_case(names[value - first_name]) for value in chosen if 0 <= value - first_name < len(names)]
    return _alternatives(spelled)


def _element(first: str, any_value: str) -> str:
    """An element starting with a value spelled by `first`: the value, a range from it, a step from it."""
    return f"{first}(?:-{any_value})?(?:/{_STEP})?"


def _star() -> str:
    return rf"\*(?:/{_STEP})?"


def _list(element: str, *, containing: str | None = None) -> str:
    """A comma-separated list of `element`s; with `containing`, at least one element must match it."""
    if containing is None:
        return f"{element}(?:,{element})*"
    return f"(?:{element},)*{containing}(?:,{element})*"


def _cron_pattern() -> str:
    minute = _values(0, 59)
    hour = _values(0, 23)
    day = _values(1, 31)
    month = _values(1, 12, _MONTHS, first_name=1)
    weekday = _values(0, 7, _DAYS)
    minute_list = _list(f"(?:{_star()}|{_element(minute, minute)})")
    hour_list = _list(f"(?:{_star()}|{_element(hour, hour)})")
    day_element = f"(?:{_star()}|{_element(day, day)})"
    month_element = f"(?:{_star()}|{_element(month, month)})"
    weekday_free = _element(weekday, weekday)  # an element that is not a bare "*"
    weekday_element = f"(?:{_star()}|{weekday_free})"

    # Elements that certainly hold: a day up to 29 (every month has one, February 29 every four years);
    # the 30th; a month of 31 days; a month other than February. A range holds both of its ends.
    early_day = f"(?:{_star()}|{_element(_values(1, 29), day)})"
    thirtieth = _element(_values(30, 30), day)
    long_month_value = _values(1, 12, _MONTHS, first_name=1, only=_LONG_MONTHS)
    other_month_value = _values(1, 12, _MONTHS, first_name=1, only=[m for m in range(1, 13) if m != _FEBRUARY])
    long_month = f"(?:{_star()}|{_element(long_month_value, month)}|{month}-{long_month_value})"
    other_month = f"(?:{_star()}|{_element(other_month_value, month)}|{month}-{other_month_value})"

    # With no bare "*" among the day-of-week elements, croniter fires on those weekdays (or the days of the
    # month), so any day-of-month and month do; with one, the days of the month decide.
    restricted_weekday = _list(weekday_free)
    any_weekday = _list(weekday_element)
    dates = "|".join(
        [
            f"{_list(day_element)}{_SEPARATOR}{_list(month_element)}{_SEPARATOR}{restricted_weekday}",
            f"{_list(day_element, containing=early_day)}{_SEPARATOR}{_list(month_element)}{_SEPARATOR}{any_weekday}",
            f"{_list(day_element, containing=thirtieth)}{_SEPARATOR}{_list(month_element, containing=other_month)}"
            f"{_SEPARATOR}{any_weekday}",
            f"{_list(day_element)}{_SEPARATOR}{_list(month_element, containing=long_month)}{_SEPARATOR}{any_weekday}",
        ]
    )
    fields = f"{minute_list}{_SEPARATOR}{hour_list}{_SEPARATOR}(?:{dates})"
    aliases = "@" + _alternatives(_any_case(alias) for alias in _ALIASES)
    return rf"^[ \t]*(?:{aliases}|{fields})[ \t]*$"


CRON_PATTERN: Final = _cron_pattern()
_CRON: Final = re.compile(CRON_PATTERN)


def is_accepted_cron(expression: str) -> bool:
    """The expression is one CRON_PATTERN matches, as JSON Schema validators in Python read a pattern (re.search:
    `$` also matches before a final newline, which the expression's surrounding whitespace then loses)."""
    return _CRON.search(expression) is not None


def _time_zones() -> tuple[str, ...]:
    listing = importlib.resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return tuple(sorted(name for name in listing.split() if name))


TIME_ZONES: Final = _time_zones()
_ZONES: Final = frozenset(TIME_ZONES)
# The zones as the schema states them: a pattern of every name rather than an enum, which a schema tester's
# coverage phase would expand into a request per zone and per schedule kind (thousands of requests).
ZONE_PATTERN: Final = "^(?:" + "|".join(re.escape(name) for name in TIME_ZONES) + ")$"


def is_known_zone(name: str) -> bool:
    return name in _ZONES
