"""History cleanup on request."""

from __future__ import annotations

import structlog

from scheduler_api.services.context import ServiceContext
from scheduler_core.retention import purge_deliveries, purge_history
from scheduler_core.schemas import CleanupResponse

log = structlog.get_logger(__name__)


class CleanupService:
    def __init__(self, context: ServiceContext) -> None:
        self._sessionmaker = context.sessionmaker
        self._store = context.store

    async def cleanup_history(self, retention_days: int = 30) -> CleanupResponse:
        """Delete finished executions created more than retention_days ago, in batches; open runs are kept. Done
        notification deliveries of the same age go too (not counted in the response)."""
        deleted = await purge_history(self._sessionmaker, self._store, retention_days)
        deliveries = await purge_deliveries(self._sessionmaker, self._store, retention_days)
        log.info("history_cleaned_up", deleted=deleted, deliveries_deleted=deliveries, retention_days=retention_days)
        return CleanupResponse(
            deleted_count=deleted,
            message=f"Cleaned up {deleted} execution records older than {retention_days} days",
        )
