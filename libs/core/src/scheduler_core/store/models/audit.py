"""The audit trail's table (store/audit.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from scheduler_core.store.models.base import Base, BigId, JsonDoc
from scheduler_core.store.types import UTCDateTime


class SchedulerAuditLog(Base):
    """One change made through the API (or by the scheduler's own cleanup): who, when, from where, what.

    Never updated. job_id has no foreign key on purpose: the trail of a job must outlive the job (a foreign key
    would either block deleting the job's row or, with a cascade, delete its trail with it)."""

    __tablename__ = "scheduler_audit_log"
    __table_args__ = (
        # Every list is newest first and pages by (occurred_at, id); each filter has an index in that order.
        Index("ix_scheduler_audit_log_occurred", "occurred_at", "id"),
        Index("ix_scheduler_audit_log_job", "job_id", "occurred_at", "id"),
        Index("ix_scheduler_audit_log_actor_subject", "actor_subject", "occurred_at", "id"),
        Index("ix_scheduler_audit_log_actor_name", "actor_name", "occurred_at", "id"),
        Index("ix_scheduler_audit_log_action", "action", "occurred_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)  # the database clock
    actor_subject: Mapped[str | None] = mapped_column(String(255))  # the token's `sub`
    actor_name: Mapped[str | None] = mapped_column(String(255))  # SCHEDULER_AUDIT_NAME_CLAIM, or a fallback
    action: Mapped[str] = mapped_column(String(20), nullable=False)  # AuditAction
    job_id: Mapped[int | None] = mapped_column(Integer)
    target: Mapped[str | None] = mapped_column(String(255))  # e.g. the execution id an action wrote or cancelled
    # Field (the API's camelCase name) -> {"before": …, "after": …}.
    changes: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    client_address: Mapped[str | None] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(128))
