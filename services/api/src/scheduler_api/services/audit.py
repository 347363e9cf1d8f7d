"""The audit trail: what the other services record (a job's fields before and after, in the API's names), and
the trail as the API lists it, newest first, by page number or by cursor."""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import UTC, datetime
from typing import Any, Final

from scheduler_api.errors import InvalidInput
from scheduler_api.services.context import ServiceContext, job_not_found
from scheduler_core.schemas import AuditEntryResponse, AuditPage, FieldError, ScheduledJobResponse, ScheduledJobUpdate
from scheduler_core.schemas.cursors import PageCursor
from scheduler_core.store import AuditFilters, AuditPosition

# A job's fields whose changes are recorded, by API name: what a request can set, and the state actions change.
# Left out: what follows from them (jobTypeId, scheduleDescription, nextRunAt) and bookkeeping (updatedAt, ...).
AUDITED_JOB_FIELDS: Final = (
    *(field.alias or name for name, field in ScheduledJobUpdate.model_fields.items()),
    "isActive",
    "isPaused",
    "pausedReason",
    "consecutiveFailures",
)
# Keys of a job's parameters (at any depth) whose values the trail does not copy: an Authorization header, an API
# key, a password. The trail still shows that they changed.
_SECRET_KEY: Final = re.compile(r"secret|token|passw|authorization|api[-_]?key|credential|cookie", re.IGNORECASE)
REDACTED: Final = "[redacted]"

Changes = dict[str, dict[str, Any]]


def job_fields(job: ScheduledJobResponse) -> dict[str, Any]:
    """The audited fields of a job, as JSON values."""
    dumped = job.model_dump(mode="json", by_alias=True)
    return {name: dumped[name] for name in AUDITED_JOB_FIELDS}


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> Changes:
    """The fields whose value differs, each as {"before", "after"}; an absent field counts as null (a new job's
    fields are changes from nothing). Secrets in parameters are redacted after the comparison."""
    return {
        name: {"before": _redacted(name, before.get(name)), "after": _redacted(name, value)}
        for name, value in after.items()
        if before.get(name) != value
    }


def _redacted(field: str, value: Any) -> Any:
    if field != "parameters":
        return value
    return _without_secrets(value)


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: REDACTED if _SECRET_KEY.search(key) else _without_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value


class AuditService:
    def __init__(self, context: ServiceContext) -> None:
        self._sessionmaker = context.sessionmaker
        self._store = context.store

    async def list(self, filters: AuditFilters, *, page: int, per_page: int, cursor: str | None) -> AuditPage:
        """A page of entries, newest first: page `page` (from 1), or the page a cursor opens (`page` is then
        ignored: the cursor's is the page's number; unknown, null, for a legacy cursor)."""
        filters = _checked_range(filters)
        after: AuditPosition | None = None
        number: int | None = page
        if cursor is not None:
            try:
                opened = PageCursor.decode(cursor, legacy=True)
            except ValueError as exc:
                raise InvalidInput([FieldError(field="cursor", reason=str(exc))]) from None
            after, number = AuditPosition(opened.at, opened.id), opened.page
        offset = 0 if after is not None else (page - 1) * per_page
        async with self._sessionmaker() as session:
            total = await self._store.audit.count(session, filters)
            # One more than a page, to know whether a next page exists.
            rows = await self._store.audit.page(session, filters, limit=per_page + 1, offset=offset, after=after)
        items, more = rows[:per_page], len(rows) > per_page
        last = items[-1] if items else None
        following = None if number is None else number + 1
        return AuditPage(
            items=[AuditEntryResponse.model_validate(row) for row in items],
            total=total,
            page=number,
            per_page=per_page,
            total_pages=math.ceil(total / per_page),
            next_cursor=PageCursor(last.occurred_at, last.id, following).encode() if more and last else None,
        )

    async def list_for_job(
        self, job_id: int, filters: AuditFilters, *, page: int, per_page: int, cursor: str | None
    ) -> AuditPage:
        """The entries of one job (404 if it never existed; a deleted job keeps its trail)."""
        async with self._sessionmaker() as session:
            if await self._store.jobs.get(session, job_id, include_deleted=True) is None:
                raise job_not_found(job_id)
        return await self.list(filters, page=page, per_page=per_page, cursor=cursor)


def _checked_range(filters: AuditFilters) -> AuditFilters:
    """The filters with from/to in UTC (an instant at the edge of the calendar has none: 422)."""
    instants: dict[str, datetime | None] = {}
    for field, value in (("from", filters.occurred_from), ("to", filters.occurred_to)):
        try:
            instants[field] = None if value is None else value.astimezone(UTC)
        except OverflowError:
            raise InvalidInput([FieldError(field=field, reason="out of range: no such instant in UTC")]) from None
    start, end = instants["from"], instants["to"]
    if start is not None and end is not None and end < start:
        raise InvalidInput([FieldError(field="to", reason="must not be before `from`")])
    return dataclasses.replace(filters, occurred_from=start, occurred_to=end)
