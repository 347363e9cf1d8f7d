"""The outbox relay: publishes pending runs and records the broker's confirmation (published_at).

A run is written first and published after its transaction commits, so a crash or a broker outage
between the two leaves a pending row without published_at. The relay finds those (older than
outbox_delay, so it does not race the pass that is publishing them right now; manual triggers at once,
since nothing else publishes them) and publishes them again. A message may therefore go out twice;
the executor's claim makes the second delivery a no-op.

A confirmation is not written by a transaction of its own: it is kept here, with the instant the broker
confirmed, until the next scheduling pass writes it in its transaction (or `flush_confirmed` does, before
the timekeeper sleeps for longer or relays, and when it stops). Until then the row is unconfirmed in the
database, which is harmless: the relay only takes rows older than outbox_delay, and passes run milliseconds
apart while the timekeeper is busy. A run whose publish was not confirmed is never recorded, and the relay
publishes it again after outbox_delay."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.broker import Broker, BrokerUnavailable, RunMessage
from scheduler_core.db.repository import PublishedRun, SchedulerRepository, db_now
from scheduler_core.observability.metrics import Metrics
from scheduler_timekeeper.scheduling import DbClock

log = structlog.get_logger(__name__)

# Messages per publish call: RabbitMQ confirms about 4,000/s here, so a chunk stays well inside the
# publish timeout (seconds) and a failure re-publishes at most one chunk's worth twice.
PUBLISH_CHUNK = 1000
# Writes a confirmation gets before it is dropped. A write skips a row that an executor holds locked at that
# instant (it is claiming or finishing the run); such a row is free again milliseconds later. One that stays
# unwritable (deleted, say) is dropped: were it still pending after outbox_delay, the relay would publish it
# again, which is the guarantee anyway.
MAX_MARK_ATTEMPTS = 5


@dataclass(slots=True)
class _Confirmation:
    run: PublishedRun
    attempts: int = 0


class OutboxRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        repository: SchedulerRepository,
        broker: Broker,
        metrics: Metrics,
        *,
        outbox_delay: float,
        batch_size: int,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._repository = repository
        self._broker = broker
        self._metrics = metrics
        self._outbox_delay = timedelta(seconds=outbox_delay)
        self._batch_size = batch_size
        self._confirmed: list[_Confirmation] = []  # confirmed by the broker, published_at not written yet
        self._taken: list[_Confirmation] = []  # handed to a transaction that has not ended yet

    async def publish(self, messages: Sequence[RunMessage], clock: DbClock) -> bool:
        """Publish runs written by a committed pass; False if the broker did not confirm (the relay retries).
        Confirmed runs are kept, stamped with the database's time of the confirmation (extrapolated from
        `clock`, the pass's), until a transaction records them: see take_confirmed and flush_confirmed."""
        if not messages:
            return True
        try:
            await self._broker.publish(messages)
        except BrokerUnavailable as exc:
            self._metrics.publish_failures.inc()
            log.warning("publish_unconfirmed", runs=len(messages), error=str(exc))
            return False
        confirmed_at = clock.at(time.monotonic())
        self._metrics.published.inc(len(messages))
        self._confirmed.extend(_Confirmation(PublishedRun(m.execution_id, confirmed_at)) for m in messages)
        return True

    @property
    def pending_confirmations(self) -> int:
        return len(self._confirmed)

    def take_confirmed(self) -> list[PublishedRun]:
        """Hand the confirmations over to a transaction that writes them; then call `confirmed_written` with
        the ids it marked once it committed, or `confirmed_not_written` if it failed."""
        assert not self._taken, "the previous transaction's confirmations were not settled"
        self._taken, self._confirmed = self._confirmed, []
        return [c.run for c in self._taken]

    def confirmed_written(self, marked: Collection[str]) -> None:
        """The transaction committed: keep the confirmations it could not write (rows locked at that instant)
        for the next one, up to MAX_MARK_ATTEMPTS each."""
        taken, self._taken = self._taken, []
        if len(marked) == len(taken):
            return
        done = set(marked)
        retry = []
        for confirmation in taken:
            if confirmation.run.execution_id in done:
                continue
            confirmation.attempts += 1
            if confirmation.attempts < MAX_MARK_ATTEMPTS:
                retry.append(confirmation)
            else:
                log.info("publish_confirmation_dropped", execution_id=confirmation.run.execution_id)
        self._confirmed[:0] = retry

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
                marked = await self._repository.record_published(session, published)
        except BaseException:
            self.confirmed_not_written()
            raise
        self.confirmed_written(marked)

    async def relay_unpublished(self) -> int:
        """Publish every unconfirmed pending run that is due for relaying; returns how many went out."""
        relayed = 0
        while True:
            async with self._sessionmaker.begin() as session:
                now = await db_now(session)
                rows = await self._repository.unpublished_runs(
                    session, created_before=now - self._outbox_delay, limit=self._batch_size
                )
                if not rows:
                    return relayed
                messages = [RunMessage(eid, job_id, at, priority) for eid, job_id, at, priority in rows]
                try:
                    # Published while the rows stay locked (SKIP LOCKED keeps other relays off them).
                    await self._broker.publish(messages)
                except BrokerUnavailable as exc:
                    self._metrics.publish_failures.inc()
                    log.warning("relay_unconfirmed", runs=len(messages), error=str(exc))
                    return relayed
                await self._repository.mark_published(session, [m.execution_id for m in messages], now)
            self._metrics.published.inc(len(messages))
            relayed += len(messages)
            log.info("outbox_relayed", runs=len(messages))
            if len(rows) < self._batch_size:
                return relayed
