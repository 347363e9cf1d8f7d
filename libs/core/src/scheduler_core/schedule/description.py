"""Schedule descriptions: a schedule in a few English words, for the dashboard and the CLI."""

from __future__ import annotations

from .definition import CronSchedule, Schedule


def describe_schedule(schedule: Schedule) -> str:
    """Short English words for the dashboard and CLI.

    Interval: one unit -> ``"every 30 minutes"``, ``"every 1 hour"``; mixed units ->
    ``"every 1 h 30 min"`` (units d, h, min, s). Cron: ``"cron 0 2 * * * (Europe/Berlin)"``.
    """
    if isinstance(schedule, CronSchedule):
        return f"cron {schedule.expression} ({schedule.timezone})"
    remaining = schedule.period_seconds
    parts: list[tuple[int, str, str]] = []
    for unit_seconds, short, long in (
        (86_400, "d", "day"),
        (3_600, "h", "hour"),
        (60, "min", "minute"),
        (1, "s", "second"),
    ):
        count, remaining = divmod(remaining, unit_seconds)
        if count:
            parts.append((count, short, long))
    if len(parts) == 1:
        count, _short, long = parts[0]
        return f"every {count} {long}{'' if count == 1 else 's'}"
    return "every " + " ".join(f"{count} {short}" for count, short, _long in parts)
