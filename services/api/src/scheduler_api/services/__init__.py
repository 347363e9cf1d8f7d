"""The API's service layer, one module per noun: routers call these; each operation validates, runs in one
transaction through the store (the only code that speaks SQL) and returns response schemas.

Every instant comes from the database clock. A change that can move a job's next slot wakes the timekeepers
of other processes from inside its transaction (JobStore.notify_changed) and calls `on_schedule_change` after
the commit (embedded mode wakes its in-process timekeeper that way). Every change is recorded in the audit trail
(scheduler_core.store.audit) in the transaction that makes it, with the caller as an `Actor`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_api.services.actions import ActionService
from scheduler_api.services.audit import AuditService
from scheduler_api.services.channels import ChannelService
from scheduler_api.services.cleanup import CleanupService
from scheduler_api.services.context import ServiceConfig, ServiceContext
from scheduler_api.services.history import HistoryService
from scheduler_api.services.jobs import JobService
from scheduler_api.services.lookups import LookupService
from scheduler_api.services.preview import PreviewService
from scheduler_api.services.runs import RunService
from scheduler_api.services.status import StatusService
from scheduler_core.observability.metrics import Metrics
from scheduler_core.store import Store


@dataclass(frozen=True, slots=True)
class Services:
    jobs: JobService
    actions: ActionService
    history: HistoryService
    status: StatusService
    cleanup: CleanupService
    lookups: LookupService
    preview: PreviewService
    runs: RunService
    audit: AuditService
    channels: ChannelService


def build_services(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Store,
    config: ServiceConfig,
    *,
    on_schedule_change: Callable[[], None] | None = None,
    metrics: Metrics | None = None,
) -> Services:
    context = ServiceContext(sessionmaker, store, config, on_schedule_change, metrics or Metrics())
    return Services(
        jobs=JobService(context),
        actions=ActionService(context),
        history=HistoryService(context),
        status=StatusService(context),
        cleanup=CleanupService(context),
        lookups=LookupService(context),
        preview=PreviewService(context),
        runs=RunService(context),
        audit=AuditService(context),
        channels=ChannelService(context),
    )


__all__ = ["ServiceConfig", "Services", "build_services"]
