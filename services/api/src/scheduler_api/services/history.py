"""History: runs of one job, or of every job, filtered, newest slot first, paged by number or by cursor."""

from __future__ import annotations

from scheduler_api.errors import InvalidInput
from scheduler_api.services.context import ServiceContext, job_not_found
from scheduler_api.services.responses import execution_response
from scheduler_core.schemas import FieldError, ScheduledJobExecutionPage
from scheduler_core.schemas.cursors import PageCursor
from scheduler_core.store import ExecutionFilters, SlotPosition


class HistoryService:
    def __init__(self, context: ServiceContext) -> None:
        self._sessionmaker = context.sessionmaker
        self._store = context.store

    async def page(
        self, filters: ExecutionFilters, *, page: int, per_page: int, cursor: str | None, of_job: bool = False
    ) -> ScheduledJobExecutionPage:
        """A page of the runs matching `filters`: page number `page`, or with a cursor (a previous page's
        nextCursor) the page after that one, numbered by the cursor (`page` is then ignored). of_job: the history
        of filters.job_id, which must exist (deleted jobs keep their history, and it stays readable here)."""
        problems = []
        if filters.scheduled_from and filters.scheduled_to and filters.scheduled_to <= filters.scheduled_from:
            problems.append(FieldError(field="to", reason="must be later than `from`"))
        after = None
        if cursor is not None:
            try:
                opened = PageCursor.decode(cursor)
            except ValueError as exc:
                problems.append(FieldError(field="cursor", reason=str(exc)))
            else:
                after = SlotPosition(opened.at, opened.id)
                page = page if opened.page is None else opened.page  # never None: no legacy form here
        if problems:
            raise InvalidInput(problems)
        async with self._sessionmaker() as session:
            job_id = filters.job_id
            if (
                of_job
                and job_id is not None
                and await self._store.jobs.get(session, job_id, include_deleted=True) is None
            ):
                raise job_not_found(job_id)
            offset = 0 if after is not None else (page - 1) * per_page
            found = await self._store.history.page(session, filters, per_page=per_page, after=after, offset=offset)
            items = [execution_response(execution) for execution in found.executions]
        following = found.next_after
        next_cursor = None if following is None else PageCursor(following.scheduled_at, following.id, page + 1).encode()
        return ScheduledJobExecutionPage.listing(
            items,
            total=found.total,
            total_is_estimate=found.total_is_estimate,
            page=page,
            per_page=per_page,
            next_cursor=next_cursor,
        )
