"""The executor: consume run messages, claim each run in the database, ack, run the task, record the outcome.

Order matters for the guarantees:
1. claim (one transaction: pending -> running + lock row, max_instances under the job's row lock);
2. ack the message only after the claim committed, so a crash before it leaves the message to redeliver;
   a duplicate delivery finds the run no longer pending and is acked without running anything;
3. run the task (at most once per run: it was acked, and the claim cannot be taken twice);
4. finish, fenced on (status running, executor_id = us): if the sweep already failed this run because we
   looked dead, our late outcome is rejected rather than overwriting the recorded one.
Acking right after the claim also keeps long tasks clear of RabbitMQ's consumer timeout."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core import verdicts
from scheduler_core.broker import Broker, Consumer, Delivery
from scheduler_core.broker.startup import until_available
from scheduler_core.instance import InstanceHeartbeat
from scheduler_core.observability.logging import bind_run
from scheduler_core.observability.metrics import Metrics
from scheduler_core.observability.tracing import NO_CLAIM_SPANS, Tracing
from scheduler_core.outbound import OutboundGuard
from scheduler_core.store import ClaimedRun, ClaimOutcome, ClaimResult, RunOutcome, RunSlot, Store
from scheduler_core.store.models import ExecutionStatus
from scheduler_core.tasks import TaskRegistry
from scheduler_executor.batching import Batcher
from scheduler_executor.cancellation import Cancellations, requested_by
from scheduler_executor.config import ExecutorConfig
from scheduler_executor.fencing import Fencing, exit_fenced, fenced_reason
from scheduler_executor.invocation import TaskInvocation
from scheduler_executor.outcomes import OutcomeRecorder
from scheduler_executor.tally import RunTally

log = structlog.get_logger(__name__)

# Seconds to wait before handing a message back when the database could not be reached, so an outage
# does not turn into a hot redelivery loop.
CLAIM_RETRY_DELAY_S = 1.0
# Claims written in one transaction at most.
MAX_BATCH = 200


class Executor:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: Store,
        broker: Broker,
        registry: TaskRegistry,
        metrics: Metrics,
        instance: InstanceHeartbeat,
        config: ExecutorConfig,
        *,
        watchdog: bool,
        on_wake: Callable[[], None] | None = None,
        tracing: Tracing | None = None,
        on_breach: Callable[[str], None] = exit_fenced,
    ) -> None:
        """watchdog: end the process when a run's task must stop and cannot be (fencing.py), for an executor that
        is a process of its own (embedded mode and tests leave it off); on_breach(reason) ends it (tests: the test).
        on_wake: after an outcome scheduled a retry or released a queued run, wakes an in-process timekeeper
        (embedded mode; across processes the store's notification does it). tracing: claims and tasks join traces."""
        self._sessionmaker = sessionmaker
        self._store = store
        self._broker = broker
        self._registry = registry
        self._metrics = metrics
        self._instance = instance
        self._config = config
        self._slots = asyncio.Semaphore(config.concurrency)
        self._tally = RunTally(metrics)
        self._invocation = TaskInvocation(
            registry,
            sessionmaker,
            store,
            concurrency=config.concurrency,
            task_timeout=config.task_timeout,
            outbound=OutboundGuard.allowing(config.outbound_allow),
            audit_retention_days=config.audit_retention_days,
        )
        self._fencing = Fencing(
            instance,
            lock_ttl=config.lock_ttl,
            instance_timeout=config.instance_timeout,
            watchdog_interval=config.watchdog_interval,
            on_breach=on_breach,
        )
        self._watchdog = watchdog
        self._consumer: Consumer | None = None
        self._running: dict[str, ClaimedRun] = {}  # runs this process executes now, by execution_id
        self._abandoned: list[RunSlot] = []  # runs cancelled by shutdown, to be failed with a reason
        self._claimed_mono: dict[str, float] = {}  # time.monotonic() each claim came back: starts reckon from it
        self._cancellations = Cancellations()
        self._tracing = tracing or Tracing()
        self._trace_parents: dict[str, str] = {}  # claimed runs' claim spans, by execution_id (traces on only)
        self._stopping = False
        # Claims and outcomes of concurrent deliveries share transactions (see batching.py).
        self._claims: Batcher[RunSlot, ClaimResult] = Batcher(
            self._claim_batch, max_batch=MAX_BATCH, on_orphan=self._claimed_for_nobody
        )
        self._outcomes = OutcomeRecorder(
            sessionmaker, store, owner_of=self._fencing.owner_of, current_owner=lambda: instance.id, on_wake=on_wake
        )

    async def start(self) -> None:
        """Publish our task functions to the catalogue, mark this process present on the broker, start the
        fence, then start consuming."""
        async with self._sessionmaker.begin() as session:
            await self._store.lookups.upsert_task_functions(session, self._registry.specs())
        timeout = self._config.startup_timeout
        self._fencing.presence = await until_available(
            "hold_presence", lambda: self._broker.hold_presence(self._instance.id), timeout=timeout
        )
        self._instance.add_hook(self._renew_leases)
        self._instance.on_declared_stopped = self._declared_stopped
        self._instance.on_reregistered = self._present
        self._fencing.start(watchdog=self._watchdog)
        self._consumer = await until_available(
            "consume", lambda: self._broker.consume(self._on_delivery, prefetch=self._config.prefetch), timeout=timeout
        )
        log.info("executor_started", instance_id=self._instance.id, tasks=len(self._registry.definitions()))

    async def stop(self, force: asyncio.Event | None = None) -> None:
        """Stop consuming; give running tasks shutdown_grace seconds (less once `force` is set: a second interrupt);
        then fail what is left, with a reason. Messages not yet claimed go back to the queue for another executor."""
        self._stopping = True
        if self._consumer is not None:
            if self._running:
                log.info("executor_draining", running=len(self._running), grace_s=self._config.shutdown_grace)
            await self._consumer.cancel(grace_s=self._config.shutdown_grace, cut_short=force)
        if self._abandoned:
            reason = verdicts.abandoned_at_shutdown(self._config.shutdown_grace, forced=bool(force and force.is_set()))
            async with self._sessionmaker.begin() as session:
                failed = await self._store.outcomes.fail_held(session, self._instance.id, self._abandoned, reason)
            self._tally.failed_at_shutdown(failed)
            log.warning("executor_abandoned_runs", runs=[run.execution_id for run in self._abandoned], reason=reason)
        await self._claims.close()
        await self._outcomes.close()
        await self._fencing.close()
        if self._fencing.presence is not None:
            await self._fencing.presence.release()
        self._invocation.close()
        log.info("executor_stopped", instance_id=self._instance.id)

    # --- per delivery (each in its own task, owned by the consumer) --------------------------------------

    async def _on_delivery(self, delivery: Delivery) -> None:
        """Claim the delivery's runs as task slots free up (at least one at a time, all at once when the
        executor has room), start each claimed run, and ack once every run of the message is claimed: a crash
        before that redelivers the message, whose runs already claimed are then duplicates and ignored.

        Runs arrive up to the timekeeper's look-ahead before their slot and are claimed at once: a claimed run
        waits for its slot in its own task (_run_claimed). One whose job is at max_instances right now is not
        due yet (ClaimOutcome.NOT_DUE) and is claimed again at its slot."""
        self._metrics.consumed.inc(len(delivery.messages))
        # Each run named by its id and its slot (the slot its message carries; the store reads its row by both).
        unclaimed = [RunSlot(message.execution_id, message.scheduled_at) for message in delivery.messages]
        started: list[asyncio.Task[None]] = []
        try:
            while unclaimed:
                not_due = await self._claim_as_slots_free(delivery, unclaimed, started)
                if not_due is None:
                    break  # handed back
                unclaimed = [run for run, _ in not_due]
                if not_due:
                    await asyncio.sleep(max(due_in for _, due_in in not_due))  # within the look-ahead
            else:
                await delivery.ack()
            if started:
                await asyncio.gather(*started)
        except asyncio.CancelledError:
            # Shutdown past its grace period: each cancelled run records itself as abandoned.
            for task in started:
                task.cancel()
            await asyncio.gather(*started, return_exceptions=True)
            raise

    async def _claim_as_slots_free(
        self, delivery: Delivery, runs: list[RunSlot], started: list[asyncio.Task[None]]
    ) -> list[tuple[RunSlot, float]] | None:
        """Claim these runs of the delivery as task slots free up and start the claimed ones; returns the runs
        not due yet, with seconds until their slot, or None if the delivery was handed back (the caller stops)."""
        not_due: list[tuple[RunSlot, float]] = []
        remaining = runs
        while remaining:
            # The message stays unacked while it waits for a slot: if we die meanwhile it is redelivered.
            taken = await self._take_slots(len(remaining))
            chunk, remaining = remaining[:taken], remaining[taken:]
            if self._stopping:
                self._release_slots(taken)
                await delivery.reject(requeue=True)
                return None
            if not await self._claim(delivery, chunk, started, not_due):
                return None
        return not_due

    async def _take_slots(self, wanted: int) -> int:
        """Wait for a free task slot, then take up to `wanted` of those free now; returns how many."""
        await self._slots.acquire()
        taken = 1
        # Semaphore.acquire returns without suspending while not locked(): takes only what is free right now.
        while taken < wanted and not self._slots.locked():
            await self._slots.acquire()
            taken += 1
        return taken

    def _release_slots(self, count: int) -> None:
        for _ in range(count):
            self._slots.release()

    async def _claim(
        self,
        delivery: Delivery,
        runs: list[RunSlot],
        started: list[asyncio.Task[None]],
        not_due: list[tuple[RunSlot, float]],
    ) -> bool:
        """Claim these runs of the delivery (one slot taken for each), start the claimed ones and add the ones
        not due yet to `not_due` (with seconds until their slot); False if the delivery was handed back (the
        caller stops)."""
        spans = NO_CLAIM_SPANS
        if self._tracing.enabled:
            wanted = {run.execution_id for run in runs}
            spans = self._tracing.claiming([m for m in delivery.messages if m.execution_id in wanted])
        try:
            claims = await self._claims.submit_many(runs)
        except asyncio.CancelledError as cancelled:
            spans.abandon(cancelled)
            self._release_slots(len(runs))
            with contextlib.suppress(Exception):
                await delivery.reject(requeue=True)
            raise
        failure: Exception | None = None
        refused = False
        job_of = {message.execution_id: message.job_id for message in delivery.messages}
        for run, claim in zip(runs, claims, strict=True):
            if isinstance(claim, Exception):
                failure = claim
                self._slots.release()
                continue
            trace_id = spans.trace_id(claim.execution_id)
            parent = spans.ended(claim)
            if claim.outcome is ClaimOutcome.CLAIMED and claim.run is not None:
                self._running[claim.execution_id] = claim.run
                if parent is not None:
                    self._trace_parents[claim.execution_id] = parent
                started.append(asyncio.create_task(self._run_claimed(claim.run), name=f"run-{claim.execution_id}"))
                continue
            self._slots.release()
            if claim.outcome is ClaimOutcome.NOT_DUE:
                not_due.append((run, claim.due_in))
            elif claim.outcome is ClaimOutcome.REFUSED:
                refused = True
            else:
                self._tally.unclaimed(claim, job_of[claim.execution_id], trace_id)
        if failure is not None:
            spans.abandon(failure)
        if refused:
            # The sweep declared this instance dead (it was paused or cut off): hand the message back to a live
            # executor; the next heartbeat finds out too, stops what this process held and registers it again.
            log.error("claim_refused_instance_declared_dead", instance_id=self._instance.id)
            await asyncio.sleep(CLAIM_RETRY_DELAY_S)
            await delivery.reject(requeue=True)
            return False
        if failure is not None:
            # Runs claimed in a batch that did commit are running; the redelivery finds them handled.
            log.warning("claim_failed", error=str(failure), error_type=type(failure).__name__)
            await asyncio.sleep(CLAIM_RETRY_DELAY_S)
            await delivery.reject(requeue=True)
            return False
        return True

    async def _claim_batch(self, runs: list[RunSlot]) -> list[ClaimResult]:
        owner = self._instance.id
        sent = time.monotonic()  # the leases claimed run lock_ttl from no earlier than this
        async with self._sessionmaker.begin() as session:
            results = await self._store.claims.claim(
                session, runs, instance_id=owner, host_name=self._instance.host_name, lock_ttl=self._config.lock_ttl
            )
        received = time.monotonic()
        for result in results:
            if result.run is not None:
                self._claimed_mono[result.execution_id] = received
                in_thread = self._registry.runs_in_thread(result.run.task_key)
                self._fencing.hold(result.execution_id, owner=owner, claim_sent=sent, in_thread=in_thread)
        return results

    def _claimed_for_nobody(self, run: RunSlot, claim: ClaimResult) -> None:
        """A run was claimed while its delivery's handler was being cancelled (shutdown): nobody will run it,
        so stop() fails it with a reason instead of leaving it to the lock's expiry."""
        if claim.outcome is ClaimOutcome.CLAIMED:
            self._abandoned.append(run)

    async def _run_claimed(self, claim: ClaimedRun) -> None:
        """Run one claimed run in its own task (its slot is already taken) and record its outcome."""
        execution_id = claim.execution_id
        task = asyncio.current_task()
        assert task is not None
        self._fencing.running(execution_id, task)
        in_thread = self._registry.runs_in_thread(claim.task_key)
        cancel_requested = self._cancellations.track(execution_id, task, in_thread=in_thread)
        received = self._claimed_mono.pop(execution_id, time.monotonic())
        started_at: datetime | None = None
        began = 0.0  # monotonic seconds at the task's start, for the duration of a run cancelled or fenced
        parent = self._trace_parents.pop(execution_id, None)
        with (
            self._tracing.task(parent, claim.job_id, execution_id) as span,
            bind_run(claim.job_id, execution_id, span.trace_id),
        ):
            self._metrics.running.inc()
            try:
                if claim.start_in > 0:
                    # Claimed ahead of its slot (the timekeeper's look-ahead): its task starts at the slot.
                    await asyncio.sleep(claim.start_in)
                # The task's real start, by the database's clock, reckoned from the claim's instant; a busy event
                # loop that wakes it late makes it later, and that is lateness too.
                began = time.monotonic()
                started_at = claim.claimed_at + timedelta(seconds=began - received)
                self._metrics.start_lateness.observe(max(0.0, (started_at - claim.scheduled_at).total_seconds()))
                outcome = await self._invocation.invoke(
                    claim, lambda: self._fencing.gate(execution_id), cancel_requested
                )
                outcome = replace(outcome, started_at=started_at)
            except asyncio.CancelledError as cancelled:
                outcome = self._stopped(claim, cancelled)
                if started_at is not None:  # its task had started: it ran until now
                    duration_ms = int((time.monotonic() - began) * 1000)
                    outcome = replace(outcome, started_at=started_at, duration_ms=duration_ms)
            finally:
                self._fencing.task_ended(execution_id)
                self._metrics.running.dec()
                # The slot bounds running tasks; recording the outcome is batched and needs none.
                self._slots.release()
            by = self._cancellations.requested_by(execution_id)
            self._cancellations.forget(execution_id)
            if by is not None and outcome.status is not ExecutionStatus.CANCELLED:
                # Asked to cancel before its task ended (a thread, or a task that swallowed the cancellation):
                # what it did may be incomplete.
                outcome = replace(outcome, status=ExecutionStatus.CANCELLED, error_message=verdicts.cancelled(by))
            span.finished(outcome)
            try:
                recorded = await self._outcomes.record(outcome)
            finally:
                self._running.pop(execution_id, None)
                self._fencing.release(execution_id)
            self._tally.finished(claim.job_id, outcome, recorded)

    def _stopped(self, claim: ClaimedRun, cancelled: asyncio.CancelledError) -> RunOutcome:
        """The outcome of a run whose task was cancelled: asked to (cancelled), or fenced (failed); a shutdown
        past its grace period re-raises (stop() records the failure)."""
        execution_id, slot = claim.execution_id, claim.scheduled_at
        by = requested_by(cancelled)
        if by is not None:
            return RunOutcome(execution_id, slot, ExecutionStatus.CANCELLED, 0, error_message=verdicts.cancelled(by))
        reason = fenced_reason(cancelled)
        if reason is None:
            self._abandoned.append(RunSlot(execution_id, claim.scheduled_at))
            self._running.pop(execution_id, None)
            self._fencing.release(execution_id)
            self._cancellations.forget(execution_id)
            raise cancelled
        # Fenced: the lease could not be kept. Recorded, if the sweep has not failed it already.
        self._metrics.fenced.inc()
        return RunOutcome(execution_id, slot, ExecutionStatus.FAILED, 0, error_message=verdicts.fenced(reason))

    async def _renew_leases(self, session: AsyncSession, sent: float) -> None:
        """Renew the leases of the runs this process holds, in the heartbeat's transaction sent at `sent` (only
        those: a lock of a run nobody here holds any more must expire so that the sweep fails it). A run whose
        lock is gone was failed by the sweep: the fence stops it."""
        for owner, execution_ids in self._fencing.holders().items():
            renewal = await self._store.outcomes.renew_leases(session, owner, self._config.lock_ttl, execution_ids)
            self._fencing.renewed(execution_ids, renewal.held, sent)
            self._cancellations.request(renewal.cancelling)

    async def _declared_stopped(self, instance_id: str) -> bool:
        """The sweep declared this instance dead: its runs are being failed. Stop every task it holds; register
        again under a new id (with a new presence mark) unless a task runs in a thread, which cannot be stopped
        (then the watchdog ends the process)."""
        stuck = self._fencing.revoke_owner(instance_id)
        if stuck:
            log.error("declared_dead_with_unstoppable_runs", execution_ids=stuck)
            return False
        if self._fencing.presence is not None:
            await self._fencing.presence.release()
        return True

    async def _present(self, instance_id: str) -> None:
        """Mark the (new) instance present on the broker."""
        self._fencing.presence = await self._broker.hold_presence(instance_id)
