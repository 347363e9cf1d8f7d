"""History cleanup: delete finished executions older than N days (and audit entries past their own retention)."""

from __future__ import annotations

from typing import Final

from pydantic import Field

from scheduler_core.schemas.base import CamelModel, CamelRequest

# A century; anything longer is "keep everything" and would overflow date arithmetic.
MAX_RETENTION_DAYS: Final = 36_500


class CleanupRequest(CamelRequest):
    retention_days: int = Field(
        default=30, ge=0, le=MAX_RETENTION_DAYS, description="Keep executions created in the last N days."
    )


class CleanupResponse(CamelModel):
    deleted_count: int = Field(description="Finished executions deleted.")
    deleted_audit_count: int = Field(
        description="Audit entries deleted: those older than SCHEDULER_AUDIT_RETENTION_DAYS (default 365)."
    )
    message: str = Field(examples=["Cleaned up 1500 execution records older than 30 days"])
