"""The scheduler's state as Prometheus gauges, read from the database when /metrics is scraped: how far the
timekeepers are behind (the most overdue job's slot), the runs waiting for an executor and how long the oldest
has waited, the live instances of each role, and the broker queue's ready messages.

The API reads them because they belong to no one process and must be reported when a role is gone: with every
timekeeper stopped, a timekeeper could not report its own lag. Each API replica reports the same values (the
alert rules take their max). A scrape reads at most once per MIN_INTERVAL_S; a read that fails or takes longer
than READ_TIMEOUT_S exports no state at all rather than a stale one (the rules alert on its absence)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.observability.metrics import ROLES, Metrics, SchedulerState
from scheduler_core.store import Store

log = structlog.get_logger(__name__)

# Seconds between two reads at most once per this: scrapers in parallel (two Prometheus replicas) share one.
MIN_INTERVAL_S: Final = 1.0
# Seconds a read may take (three indexed queries; the broker's answer on top) before the scrape goes without.
READ_TIMEOUT_S: Final = 3.0

QueueDepth = Callable[[], Awaitable[int]]


class StateMetrics:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: Store,
        metrics: Metrics,
        *,
        instance_timeout: float,
        queue_depth: QueueDepth | None,
    ) -> None:
        """instance_timeout: seconds of heartbeat silence after which an instance no longer counts as live (as on
        /status). queue_depth: the broker's ready messages (None: not reported)."""
        self._sessionmaker = sessionmaker
        self._store = store
        self._metrics = metrics
        self._silence = timedelta(seconds=instance_timeout)
        self._queue_depth = queue_depth
        self._lock = asyncio.Lock()
        self._read_at: float | None = None  # time.monotonic() of the last read

    async def refresh(self) -> None:
        """Read the state now, unless it was read less than MIN_INTERVAL_S ago."""
        async with self._lock:
            if self._read_at is not None and time.monotonic() - self._read_at < MIN_INTERVAL_S:
                return
            try:
                async with asyncio.timeout(READ_TIMEOUT_S):
                    state = await self._read()
            except Exception as exc:
                log.warning("state_metrics_unread", error=str(exc) or "timeout", error_type=type(exc).__name__)
                state = None
            self._metrics.set_state(state)
            self._read_at = time.monotonic()

    async def _read(self) -> SchedulerState:
        async with self._sessionmaker() as session:
            now = await self._store.clock.now(session)
            earliest = await self._store.jobs.earliest_next_run(session)
            backlog = await self._store.history.backlog(session, now)
            live = await self._store.instances.live_by_role(session, now - self._silence)
        ready = None
        if self._queue_depth is not None:
            try:
                ready = await self._queue_depth()
            except Exception as exc:  # the broker's outage is /readyz's to report; the rest of the state stands
                log.info("queue_depth_unread", error=str(exc), error_type=type(exc).__name__)
        lag = 0.0 if earliest is None else max(0.0, (now - earliest).total_seconds())
        oldest = backlog.oldest_due_at
        return SchedulerState(
            timekeeper_lag_seconds=lag,
            queue_depth=backlog.runs,
            queue_age_seconds=0.0 if oldest is None else max(0.0, (now - oldest).total_seconds()),
            live_instances={role: live.get(role, 0) for role in sorted({*ROLES, *live})},
            queue_messages_ready=ready,
        )
