"""The audit trail: every change, and one job's changes, newest first, filtered, by page number or by cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from scheduler_api.dependencies import Audit
from scheduler_api.errors import error_responses
from scheduler_api.routers.query import DECIMAL, AuditCursor, JobId, PageNumber, PerPage
from scheduler_core.schemas import DB_INT_MAX, DEFAULT_PER_PAGE, AuditActionName, AuditPage
from scheduler_core.schemas.base import Instant
from scheduler_core.store import AuditAction, AuditFilters

router = APIRouter(tags=["audit"])

JobFilter = Annotated[int | None, Query(ge=1, le=DB_INT_MAX, description="Only changes of this job."), DECIMAL]
# Visible text without control characters (a NUL could not even be compared in PostgreSQL).
ActorFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=255,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Only changes by this actor: the token's `sub` or the display name, exactly.",
    ),
]
ActionFilter = Annotated[AuditActionName | None, Query(description="Only changes of this kind.")]
FromFilter = Annotated[
    Instant | None, Query(alias="from", description="Only changes at or after this instant (ISO 8601, with offset).")
]
ToFilter = Annotated[
    Instant | None, Query(description="Only changes at or before this instant (ISO 8601, with offset).")
]


def _filters(
    job_id: int | None, actor: str | None, action: AuditActionName | None, from_: datetime | None, to: datetime | None
) -> AuditFilters:
    return AuditFilters(
        job_id=job_id,
        actor=actor,
        action=AuditAction(action) if action is not None else None,
        occurred_from=from_,
        occurred_to=to,
    )


@router.get(
    "/audit",
    response_model=AuditPage,
    responses=error_responses(422),
    summary="Changes to jobs and runs (who, when, from where, what), newest first",
)
async def list_audit(
    service: Audit,
    job_id: JobFilter = None,
    actor: ActorFilter = None,
    action: ActionFilter = None,
    from_: FromFilter = None,
    to: ToFilter = None,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    cursor: AuditCursor = None,
) -> AuditPage:
    filters = _filters(job_id, actor, action, from_, to)
    return await service.list(filters, page=page, per_page=per_page, cursor=cursor)


@router.get(
    "/jobs/{job_id}/audit",
    response_model=AuditPage,
    responses=error_responses(404, 422),
    summary="Changes to one job and its runs, newest first (a deleted job keeps them)",
)
async def list_job_audit(
    job_id: JobId,
    service: Audit,
    actor: ActorFilter = None,
    action: ActionFilter = None,
    from_: FromFilter = None,
    to: ToFilter = None,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    cursor: AuditCursor = None,
) -> AuditPage:
    filters = _filters(job_id, actor, action, from_, to)
    return await service.list_for_job(job_id, filters, page=page, per_page=per_page, cursor=cursor)
