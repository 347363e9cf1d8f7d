"""History cleanup on request: old finished executions, and audit rows older than SCHEDULER_AUDIT_RETENTION_DAYS."""

from __future__ import annotations

import structlog

from scheduler_api.errors import Conflict
from scheduler_api.services.context import ServiceContext
from scheduler_core.retention import CleanupRunning, cleanup_entry, purge_deliveries, purge_history
from scheduler_core.schemas import CleanupResponse
from scheduler_core.store import Actor

log = structlog.get_logger(__name__)


class CleanupService:
    def __init__(self, context: ServiceContext) -> None:
        self._sessionmaker = context.sessionmaker
        self._store = context.store
        self._audit_retention_days = context.config.audit_retention_days

    async def cleanup_history(self, actor: Actor, retention_days: int = 30) -> CleanupResponse:
        """Delete finished executions created more than retention_days ago (open runs are kept): on PostgreSQL the
        days whose runs have all expired are dropped whole, the rest deleted in batches. Then audit rows older than
        the audit retention; audited with the first step that deletes anything. Done notification deliveries older
        than retention_days go too (not counted in the response). Conflict while another cleanup runs."""
        audit_days = self._audit_retention_days
        try:
            purged = await purge_history(
                self._sessionmaker,
                self._store,
                retention_days,
                audit_retention_days=audit_days,
                recorded_as=cleanup_entry(actor, retention_days, audit_days),
            )
        except CleanupRunning as running:
            raise Conflict(str(running)) from running
        deliveries = await purge_deliveries(self._sessionmaker, self._store, retention_days)
        log.info(
            "history_cleaned_up",
            deleted=purged.executions,
            deliveries_deleted=deliveries,
            deleted_audit=purged.audit_rows,
            retention_days=retention_days,
            audit_retention_days=audit_days,
            by=actor.subject,
        )
        return CleanupResponse(
            deleted_count=purged.executions,
            deleted_audit_count=purged.audit_rows,
            message=f"Cleaned up {purged.executions} execution records older than {retention_days} days",
        )
