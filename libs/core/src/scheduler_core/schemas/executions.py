"""Executions (runs) as the API returns them, and a page of them."""

from __future__ import annotations

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
    """A page of runs, newest first."""
