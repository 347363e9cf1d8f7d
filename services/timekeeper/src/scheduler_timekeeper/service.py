"""The timekeeper's loop: a scheduling pass when work is due, then sleep until the earliest next_run_at (or
a wake-up), but at least until min_cycle after the start of the last pass that claimed work, so that slots
due a few milliseconds apart are written by one pass; relay the outbox on wake-ups and periodically; sweep
periodically.

A cycle is one transaction: the pass claims at the database's `now`, writes its runs, advances its jobs,
records the broker's confirmations of earlier passes, and returns the earliest next_run_at. Its runs are
published after the commit, while the loop sleeps and runs the next pass (one publish in flight at a time).

It survives its dependencies restarting: a failed pass is logged and retried after a short back-off,
and nothing is lost in between because the state lives in the database."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.broker import Broker
from scheduler_core.observability.metrics import Metrics
from scheduler_core.settings import Settings
from scheduler_core.store import Store
from scheduler_core.wakeup import Wakeup
from scheduler_timekeeper.outbox import OutboxRelay
from scheduler_timekeeper.recovery import RecoverySweep
from scheduler_timekeeper.scheduling import PassResult, SchedulingPass

log = structlog.get_logger(__name__)

# Seconds to back off after a pass failed (database or broker restarting).
ERROR_BACKOFF_S = 1.0
# Seconds to yield when the earliest due job is locked by another timekeeper (it is handling it).
CONTENDED_SLEEP_S = 0.05
# Seconds: before a sleep at least this long, the broker confirmations kept for the next pass are written by
# a transaction of their own. A shorter sleep leaves them to the next pass, which then comes within this
# bound, far inside outbox_delay (so the relay never republishes a confirmed run for want of its mark), while
# a busy timekeeper never pays a transaction for them.
IDLE_FLUSH_S = 0.1


@dataclass(frozen=True, slots=True)
class TimekeeperConfig:
    """The settings a timekeeper uses (Settings documents each, with its unit and default)."""

    batch_size: int
    max_sleep: float
    outbox_delay: float
    lost_message_timeout: float
    sweep_interval: float
    instance_timeout: float
    min_cycle: float
    lookahead: float

    @classmethod
    def from_settings(cls, settings: Settings) -> TimekeeperConfig:
        return cls(
            batch_size=settings.timekeeper_batch_size,
            max_sleep=settings.timekeeper_max_sleep,
            outbox_delay=settings.outbox_delay,
            lost_message_timeout=settings.lost_message_timeout,
            sweep_interval=settings.sweep_interval,
            instance_timeout=settings.instance_timeout,
            min_cycle=settings.timekeeper_min_cycle,
            lookahead=settings.timekeeper_lookahead,
        )


class TimekeeperService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: Store,
        broker: Broker,
        wakeup: Wakeup,
        metrics: Metrics,
        config: TimekeeperConfig,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._wakeup = wakeup
        self._metrics = metrics
        self._config = config
        self._lookahead = timedelta(seconds=config.lookahead)
        self.scheduling = SchedulingPass(
            sessionmaker, store, metrics, batch_size=config.batch_size, lookahead=config.lookahead
        )
        self.outbox = OutboxRelay(
            sessionmaker,
            store,
            broker,
            metrics,
            outbox_delay=config.outbox_delay,
            batch_size=config.batch_size,
        )
        self.recovery = RecoverySweep(
            sessionmaker,
            store,
            metrics,
            instance_timeout=config.instance_timeout,
            lost_message_timeout=config.lost_message_timeout,
        )
        self._publishing: asyncio.Task[bool] | None = None
        self._stopping = False

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set."""
        watcher = asyncio.create_task(self._watch(stop), name="timekeeper-stop-watcher")
        next_sweep = time.monotonic()
        woken = True  # relay once at start: runs left unpublished by a previous crash
        log.info("timekeeper_started")
        try:
            while not self._stopping:
                try:
                    if woken:
                        await self._flush_confirmed()  # so the relay does not take confirmed runs for lost ones
                        await self.outbox.relay_unpublished()
                    if time.monotonic() >= next_sweep:
                        await self.scheduling.schedule_unscheduled()
                        await self.recovery.run_once()
                        await self._flush_confirmed()
                        await self.outbox.relay_unpublished()
                        next_sweep = time.monotonic() + self._config.sweep_interval
                    wake_at = min(await self._schedule_until_idle(), next_sweep)
                    if wake_at - time.monotonic() >= IDLE_FLUSH_S:
                        await self._flush_confirmed()
                except Exception as exc:
                    log.warning("timekeeper_pass_failed", error=str(exc), error_type=type(exc).__name__)
                    wake_at = time.monotonic() + ERROR_BACKOFF_S
                delay = wake_at - time.monotonic()
                woken = await self._wakeup.wait(delay) if delay > 0 else False
        finally:
            try:
                await self._flush_confirmed()
            except Exception as exc:  # the relay publishes those runs again after outbox_delay
                log.warning("publish_confirmations_unwritten", error=str(exc), error_type=type(exc).__name__)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            log.info("timekeeper_stopped")

    async def _schedule_until_idle(self) -> float:
        """Passes until no more work is due right now; returns when to wake for the next (monotonic clock).
        A pass's runs are published while the loop sleeps and runs the next pass."""
        while True:
            started = time.monotonic()
            result = await self._pass()
            self._metrics.tick_seconds.observe(time.monotonic() - started)
            if not result.more_due or self._stopping:
                break
        if result.earliest is None:
            return time.monotonic() + self._config.max_sleep
        if result.earliest <= result.horizon:
            # Due by the pass's own horizon, yet not claimed by it: another timekeeper holds it right now.
            return time.monotonic() + CONTENDED_SLEEP_S
        wake_at = result.clock.monotonic_at(result.earliest - self._lookahead)
        if result.jobs:
            wake_at = max(wake_at, started + self._config.min_cycle)
        return wake_at

    async def _pass(self) -> PassResult:
        """One scheduling pass, carrying the confirmations received since the last; then start publishing."""
        published = self.outbox.take_confirmed(confirmed_before=time.monotonic() - self.outbox.mark_delay)
        try:
            result = await self.scheduling.run_once(published)
        except BaseException:
            self.outbox.confirmed_not_written()
            raise
        self.outbox.confirmed_written()
        await self._publishing_done()
        if result.to_publish:
            self._publishing = asyncio.create_task(
                self.outbox.publish(result.to_publish, result.clock), name="timekeeper-publish"
            )
        return result

    async def _publishing_done(self) -> None:
        if self._publishing is not None:
            publishing, self._publishing = self._publishing, None
            await publishing

    async def _flush_confirmed(self) -> None:
        """Wait for the publish in flight, then write every kept confirmation."""
        await self._publishing_done()
        await self.outbox.flush_confirmed()

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._stopping = True
        self._wakeup.notify()
