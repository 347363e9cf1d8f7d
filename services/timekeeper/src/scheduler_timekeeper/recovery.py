"""The recovery sweep: declares silent instances stopped and fails the runs their executors held.

Detection bound for a run whose executor died: the executor's instance is declared stopped once its last
heartbeat is older than instance_timeout, and its run's lock expires lock_ttl after its last renewal;
whichever comes first, the next sweep (every sweep_interval) fails the run. So a killed executor's run is
marked failed at most min(instance_timeout, lock_ttl) + heartbeat_interval + sweep_interval seconds after
the kill (defaults: 20 + 5 + 5 = 30 s).

It also records missed the scheduled runs still pending past their job's misfire grace time, which the claim
would record missed anyway: a run whose message the broker lost after confirming it is then missed, with the
reason, grace time + sweep_interval after its slot at most (up to RUNS_PER_SWEEP runs per sweep), instead
of pending for ever. A manual run has no grace time: one still pending lost_message_timeout after the broker
confirmed its message goes back to the outbox, and the relay that follows the sweep publishes it again (a
duplicate delivery, should the first message still be in a queue, is ignored by the claim)."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.observability.metrics import Metrics
from scheduler_core.store import OrphanedRun, Store

log = structlog.get_logger(__name__)

# Unclaimed runs recorded missed, and manual runs published again, per sweep at most; the rest wait for the next.
RUNS_PER_SWEEP = 1000
# Execution ids named in a sweep's log line about unclaimed or republished runs (the history has them all).
LOGGED_IDS = 10


class RecoverySweep:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: Store,
        metrics: Metrics,
        *,
        instance_timeout: float,
        lost_message_timeout: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._store = store
        self._metrics = metrics
        self._instance_timeout = timedelta(seconds=instance_timeout)
        self._lost_message_timeout = timedelta(seconds=lost_message_timeout)

    async def run_once(self) -> list[OrphanedRun]:
        async with self._sessionmaker.begin() as session:
            now = await self._store.clock.now(session)
            silent = await self._store.sweeps.stop_silent_instances(
                session, silent_since=now - self._instance_timeout, now=now
            )
            orphans = await self._store.sweeps.fail_orphaned(session, now)
            unclaimed = await self._store.sweeps.close_unclaimed(session, now, RUNS_PER_SWEEP)
            requeued = await self._store.outbox.forget_stale_manual(
                session, published_before=now - self._lost_message_timeout, limit=RUNS_PER_SWEEP
            )
        self._metrics.sweeps.inc()
        for instance_id in silent:
            log.warning("instance_declared_stopped", instance_id=instance_id)
        for orphan in orphans:
            log.warning(
                "orphaned_run_failed",
                job_id=orphan.job_id,
                execution_id=orphan.execution_id,
                executor_id=orphan.executor_id,
                reason=orphan.reason,
            )
        self._metrics.orphans.inc(len(orphans))
        if unclaimed:
            # One line per sweep, not per run: an outage of every executor leaves a run per job per slot.
            log.warning(
                "unclaimed_runs_missed",
                count=len(unclaimed),
                jobs=len({run.job_id for run in unclaimed}),
                execution_ids=[run.execution_id for run in unclaimed[:LOGGED_IDS]],
                reason=unclaimed[0].reason,
            )
            self._metrics.missed.inc(len(unclaimed))
        if requeued:
            log.warning(
                "manual_runs_republished",
                count=len(requeued),
                execution_ids=requeued[:LOGGED_IDS],
                reason=(
                    f"still pending {self._lost_message_timeout.total_seconds():g} s after the broker confirmed "
                    "their message: it may have been lost"
                ),
            )
        return orphans
