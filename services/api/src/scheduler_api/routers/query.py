"""Path and query parameters shared by the routers: ids, paging, filters, all read strictly.

A query string is text, so numbers and booleans are parsed from it, but only in their plain spelling: an integer
is decimal digits, with at most a zero fraction as JSON writes some integers ("5", "5.0"; not "+5", " 5", "5_000"
or "5.5"), a boolean "true" or "false" (not "1", "yes" or "on"). What a client means by anything else is a guess
the API does not make."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

from fastapi import Path, Query
from pydantic import BeforeValidator

from scheduler_core.schemas import DB_INT_MAX, DEFAULT_PER_PAGE, MAX_PER_PAGE
from scheduler_core.schemas.base import Instant
from scheduler_core.schemas.cursors import (
    CURSOR_MAX_LENGTH,
    CURSOR_PATTERN,
    LEGACY_CURSOR_MAX_LENGTH,
    LEGACY_CURSOR_PATTERN,
)

_DECIMAL: Final = re.compile(r"(0|[1-9][0-9]{0,18})(?:\.0+)?")
_BOOLEANS: Final = {"true": True, "false": False}


def _decimal(value: Any) -> Any:
    if isinstance(value, str):
        match = _DECIMAL.fullmatch(value)
        if match is None:
            raise ValueError("must be a whole number written in decimal digits")
        return match.group(1)
    return value


def _boolean(value: Any) -> Any:
    if isinstance(value, str):
        if value not in _BOOLEANS:
            raise ValueError("must be true or false")
        return _BOOLEANS[value]
    return value


# Put after Path()/Query() in an Annotated (FastAPI then still writes their bounds as minimum/maximum).
DECIMAL = BeforeValidator(_decimal)
BOOLEAN = BeforeValidator(_boolean)

JobId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="The job's id."), DECIMAL]
ExecutionId = Annotated[
    str, Path(min_length=1, max_length=36, pattern=r"^[0-9A-Za-z-]+$", description="The run's executionId.")
]
PageNumber = Annotated[int, Query(ge=1, le=DB_INT_MAX, description="Page number, from 1."), DECIMAL]
PerPage = Annotated[
    int, Query(ge=1, le=MAX_PER_PAGE, description=f"Items per page (default {DEFAULT_PER_PAGE})."), DECIMAL
]
StatusFilter = Annotated[
    int | None, Query(ge=1, le=DB_INT_MAX, description="Only executions with this status id."), DECIMAL
]
JobFilter = Annotated[int | None, Query(ge=1, le=DB_INT_MAX, description="Only runs of this job."), DECIMAL]
TriggerFilter = Annotated[
    Literal["schedule", "manual", "backfill"] | None,
    Query(description="Only runs with this trigger: schedule, manual (run now, re-run) or backfill."),
]
SlotsFrom = Annotated[
    Instant | None,
    Query(
        alias="from",
        description="Only runs whose slot (scheduledAt) is at or after this instant: ISO 8601 with an offset, e.g. "
        "2027-03-27T00:00:00Z (in a query string, write + as %2B).",
    ),
]
SlotsTo = Annotated[
    Instant | None,
    Query(description="Only runs whose slot (scheduledAt) is before this instant; must be later than `from`."),
]
_CURSOR_PAGING = (
    "Keyset paging: the same cost at any depth, and nothing listed twice or skipped while rows are written. The "
    "answer's page number is the cursor's; `page` is ignored with a cursor."
)
Cursor = Annotated[
    str | None,
    Query(
        pattern=CURSOR_PATTERN,
        max_length=CURSOR_MAX_LENGTH,
        description=f"The previous page's nextCursor: the page after it. {_CURSOR_PAGING}",
    ),
]
# The audit endpoints also read the audit cursors of earlier versions (scheduler_core.schemas.cursors).
AuditCursor = Annotated[
    str | None,
    Query(
        min_length=1,
        pattern=LEGACY_CURSOR_PATTERN,
        max_length=LEGACY_CURSOR_MAX_LENGTH,
        description=f"The previous page's nextCursor: the page after it. {_CURSOR_PAGING}",
    ),
]
