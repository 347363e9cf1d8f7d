"""The timekeeper's loop: a scheduling pass when work is due, then sleep until the earliest next_run_at (or
a wake-up), but at least until min_cycle after the start of the last pass that claimed work, so that slots
due a few milliseconds apart are written by one pass; relay the outbox on wake-ups and periodically; sweep
periodically.

A cycle is one transaction: the pass claims at the database's `now`, writes its runs, advances its jobs,
records the broker's confirmations of earlier passes, and returns the earliest next_run_at. Its runs are
published after the commit by the publisher's own task (publisher.py), which the loop never waits for: a slow or
absent broker delays publishing, never the passes.

While its own instance is not live (its heartbeats fail, or it was declared stopped and registers again), it
neither sweeps nor relays: a sweeper that cannot see the database as the others do must not judge them.

Notifications are relayed by a task of their own (notifications.py), which a slow receiver never lets hold a pass;
it relays whether or not the instance is live (a delivery judges nobody, and its lease keeps other relays off it).

It survives its dependencies restarting: a failed pass is logged and retried after a short back-off,
and nothing is lost in between because the state lives in the database."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.broker import Broker
from scheduler_core.notifications import DeliveryBackoff
from scheduler_core.observability.metrics import Metrics
from scheduler_core.observability.tracing import Tracing
from scheduler_core.outbound import OutboundGuard
from scheduler_core.settings import Settings
from scheduler_core.store import Store
from scheduler_core.wakeup import Wakeup
from scheduler_timekeeper.notifications import NotificationRelay
from scheduler_timekeeper.outbox import OutboxRelay
from scheduler_timekeeper.publisher import Publisher
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
# Seconds the notification relay gets beyond one attempt's timeout to record its last batch when the timekeeper stops.
RELAY_STOP_GRACE_S = 5.0


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
    publish_timeout: float
    outbound_allow: tuple[str, ...]
    notification_poll_interval: float
    notification_timeout: float
    notification_backoff: DeliveryBackoff

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
            publish_timeout=settings.publish_timeout,
            outbound_allow=tuple(settings.outbound_allow),
            notification_poll_interval=settings.notification_poll_interval,
            notification_timeout=settings.notification_timeout,
            notification_backoff=DeliveryBackoff(
                first_delay=settings.notification_retry_delay,
                max_delay=settings.notification_retry_max_delay,
                give_up_after=settings.notification_give_up_after,
            ),
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
        *,
        is_live: Callable[[], bool],
        tracing: Tracing | None = None,
    ) -> None:
        """is_live: whether this process's instance counts as live (InstanceHeartbeat.is_live); while it does not,
        the timekeeper neither sweeps nor relays (it cannot know what the others see). tracing: the runs' traces
        begin here (off by default)."""
        self._sessionmaker = sessionmaker
        self._wakeup = wakeup
        self._metrics = metrics
        self._config = config
        self._lookahead = timedelta(seconds=config.lookahead)
        self.scheduling = SchedulingPass(
            sessionmaker, store, metrics, batch_size=config.batch_size, lookahead=config.lookahead, tracing=tracing
        )
        self.outbox = OutboxRelay(
            sessionmaker,
            store,
            broker,
            metrics,
            outbox_delay=config.outbox_delay,
            batch_size=config.batch_size,
            tracing=tracing,
        )
        self.recovery = RecoverySweep(
            sessionmaker,
            store,
            broker,
            metrics,
            instance_timeout=config.instance_timeout,
            sweep_interval=config.sweep_interval,
            lost_message_timeout=config.lost_message_timeout,
        )
        self.publisher = Publisher(self.outbox)
        self.notifications = NotificationRelay(
            sessionmaker,
            store,
            metrics,
            guard=OutboundGuard.allowing(config.outbound_allow),
            backoff=config.notification_backoff,
            timeout=config.notification_timeout,
            poll_interval=config.notification_poll_interval,
        )
        self._is_live = is_live
        self._publish_timeout = config.publish_timeout
        self._stopping = False

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set."""
        watcher = asyncio.create_task(self._watch(stop), name="timekeeper-stop-watcher")
        self.publisher.start()
        # Deliveries go out on a task of their own: a slow receiver never holds a pass (nor the other way round).
        relay_stop = asyncio.Event()
        relay = asyncio.create_task(self.notifications.run(relay_stop), name="notification-relay")
        next_sweep = time.monotonic()
        woken = True  # relay once at start: runs left unpublished by a previous crash
        log.info("timekeeper_started")
        try:
            while not self._stopping:
                try:
                    live = self._is_live()
                    if woken and live:
                        await self.outbox.flush_confirmed()  # so the relay does not take confirmed runs for lost ones
                        self.publisher.request_relay()
                    if time.monotonic() >= next_sweep:
                        await self.scheduling.schedule_unscheduled()
                        if live:
                            await self.recovery.run_once()
                            await self.outbox.flush_confirmed()
                            self.publisher.request_relay()
                        else:
                            log.warning("sweep_skipped", reason="this timekeeper's own instance is not live")
                        next_sweep = time.monotonic() + self._config.sweep_interval
                    wake_at = min(await self._schedule_until_idle(), next_sweep)
                    if wake_at - time.monotonic() >= IDLE_FLUSH_S:
                        await self.outbox.flush_confirmed()
                except Exception as exc:
                    log.warning("timekeeper_pass_failed", error=str(exc), error_type=type(exc).__name__)
                    wake_at = time.monotonic() + ERROR_BACKOFF_S
                delay = wake_at - time.monotonic()
                woken = await self._wakeup.wait(delay) if delay > 0 else False
        finally:
            relay_stop.set()
            await self._stop_relay(relay)
            await self.publisher.drain(self._publish_timeout)
            try:
                await self.outbox.flush_confirmed()
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
        # A waiting run is released at its release_at exactly (no look-ahead: it is published when due).
        release_at = None if result.earliest_release is None else result.clock.monotonic_at(result.earliest_release)
        if result.earliest is None:
            wake_at = time.monotonic() + self._config.max_sleep
        elif result.earliest <= result.horizon:
            # Due by the pass's own horizon, yet not claimed by it: another timekeeper holds it right now.
            wake_at = time.monotonic() + CONTENDED_SLEEP_S
        else:
            wake_at = result.clock.monotonic_at(result.earliest - self._lookahead)
            if result.jobs:
                wake_at = max(wake_at, started + self._config.min_cycle)
        return wake_at if release_at is None else min(wake_at, release_at)

    async def _pass(self) -> PassResult:
        """One scheduling pass, carrying the confirmations received since the last; its runs go to the publisher,
        which the pass never waits for."""
        published = self.outbox.take_confirmed(confirmed_before=time.monotonic() - self.outbox.mark_delay)
        try:
            result = await self.scheduling.run_once(published)
        except BaseException:
            self.outbox.confirmed_not_written()
            raise
        self.outbox.confirmed_written()
        if result.to_publish:
            self.publisher.submit(result.to_publish, result.clock)
        return result

    async def _stop_relay(self, relay: asyncio.Task[None]) -> None:
        """Let the relay finish its batch (an attempt's timeout at most), then cancel it: a delivery cut off is sent
        again once its lease is over."""
        try:
            await asyncio.wait_for(
                asyncio.shield(relay), timeout=self._config.notification_timeout + RELAY_STOP_GRACE_S
            )
        except TimeoutError:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
        except Exception as exc:
            log.warning("notification_relay_stopped", error=str(exc), error_type=type(exc).__name__)

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._stopping = True
        self._wakeup.notify()
