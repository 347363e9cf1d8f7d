"""Executions (runs) as the API returns them, and a page of them."""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import Field

from scheduler_core.schemas.base import CamelModel
from scheduler_core.schemas.pages import Page


class ScheduledJobExecutionResponse(CamelModel):
    """One run: every field of the reference's `ScheduledJobExecution`, plus why it exists and how it ended."""

    id: int
    job_id: int
    execution_id: str
    scheduled_at: datetime = Field(description="The slot the run is for (a retry keeps its slot's).")
    started_at: datetime | None = Field(
        description="When the task function began (recorded with the outcome; while the run is running, when it "
        "was due to begin: the later of its claim and its slot). Null if it never started."
    )
    completed_at: datetime | None = Field(
        description="When the outcome was recorded, by the database's clock: the task's end plus the outcome's "
        "write (batched: up to about 20 ms later)."
    )
    duration_ms: int | None = Field(description="How long the task function ran, measured by its executor.")
    status_id: int
    status_name: str
    error_message: str | None = Field(
        description="Why the run failed, was missed, skipped or cancelled, or why it is waiting."
    )
    error_traceback: str | None
    result_summary: str | None
    executor_id: str = Field(description="Instance that ran it; empty while nobody has claimed it.")
    host_name: str
    trigger: str = Field(description="'schedule', 'manual' (run now, or a re-run) or 'backfill'.")
    coalesced_count: int = Field(description="Slots this run stands for (more than 1 when coalesced).")
    coalesced_from: datetime | None = Field(description="Earliest slot folded into this run, when coalesced.")
    created_at: datetime
    attempt: int = Field(description="1-based: a retry of a failed attempt is the slot's next attempt.")
    first_execution_id: str = Field(description="The slot's first attempt (this run's own id on a first attempt).")
    retried_by: str | None = Field(
        description="The attempt that followed this failed one; null on the slot's final attempt."
    )
    claimed_at: datetime | None = Field(description="When an executor claimed the run (it may wait for its slot).")
    queued_at: datetime | None = Field(description="When the run started waiting for a free place (overlap policy).")
    release_at: datetime | None = Field(
        description="A waiting run: when it is due to go out (a retry's delay); null while it waits for a place."
    )
    rerun_of: str | None = Field(description="The finished run this manual run runs again.")
    cancel_requested_at: datetime | None = Field(description="When someone asked to cancel the run.")
    cancelled_by: str | None = Field(description="Who asked: a user, or the run that replaced it.")


class ScheduledJobExecutionPage(Page[ScheduledJobExecutionResponse]):
    """A page of runs, newest slot first (scheduledAt, then id, descending).

    Two ways to page: `page` numbers (the reference's: page N skips the N - 1 pages before it, so a deep page costs
    reading them all), or `cursor`: pass the previous answer's `nextCursor` to get the page after it, at the same
    cost at any depth, and without a run listed twice or skipped while runs are being written (a run written
    meanwhile appears if its slot is later in the order than the cursor). Every answer has both."""

    total: int = Field(
        description="Runs matching the filters, over all pages: counted exactly up to 10,000; past that the database "
        "may estimate it (then totalIsEstimate is true)."
    )
    total_is_estimate: bool = Field(description="`total` (and so totalPages) is the database's estimate, not a count.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same filters and perPage) for the next page; null on the last page.",
        examples=["63865497600000000.1234.2"],
    )

    @classmethod
    def listing(
        cls,
        items: list[ScheduledJobExecutionResponse],
        *,
        total: int,
        total_is_estimate: bool,
        page: int,
        per_page: int,
        next_cursor: str | None,
    ) -> ScheduledJobExecutionPage:
        return cls(
            items=items,
            total=total,
            total_is_estimate=total_is_estimate,
            page=page,
            per_page=per_page,
            total_pages=math.ceil(total / per_page),
            next_cursor=next_cursor,
        )
