"""The outbox relay: publishes pending runs and records the broker's confirmation (published_at).

A run is written first and published after its transaction commits, so a crash or a broker outage
between the two leaves a pending row without published_at. The relay finds those (older than
outbox_delay, so it does not race the pass that is publishing them right now; manual triggers at once,
since nothing else publishes them) and publishes them again. A message may therefore go out twice;
the executor's claim makes the second delivery a no-op."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.broker import Broker, BrokerUnavailable, RunMessage
from scheduler_core.db.repository import SchedulerRepository, db_now
from scheduler_core.observability.metrics import Metrics

log = structlog.get_logger(__name__)

# Messages per publish call: RabbitMQ confirms about 4,000/s here, so a chunk stays well inside the
# publish timeout (seconds) and a failure re-publishes at most one chunk's worth twice.
PUBLISH_CHUNK = 1000


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

    async def publish(self, messages: Sequence[RunMessage]) -> bool:
        """Publish runs written by a committed pass; False if the broker did not confirm (the relay retries)."""
        if not messages:
            return True
        try:
            await self._broker.publish(messages)
        except BrokerUnavailable as exc:
            self._metrics.publish_failures.inc()
            log.warning("publish_unconfirmed", runs=len(messages), error=str(exc))
            return False
        self._metrics.published.inc(len(messages))
        async with self._sessionmaker.begin() as session:
            await self._repository.mark_published(session, [m.execution_id for m in messages], await db_now(session))
        return True

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
