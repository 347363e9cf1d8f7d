"""The audit trail as the API returns it: who changed what, when and from where, in pages (numbered, or by cursor)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from scheduler_core.schemas.base import CamelModel

# scheduler_core.store.AuditAction's values (tests/unit/test_audit_schema.py keeps the two equal).
AuditActionName = Literal[
    "create",
    "update",
    "delete",
    "enable",
    "disable",
    "pause",
    "resume",
    "trigger",
    "cancel",
    "rerun",
    "backfill",
    "cleanup",
]


class AuditChange(CamelModel):
    before: Any = Field(description="The value before the change (null: none).")
    after: Any = Field(description="The value after it.")


class AuditEntryResponse(CamelModel):
    """One change."""

    id: int
    occurred_at: datetime = Field(description="When the change was made, by the database's clock.")
    actor_subject: str | None = Field(description="The token's `sub` (null: the scheduler itself, or no `sub`).")
    actor_name: str | None = Field(
        description="The caller's display name: the SCHEDULER_AUDIT_NAME_CLAIM claim, else preferred_username, "
        "else email."
    )
    action: AuditActionName
    job_id: int | None = Field(description="The job changed, if any (the job may have been deleted since).")
    target: str | None = Field(
        description="What the action wrote or acted on besides the job: the execution id of a trigger, cancel or "
        "re-run, the range of a backfill, the retention of a cleanup."
    )
    changes: dict[str, AuditChange] | None = Field(
        description="Changed fields by their API name, each with its value before and after (secrets in a job's "
        "parameters, such as an Authorization header, are shown as [redacted]); null when none changed."
    )
    client_address: str | None = Field(description="The client's address (behind a trusted gateway: the real one).")
    request_id: str | None = Field(description="The request's X-Request-ID (a scheduled cleanup: its execution id).")


class AuditPage(CamelModel):
    """Newest first. Page through with `page`, or with `cursor` set to the last page's `nextCursor`, which stays
    put while changes are recorded."""

    items: list[AuditEntryResponse]
    total: int = Field(description="Entries matching the filters, over all pages.")
    page: int | None = Field(
        description="This page's number, from 1 (by cursor: the cursor's; null for an audit cursor of an earlier "
        "version, which holds none)."
    )
    per_page: int
    total_pages: int
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
