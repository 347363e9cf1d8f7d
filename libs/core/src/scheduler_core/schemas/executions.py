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
    scheduled_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: int | None
    status_id: int
    status_name: str
    error_message: str | None = Field(description="Why the run failed, was missed or was skipped.")
    error_traceback: str | None
    result_summary: str | None
    executor_id: str = Field(description="Instance that ran it; empty while nobody has claimed it.")
    host_name: str
    trigger: str = Field(description="'schedule' or 'manual'.")
    coalesced_count: int = Field(description="Slots this run stands for (more than 1 when coalesced).")
    coalesced_from: datetime | None = Field(description="Earliest slot folded into this run, when coalesced.")
    created_at: datetime


class ScheduledJobExecutionPage(Page[ScheduledJobExecutionResponse]):
    """A page of runs, newest first."""
