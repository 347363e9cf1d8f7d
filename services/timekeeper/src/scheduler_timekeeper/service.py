"""The timekeeper's loop: scheduling passes back to back while work is due, then sleep exactly until the
earliest next_run_at (or a wake-up); relay the outbox on wake-ups and periodically; sweep periodically.

It survives its dependencies restarting: a failed pass is logged and retried after a short back-off,
and nothing is lost in between because the state lives in the database."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.broker import Broker
from scheduler_core.db.repository import SchedulerRepository, db_now
from scheduler_core.observability.metrics import Metrics
from scheduler_core.wakeup import Wakeup
from scheduler_timekeeper.outbox import OutboxRelay
from scheduler_timekeeper.recovery import RecoverySweep
from scheduler_timekeeper.scheduling import SchedulingPass

log = structlog.get_logger(__name__)

# Seconds to back off after a pass failed (database or broker restarting).
ERROR_BACKOFF_S = 1.0
# Seconds to yield when the earliest due job is locked by another timekeeper (it is handling it).
CONTENDED_SLEEP_S = 0.05


@dataclass(frozen=True, slots=True)
class TimekeeperConfig:
    batch_size: int = 500
    max_sleep: float = 5.0
    outbox_delay: float = 5.0
    sweep_interval: float = 5.0
    instance_timeout: float = 20.0


class TimekeeperService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        repository: SchedulerRepository,
        broker: Broker,
        wakeup: Wakeup,
        metrics: Metrics,
        config: TimekeeperConfig,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._repository = repository
        self._wakeup = wakeup
        self._metrics = metrics
        self._config = config
        self.scheduling = SchedulingPass(sessionmaker, repository, metrics, batch_size=config.batch_size)
        self.outbox = OutboxRelay(
            sessionmaker,
            repository,
            broker,
            metrics,
            outbox_delay=config.outbox_delay,
            batch_size=config.batch_size,
        )
        self.recovery = RecoverySweep(sessionmaker, repository, metrics, instance_timeout=config.instance_timeout)
        self._stopping = False

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set."""
        watcher = asyncio.create_task(self._watch(stop), name="timekeeper-stop-watcher")
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        woken = True  # relay once at start: runs left unpublished by a previous crash
        log.info("timekeeper_started")
        try:
            while not self._stopping:
                try:
                    if woken:
                        await self.outbox.relay_unpublished()
                    if loop.time() >= next_sweep:
                        await self.scheduling.schedule_unscheduled()
                        await self.recovery.run_once()
                        await self.outbox.relay_unpublished()
                        next_sweep = loop.time() + self._config.sweep_interval
                    delay = await self._schedule_until_idle()
                    delay = min(delay, self._config.max_sleep, max(0.0, next_sweep - loop.time()))
                except Exception as exc:
                    log.warning("timekeeper_pass_failed", error=str(exc), error_type=type(exc).__name__)
                    delay = ERROR_BACKOFF_S
                woken = await self._wakeup.wait(delay) if delay > 0 else False
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            log.info("timekeeper_stopped")

    async def _schedule_until_idle(self) -> float:
        """Passes until no full batch is left; returns seconds until the earliest next slot. A pass's runs are
        published while the next pass writes its rows (one publish in flight at a time)."""
        loop = asyncio.get_running_loop()
        publishing: asyncio.Task[bool] | None = None
        try:
            while not self._stopping:
                started = loop.time()
                result = await self.scheduling.run_once()
                if publishing is not None:
                    await publishing
                publishing = asyncio.create_task(self.outbox.publish(result.to_publish))
                self._metrics.tick_seconds.observe(loop.time() - started)
                if not result.full_batch:
                    break
        finally:
            if publishing is not None:
                await publishing
        async with self._sessionmaker() as session:
            now = await db_now(session)
            earliest = await self._repository.earliest_next_run_at(session)
        if earliest is None:
            return self._config.max_sleep
        delay = (earliest - now).total_seconds()
        if delay <= 0:
            # Due, yet not claimed by our last pass: another timekeeper holds it right now.
            return CONTENDED_SLEEP_S
        return delay

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._stopping = True
        self._wakeup.notify()
