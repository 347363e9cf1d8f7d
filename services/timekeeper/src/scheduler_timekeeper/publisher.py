"""The timekeeper's link to the broker, on a task of its own: scheduling passes hand it the runs they wrote and
go on, so a broker that is slow or down never holds a pass (slots are written on time, and published, or
recorded missed by their grace time, once it is back). It also runs the outbox relay when asked.

Batches wait in a bounded queue. While the broker is down each attempt costs up to publish_timeout, so batches
pile up: past MAX_WAITING_BATCHES the newest are dropped from memory (their rows stay in the outbox, and the
relay publishes them once they are outbox_delay old and the broker answers again)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Final

import structlog

from scheduler_core.broker import RunMessage
from scheduler_timekeeper.outbox import OutboxRelay
from scheduler_timekeeper.scheduling import DbClock

log = structlog.get_logger(__name__)

# Batches (one per pass) waiting for the broker at most: a minute of passes at the 20-ms minimum cycle.
MAX_WAITING_BATCHES: Final = 3000


class Publisher:
    def __init__(self, relay: OutboxRelay) -> None:
        self._relay = relay
        self._waiting: deque[tuple[list[RunMessage], DbClock]] = deque()
        self._relay_requested = False
        self._work = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._dropped = 0  # batches left to the relay since the last log line

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="timekeeper-publisher")

    def submit(self, messages: list[RunMessage], clock: DbClock) -> None:
        """Publish these runs (written by a committed pass) as soon as the broker takes them."""
        if len(self._waiting) >= MAX_WAITING_BATCHES:
            self._dropped += 1
            return
        self._waiting.append((messages, clock))
        self._idle.clear()
        self._work.set()

    def request_relay(self) -> None:
        """Relay the outbox (runs nobody published, or whose publish was not confirmed) after what is waiting."""
        self._relay_requested = True
        self._idle.clear()
        self._work.set()

    async def drain(self, timeout: float) -> None:
        """Let what is waiting go out for up to `timeout` seconds, then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            await self._work.wait()
            self._work.clear()
            while self._waiting:
                messages, clock = self._waiting.popleft()
                await self._relay.publish(messages, clock)
            if self._dropped:
                log.warning("publish_deferred_to_relay", batches=self._dropped, reason="the broker is not keeping up")
                self._dropped = 0
            if self._relay_requested:
                self._relay_requested = False
                try:
                    await self._relay.relay_unpublished()
                except Exception as exc:  # the database or broker restarting: the next request tries again
                    log.warning("relay_failed", error=str(exc), error_type=type(exc).__name__)
            if not self._waiting and not self._relay_requested:
                self._idle.set()
