"""The outbox relay: publishes pending runs and records the broker's confirmation (published_at).

A run is written first and published after its transaction commits, so a crash or a broker outage
between the two leaves a pending row without published_at. The relay finds those (older than
outbox_delay, so it does not race the pass that is publishing them right now; manual triggers at once,
since nothing else publishes them) and publishes them again. A message may therefore go out twice;
the executor's claim makes the second delivery a no-op.

A confirmation is not written by a transaction of its own: it is kept here, with the instant the broker
confirmed, and written by a scheduling pass at least MARK_DELAY_S later (or by `flush_confirmed`, before the
timekeeper sleeps for longer or relays, and when it stops), and only for runs still pending then: by that time
nearly every run has been claimed and needs no mark, so at a steady rate confirmations cost no writes, and the
pass never holds the row of a run an executor is about to claim. Until then the row is unconfirmed in the
database, which is harmless: the relay only takes rows older than outbox_delay. A run whose publish was not
confirmed is never recorded, and the relay publishes it again after outbox_delay."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.broker import Broker, BrokerUnavailable, RunMessage
from scheduler_core.observability.metrics import Metrics
from scheduler_core.observability.tracing import Tracing
from scheduler_core.store import PublishedRun, RunSlot, Store
from scheduler_timekeeper.scheduling import DbClock

log = structlog.get_logger(__name__)

# Messages per publish call: RabbitMQ confirms about 4,000/s here, so a chunk stays well inside the
# publish timeout (seconds) and a failure re-publishes at most one chunk's worth twice.
PUBLISH_CHUNK = 1000
# Seconds a confirmation waits before a pass writes it (only if its run is still pending then). Well below
# the default outbox_delay (5 s), so that a run waiting in a backlog is marked before the relay would take it.
MARK_DELAY_S = 1.0


@dataclass(frozen=True, slots=True)
class _Confirmation:
    run: PublishedRun
    at: float  # time.monotonic() of the confirmation


class OutboxRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: Store,
        broker: Broker,
        metrics: Metrics,
        *,
        outbox_delay: float,
        batch_size: int,
        tracing: Tracing | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._store = store
        self._broker = broker
        self._metrics = metrics
        self._outbox_delay = timedelta(seconds=outbox_delay)
        # Seconds: see MARK_DELAY_S; half the outbox delay when that is shorter (tests, impatient operators).
        self.mark_delay = min(MARK_DELAY_S, outbox_delay / 2)
        self._batch_size = batch_size
        self._tracing = tracing or Tracing()
        self._confirmed: list[_Confirmation] = []  # confirmed by the broker, published_at not written yet
        self._taken: list[_Confirmation] = []  # handed to a transaction that has not ended yet

    async def publish(self, messages: Sequence[RunMessage], clock: DbClock) -> bool:
        """Publish runs written by a committed pass; False if the broker did not confirm (the relay retries).
        Confirmed runs are kept, stamped with the database's time of the confirmation (extrapolated from
        `clock`, the pass's), until a transaction records them: see take_confirmed and flush_confirmed."""
        if not messages:
            return True
        try:
            with self._tracing.publishing(messages) as traced:
                await self._broker.publish(traced)
        except BrokerUnavailable as exc:
            self._metrics.publish_failures.inc()
            log.warning("publish_unconfirmed", runs=len(messages), error=str(exc))
            return False
        now = time.monotonic()
        confirmed_at = clock.at(now)
        self._metrics.published.inc(len(messages))
        self._confirmed.extend(
            _Confirmation(PublishedRun(m.execution_id, m.scheduled_at, confirmed_at), now) for m in messages
        )
        return True

    @property
    def pending_confirmations(self) -> int:
        return len(self._confirmed)

    def take_confirmed(self, *, confirmed_before: float | None = None) -> list[PublishedRun]:
        """Hand the confirmations received before `confirmed_before` (monotonic; None: all) over to a
        transaction that writes them; then call `confirmed_written` once it committed, or
        `confirmed_not_written` if it failed."""
        assert not self._taken, "the previous transaction's confirmations were not settled"
        if confirmed_before is None:
            self._taken, self._confirmed = self._confirmed, []
        else:
            # Kept in confirmation order: the ones old enough are a prefix.
            split = next((i for i, c in enumerate(self._confirmed) if c.at >= confirmed_before), len(self._confirmed))
            self._taken, self._confirmed = self._confirmed[:split], self._confirmed[split:]
        return [c.run for c in self._taken]

    def confirmed_written(self) -> None:
        """The transaction committed. Runs it did not mark were no longer pending (or being claimed at that
        instant): they need no mark."""
        self._taken = []

    def confirmed_not_written(self) -> None:
        """The transaction failed: its confirmations go back, to be written by the next one."""
        taken, self._taken = self._taken, []
        self._confirmed[:0] = taken

    async def flush_confirmed(self) -> None:
        """Write the kept confirmations in a transaction of their own (the timekeeper is about to idle)."""
        if not self._confirmed:
            return
        published = self.take_confirmed()
        try:
            async with self._sessionmaker.begin() as session:
                await self._store.outbox.record_published(session, published)
        except BaseException:
            self.confirmed_not_written()
            raise
        self.confirmed_written()

    async def relay_unpublished(self) -> int:
        """Publish every unconfirmed pending run that is due for relaying; returns how many went out."""
        relayed = 0
        while True:
            async with self._sessionmaker.begin() as session:
                now = await self._store.clock.now(session)
                rows = await self._store.outbox.unpublished(
                    session, created_before=now - self._outbox_delay, limit=self._batch_size
                )
                if not rows:
                    return relayed
                messages = [RunMessage(r.execution_id, r.job_id, r.scheduled_at, r.priority) for r in rows]
                try:
                    # Published while the rows stay locked (SKIP LOCKED keeps other relays off them).
                    with self._tracing.publishing(messages) as traced:
                        await self._broker.publish(traced)
                except BrokerUnavailable as exc:
                    self._metrics.publish_failures.inc()
                    log.warning("relay_unconfirmed", runs=len(messages), error=str(exc))
                    return relayed
                await self._store.outbox.mark_published(
                    session, [RunSlot(m.execution_id, m.scheduled_at) for m in messages], now
                )
            self._metrics.published.inc(len(messages))
            relayed += len(messages)
            log.info("outbox_relayed", runs=len(messages))
            if len(rows) < self._batch_size:
                return relayed
