"""The cron grammar and zone list the schema states (scheduler_core.schedule.grammar): every expression the pattern
matches is one the scheduler accepts and that fires, so a client that follows the schema is never refused; the
pattern leaves out the expressions that never fire; the zones are the pinned tzdata's, the same on every host."""

from __future__ import annotations

import re
import zoneinfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler_core.schedule import build_schedule
from scheduler_core.schedule.grammar import CRON_PATTERN, TIME_ZONES, ZONE_PATTERN, is_accepted_cron, is_known_zone
from scheduler_core.schemas import ScheduledJobCreate, SchedulePreviewRequest
from scheduler_core.schemas.jobs import CRON_MAX_LENGTH

# Generated expressions per run; the pattern is large and generating from it costs about 10 ms an example.
EXAMPLES = 300


def schedule_of(expression: str) -> object:
    return build_schedule(
        interval_seconds=None,
        interval_minutes=None,
        interval_hours=None,
        interval_days=None,
        cron_expression=expression,
        timezone="UTC",
    )


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.from_regex(CRON_PATTERN).filter(lambda expression: len(expression) <= CRON_MAX_LENGTH))
def test_every_expression_the_pattern_matches_is_valid_and_fires(expression: str) -> None:
    assert is_accepted_cron(expression)
    schedule_of(expression)  # raises ScheduleError for an invalid or never-firing expression


@pytest.mark.parametrize(
    "expression",
    [
        "0 2 * * *",
        "*/5 * * * *",
        "30 6 * * 1-5",
        "0 0 1 JAN,jul *",
        "15 14 1 * sun",
        "0 0 29 2 *",  # every four years
        "0 0 30 1-12 *",
        "0 0 31 12-1 *",
        "0 0 31 2 1",  # February 31 or any Monday of February
        "0\t0 * * *",
        " @daily ",
        "@HOURLY",
        "0 9-17/2 * * MON-FRI",
    ],
)
def test_standard_expressions_are_accepted(expression: str) -> None:
    assert is_accepted_cron(expression)
    schedule_of(expression.strip())


@pytest.mark.parametrize(
    "expression",
    [
        "0 0 30 2 *",  # never fires
        "0 0 31 4 *",
        "0 0 30,31 2 *",
        "0 0 31 2 *,1",  # a "*" among the weekdays: the days of the month decide
        "61 * * * *",
        "0 24 * * *",
        "0 0 0 * *",
        "0 0 * 13 *",
        "0 0 * * 8",
        "*/0 * * * *",
        "0 0 L * *",  # croniter's extensions are not standard cron
        "0 0 * * 1#2",
        "0 0 ? * *",
        "0 0 * * * 2030",
        "@reboot",
        "0 0 * * *\n0 1 * * *",
    ],
)
def test_invalid_never_firing_and_non_standard_expressions_are_outside_the_pattern(expression: str) -> None:
    assert not is_accepted_cron(expression)


def test_the_zones_are_the_pinned_tzdata_list() -> None:
    assert len(TIME_ZONES) > 500
    assert {"UTC", "Europe/Berlin", "Asia/Riyadh", "America/Argentina/Buenos_Aires"} <= set(TIME_ZONES)
    assert not is_known_zone("localtime")  # the host's own setting, not an IANA zone
    assert not is_known_zone("Mars/Olympus")
    for name in TIME_ZONES:
        zoneinfo.ZoneInfo(name)  # every listed zone loads


@pytest.mark.parametrize("model", [ScheduledJobCreate, SchedulePreviewRequest])
def test_the_schema_states_the_schedule_rules(model: type[ScheduledJobCreate]) -> None:
    schema = model.model_json_schema()
    properties = schema["properties"]

    cron, interval = schema["oneOf"]
    assert cron["required"] == ["cronExpression"]
    assert all(cron["properties"][name] == {"type": "null"} for name in ("intervalSeconds", "intervalDays"))
    assert interval["properties"]["cronExpression"] == {"type": "null"}
    assert [variant["properties"] for variant in interval["anyOf"]] == [
        {name: {"type": "integer", "minimum": 1}}
        for name in ("intervalSeconds", "intervalMinutes", "intervalHours", "intervalDays")
    ]
    assert properties["cronExpression"]["anyOf"][0]["pattern"] == CRON_PATTERN
    assert properties["timezone"]["$ref"].endswith("/TimeZone")
    assert schema["$defs"]["TimeZone"]["pattern"] == ZONE_PATTERN
    zones = re.compile(ZONE_PATTERN)
    assert all(zones.search(name) for name in TIME_ZONES)
    assert not any(zones.search(name) for name in ("Mars/Olympus", "localtime", "Europe/Berlinx", "europe/berlin", ""))
    # Four fields of 25 years at most: their sum never passes the 100-year bound of a period.
    maxima = [properties[name]["anyOf"][0]["maximum"] for name in ("intervalSeconds", "intervalMinutes")]
    maxima += [properties[name]["anyOf"][0]["maximum"] for name in ("intervalHours", "intervalDays")]
    assert maxima[0] + maxima[1] * 60 + maxima[2] * 3_600 + maxima[3] * 86_400 == 36_500 * 86_400
