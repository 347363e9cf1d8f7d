"""The recovery sweep: judges silent instances, fails the runs their executors lost or whose leases expired,
records missed the scheduled runs nobody claimed in time, and hands back to the outbox manual runs whose message
the broker lost, and reports the jobs without a success in the time they expect one (job.silent). The rules it
applies are scheduler_core.leases'; its reasons are scheduler_core.verdicts'.

A silent instance (heartbeat older than instance_timeout) is judged only by a sweeper that has itself observed
the database without a break for instance_timeout: after an outage of the database, of everyone or of this
timekeeper alone, every live process has had the time to heartbeat again. An api or timekeeper found silent is
declared stopped (it holds nothing; if alive, it registers again). An executor is declared stopped, and its runs
failed, only on evidence of death: its presence mark on the broker is absent, and still absent PRESENCE_GRACE_S
later. Otherwise (paused, or cut off from the database but not from the broker) its runs stay its own until
their leases expire, by which time it has stopped them itself.

Detection bound for a killed executor: its mark vanishes at once, its heartbeat is stale instance_timeout after
the last one (which came at most heartbeat_interval before the kill), the next sweep finds the mark absent and
the one after PRESENCE_GRACE_S (at the next sweep) fails its runs: instance_timeout + heartbeat_interval +
2 * sweep_interval at most (defaults: 20 + 5 + 10 = 35 s). Whatever the evidence, a run whose lease expired is
failed by the next sweep: lock_ttl + heartbeat_interval + sweep_interval after its executor's last renewal.

It also records missed the scheduled runs still pending past their job's misfire grace time, which the claim
would record missed anyway: a run whose message the broker lost after confirming it is then missed, with the
reason, grace time + sweep_interval after its slot at most (up to RUNS_PER_SWEEP runs per sweep), instead of
pending for ever. A manual run has no grace time: one still pending lost_message_timeout after the broker
confirmed its message goes back to the outbox, and the relay publishes it again (a duplicate delivery, should
the first message still be in a queue, is ignored by the claim)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Final

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core import leases
from scheduler_core.broker import Broker
from scheduler_core.observability.metrics import Metrics
from scheduler_core.store import OrphanedRun, SilentInstance, Store, UnclaimedRun

log = structlog.get_logger(__name__)

# Unclaimed runs recorded missed, and manual runs published again, per sweep at most; the rest wait for the next.
RUNS_PER_SWEEP: Final = 1000
# Execution ids named in a sweep's log line about unclaimed or republished runs (the history has them all).
LOGGED_IDS: Final = 10
# Roles whose instances hold runs: declared dead only on evidence from the broker (their presence mark).
RUN_HOLDERS: Final = frozenset({"executor", "embedded"})


class RecoverySweep:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: Store,
        broker: Broker,
        metrics: Metrics,
        *,
        instance_timeout: float,
        sweep_interval: float,
        lost_message_timeout: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._store = store
        self._broker = broker
        self._metrics = metrics
        self._instance_timeout = instance_timeout  # seconds
        self._silence = timedelta(seconds=instance_timeout)
        self._lost_message_timeout = timedelta(seconds=lost_message_timeout)
        # Seconds between successful sweeps beyond which this sweeper counts itself as having been away (paused,
        # or cut off from the database): its observation starts again.
        self._max_gap = 2 * sweep_interval + 1.0
        self._last_ok: float | None = None  # time.monotonic() at the end of the last successful sweep
        self._observed_from: float | None = None  # time.monotonic() since which observation is unbroken
        self._absent_since: dict[str, float] = {}  # executor id -> monotonic instant its mark was found absent

    async def run_once(self) -> list[OrphanedRun]:
        started = time.monotonic()
        if self._last_ok is None or started - self._last_ok > self._max_gap:
            self._observed_from = None
            self._absent_since.clear()
        async with self._sessionmaker() as session:
            now = await self._store.clock.now(session)
            if self._observed_from is None:
                self._observed_from = started
            observed = leases.observation_complete(time.monotonic() - self._observed_from, self._instance_timeout)
            silent = (
                await self._store.sweeps.silent_instances(session, silent_since=now - self._silence) if observed else []
            )
        dead = await self._dead(silent)
        async with self._sessionmaker.begin() as session:
            now = await self._store.clock.now(session)
            stopped = await self._store.sweeps.stop_instances(
                session, [i.id for i in dead], silent_since=now - self._silence, now=now
            )
            orphans = await self._store.sweeps.fail_orphaned(session, now)
            unclaimed = await self._store.sweeps.close_unclaimed(session, now, RUNS_PER_SWEEP)
            requeued = await self._store.outbox.forget_stale_ungraced(
                session, published_before=now - self._lost_message_timeout, limit=RUNS_PER_SWEEP
            )
            unstalled = await self._store.sweeps.release_stalled(session, now, RUNS_PER_SWEEP)
            quiet_jobs = await self._store.sweeps.report_silent(session, now, RUNS_PER_SWEEP)
        self._last_ok = time.monotonic()
        self._metrics.sweeps.inc()
        roles = {i.id: i.role for i in dead}
        for instance_id in stopped:
            self._absent_since.pop(instance_id, None)
            self._metrics.instances_lost.labels(role=roles[instance_id]).inc()
            log.warning("instance_declared_stopped", instance_id=instance_id, role=roles[instance_id])
        self._report(orphans, unclaimed, requeued)
        if unstalled:
            log.info("queued_runs_released", count=unstalled, reason="their job had a place free and none on its way")
        if quiet_jobs:
            # job.silent went to the channels that take it; this line is for the operator reading logs.
            log.warning("jobs_silent", job_ids=quiet_jobs[:LOGGED_IDS], count=len(quiet_jobs))
        return orphans

    async def _dead(self, silent: Sequence[SilentInstance]) -> list[SilentInstance]:
        """The silent instances judged dead: any that holds no runs; an executor whose presence mark has been
        absent for PRESENCE_GRACE_S. Asked of the broker outside any transaction."""
        dead = []
        now = time.monotonic()
        holders = {i.id for i in silent if i.role in RUN_HOLDERS}
        for gone in set(self._absent_since) - holders:  # heartbeating again, or stopped by another sweeper
            del self._absent_since[gone]
        for instance in silent:
            if instance.role not in RUN_HOLDERS:
                dead.append(instance)
                continue
            present = await self._broker.presence_of(instance.id)
            if present is False:
                since = self._absent_since.setdefault(instance.id, now)
                if now - since >= leases.PRESENCE_GRACE_S:
                    dead.append(instance)
                else:
                    log.info("executor_presence_absent", instance_id=instance.id, grace_s=leases.PRESENCE_GRACE_S)
            else:  # present (paused, or cut off from the database only), or unknown: nothing to conclude
                self._absent_since.pop(instance.id, None)
        return dead

    def _report(self, orphans: list[OrphanedRun], unclaimed: Sequence[UnclaimedRun], requeued: list[str]) -> None:
        for orphan in orphans:
            log.warning(
                "orphaned_run_failed",
                job_id=orphan.job_id,
                execution_id=orphan.execution_id,
                executor_id=orphan.executor_id,
                reason=orphan.reason,
            )
        self._metrics.orphans.inc(len(orphans))
        for orphan in orphans:
            self._metrics.job_run(orphan.job_id, orphan.status.name.lower())
        for status in {orphan.status for orphan in orphans}:
            self._metrics.runs_recorded(status.name.lower(), sum(orphan.status is status for orphan in orphans))
        if unclaimed:
            # One line per sweep, not per run: an outage of every executor leaves a run per job per slot.
            log.warning(
                "unclaimed_runs_missed",
                count=len(unclaimed),
                jobs=len({run.job_id for run in unclaimed}),
                execution_ids=[run.execution_id for run in unclaimed[:LOGGED_IDS]],
                reason=unclaimed[0].reason,
            )
            self._metrics.runs_recorded("missed", len(unclaimed))
            for run in unclaimed:
                self._metrics.job_run(run.job_id, "missed")
        if requeued:
            log.warning(
                "ungraced_runs_republished",
                count=len(requeued),
                execution_ids=requeued[:LOGGED_IDS],
                reason=(
                    f"still pending {self._lost_message_timeout.total_seconds():g} s after the broker confirmed "
                    "their message: it may have been lost"
                ),
            )
