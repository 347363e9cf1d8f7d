"""PostgreSQL's orderings between concurrent transactions, which SQLite gets from its one writer: concurrent
timekeepers take disjoint batches of due jobs (row locks, SKIP LOCKED); claims of one job queue on its advisory
lock and count the places taken meanwhile, claims of other jobs do not wait; a claim and a timekeeper's pass over
one job do not wait for each other; the sweep's verdict on an instance and that instance's claim are ordered by
its row; a confirmation never waits for a row an executor holds; a claimer frozen mid-claim holds up neither
another claimer's heartbeat nor, past the lock timeout, its claim, and the server ends its session."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store import ClaimOutcome, NewExecution, PublishedRun, RunSlot, Store
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, InstanceStatus, ScheduledJobExecution
from scheduler_core.store.postgres.claims import CLAIM_LOCK_SPACE
from scheduler_core.store.postgres.engine import IDLE_IN_TRANSACTION_TIMEOUT_MS, LOCK_TIMEOUT_MS
from tests.contract.store.support import claim, db_now, executions, locks, register, run_slots
from tests.support.databases import blocked_on_a_lock
from tests.support.factories import interval_job, new_id, task_function


async def test_concurrent_timekeepers_claim_disjoint_batches(pg_engine: AsyncEngine, pg_store: Store) -> None:
    maker = create_sessionmaker(pg_engine)
    async with maker.begin() as session:
        now = await pg_store.clock.now(session)
        task_id = await task_function(session)
        for _ in range(20):
            await interval_job(session, next_run_at=now - timedelta(seconds=1), task_function_id=task_id)
    first_in, release = asyncio.Event(), asyncio.Event()

    async def claim_due(hold: bool) -> list[int]:
        async with maker.begin() as session:
            due = await pg_store.passes.claim_due(session, limit=12, lookahead=0.0)
            if hold:
                first_in.set()
                await release.wait()
            return [j.id for j in due.jobs]

    holder = asyncio.create_task(claim_due(hold=True))
    await first_in.wait()
    second = await asyncio.wait_for(claim_due(hold=False), timeout=10)  # SKIP LOCKED: no waiting
    release.set()
    first = await holder
    assert len(first) == 12
    assert len(second) == 8
    assert set(first).isdisjoint(second)


async def test_concurrent_claims_respect_max_instances(pg_engine: AsyncEngine, pg_store: Store) -> None:
    maker = create_sessionmaker(pg_engine)
    async with maker.begin() as session:
        now = await pg_store.clock.now(session)
        job = await interval_job(session, next_run_at=None, max_instances=3)
        ids = [new_id() for _ in range(12)]
        await pg_store.outbox.add(
            session, [NewExecution(eid, job.id, now - timedelta(milliseconds=i)) for i, eid in enumerate(ids)]
        )

    async def claim_one(execution_id: str, instance: str) -> ClaimOutcome:
        [result] = await claim(maker, [execution_id], instance=instance)
        return result.outcome

    outcomes = await asyncio.gather(*(claim_one(eid, f"exec-{i % 4}") for i, eid in enumerate(ids)))
    assert outcomes.count(ClaimOutcome.CLAIMED) == 3
    assert outcomes.count(ClaimOutcome.SKIPPED) == 9


async def test_claims_of_one_job_queue_on_its_advisory_lock_and_claims_of_other_jobs_do_not_wait(
    pg_engine: AsyncEngine, pg_store: Store
) -> None:
    """The claim's lock of a job is a transaction-scoped advisory lock in the claims' own key space
    (CLAIM_LOCK_SPACE, job id), held until the claim commits."""
    maker = create_sessionmaker(pg_engine)
    now = await db_now(maker)
    async with maker.begin() as session:
        task_id = await task_function(session)
        job = await interval_job(session, next_run_at=None, max_instances=5, task_function_id=task_id)
        other = await interval_job(session, next_run_at=None, max_instances=5, task_function_id=task_id)
        first, second, elsewhere = new_id(), new_id(), new_id()
        await pg_store.outbox.add(
            session,
            [
                NewExecution(first, job.id, now - timedelta(seconds=2)),
                NewExecution(second, job.id, now - timedelta(seconds=1)),
                NewExecution(elsewhere, other.id, now - timedelta(seconds=1)),
            ],
        )
    async with maker.begin() as holder:
        [held] = await pg_store.claims.claim(
            holder, [RunSlot(first, now - timedelta(seconds=2))], instance_id="exec-1", host_name="h", lock_ttl=60
        )
        assert held.outcome is ClaimOutcome.CLAIMED
        advisory = (
            await holder.execute(
                text(
                    "SELECT classid::bigint, objid::bigint FROM pg_locks "
                    "WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"
                )
            )
        ).all()
        assert [tuple(row) for row in advisory] == [(CLAIM_LOCK_SPACE, job.id)]
        # Another job's run: claimed at once.
        [other_result] = await asyncio.wait_for(claim(maker, [elsewhere], instance="exec-2"), timeout=5)
        assert other_result.outcome is ClaimOutcome.CLAIMED
        # The same job's: queued behind the claim in progress.
        waiting = asyncio.create_task(claim(maker, [second], instance="exec-2"))
        assert await blocked_on_a_lock(pg_engine, waiting)
    [result] = await asyncio.wait_for(waiting, timeout=10)
    assert result.outcome is ClaimOutcome.CLAIMED


async def test_a_claim_waiting_for_a_job_counts_the_locks_committed_meanwhile(
    pg_engine: AsyncEngine, pg_store: Store
) -> None:
    """The second claimer reads its pending rows before the first commits, but counts live locks after it
    got the job's lock: the place the first took is seen."""
    maker = create_sessionmaker(pg_engine)
    now = await db_now(maker)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=1)
        first, second = new_id(), new_id()
        await pg_store.outbox.add(
            session, [NewExecution(first, job.id, now - timedelta(seconds=2)), NewExecution(second, job.id, now)]
        )
    async with maker.begin() as holder:
        [held] = await pg_store.claims.claim(
            holder, [RunSlot(first, now - timedelta(seconds=2))], instance_id="exec-1", host_name="h", lock_ttl=60
        )
        assert held.outcome is ClaimOutcome.CLAIMED
        waiting = asyncio.create_task(claim(maker, [second, first], instance="exec-2"))
        assert await blocked_on_a_lock(pg_engine, waiting)
    results = await asyncio.wait_for(waiting, timeout=10)
    assert [(r.execution_id, r.outcome, r.reason) for r in results] == [
        (second, ClaimOutcome.SKIPPED, "skipped: 1 run(s) of the job already running (max_instances=1)"),
        (first, ClaimOutcome.ALREADY_HANDLED, None),  # claimed by exec-1 while exec-2 waited
    ]
    held_locks = await locks(maker)
    assert [(eid, lock.locked_by) for eid, lock in held_locks.items()] == [(first, "exec-1")]


async def test_a_claim_and_the_timekeepers_pass_over_one_job_do_not_wait_for_each_other(
    pg_engine: AsyncEngine, pg_store: Store
) -> None:
    """While a pass holds a due job's row to write its next slot, an earlier run of that job is claimed at
    once; while a claim of a job is in progress, a pass still takes that job (it is not skipped as locked)."""
    maker = create_sessionmaker(pg_engine)
    now = await db_now(maker)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=now - timedelta(seconds=1), max_instances=5)
        first, second = new_id(), new_id()
        await pg_store.outbox.add(
            session,
            [
                NewExecution(first, job.id, now - timedelta(seconds=3)),
                NewExecution(second, job.id, now - timedelta(seconds=2)),
            ],
        )
    async with maker.begin() as timekeeper:
        due = await pg_store.passes.claim_due(timekeeper, 10, 0.0)
        assert [due_job.id for due_job in due.jobs] == [job.id]
        [result] = await asyncio.wait_for(claim(maker, [first]), timeout=5)
        assert result.outcome is ClaimOutcome.CLAIMED
    async with maker.begin() as claimer:
        [run] = await run_slots(maker, [second])
        [held] = await pg_store.claims.claim(claimer, [run], instance_id="exec-2", host_name="h", lock_ttl=60)
        assert held.outcome is ClaimOutcome.CLAIMED
        async with maker.begin() as timekeeper:
            due = await asyncio.wait_for(pg_store.passes.claim_due(timekeeper, 10, 0.0), timeout=5)
            assert [due_job.id for due_job in due.jobs] == [job.id]


async def test_a_claim_waiting_on_the_sweeps_verdict_is_refused(pg_engine: AsyncEngine, pg_store: Store) -> None:
    maker = create_sessionmaker(pg_engine)
    instance = await register(maker)
    now = await db_now(maker)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        execution_id = new_id()
        await pg_store.outbox.add(session, [NewExecution(execution_id, job.id, now)])
    async with maker.begin() as sweep:
        await pg_store.instances.set_status(sweep, instance, InstanceStatus.STOPPED)
        waiting = asyncio.create_task(claim(maker, [execution_id], instance=instance))
        assert await blocked_on_a_lock(pg_engine, waiting)
    [result] = await asyncio.wait_for(waiting, timeout=10)
    assert result.outcome is ClaimOutcome.REFUSED
    assert (await executions(maker, [execution_id]))[execution_id].status_id == ExecutionStatus.PENDING


async def test_the_sweeps_verdict_waits_for_a_claim_in_progress_then_fails_its_run(
    pg_engine: AsyncEngine, pg_store: Store
) -> None:
    maker = create_sessionmaker(pg_engine)
    instance = await register(maker)
    now = await db_now(maker)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        execution_id = new_id()
        await pg_store.outbox.add(session, [NewExecution(execution_id, job.id, now)])

    async def declare_dead() -> None:
        async with maker.begin() as sweep:
            await pg_store.instances.set_status(sweep, instance, InstanceStatus.STOPPED)

    async with maker.begin() as claimer:
        [claimed] = await pg_store.claims.claim(
            claimer, [RunSlot(execution_id, now)], instance_id=instance, host_name="h", lock_ttl=60
        )
        assert claimed.outcome is ClaimOutcome.CLAIMED
        verdict = asyncio.create_task(declare_dead())
        assert await blocked_on_a_lock(pg_engine, verdict)
    await asyncio.wait_for(verdict, timeout=10)
    async with maker.begin() as session:
        orphans = await pg_store.sweeps.fail_orphaned(session, await pg_store.clock.now(session))
    assert [o.execution_id for o in orphans] == [execution_id]


async def test_record_published_skips_a_row_locked_by_another_transaction_instead_of_waiting(
    pg_engine: AsyncEngine, pg_store: Store
) -> None:
    """An executor claiming or finishing a run holds its row: the timekeeper's pass must not wait for it."""
    sessionmaker = create_sessionmaker(pg_engine)
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        locked, free = new_id(), new_id()
        await pg_store.outbox.add(
            session, [NewExecution(locked, job.id, now), NewExecution(free, job.id, now + timedelta(seconds=1))]
        )
    published = [PublishedRun(locked, now, now), PublishedRun(free, now + timedelta(seconds=1), now)]
    async with sessionmaker.begin() as holder:
        await holder.execute(
            update(ScheduledJobExecution)
            .where(ScheduledJobExecution.execution_id == locked)
            .values(status_id=ExecutionStatus.RUNNING)
        )
        async with sessionmaker.begin() as session:
            marked = await asyncio.wait_for(pg_store.outbox.record_published(session, published), timeout=5)
        assert marked == [free]
    async with sessionmaker.begin() as session:
        # Committed as running by then: a run no longer pending needs no mark.
        assert await pg_store.outbox.record_published(session, published) == [free]


async def test_a_claim_waiting_for_a_frozen_claimers_job_lock_does_not_hold_up_its_own_heartbeat(
    pg_engine: AsyncEngine, pg_store: Store
) -> None:
    """A claimer frozen mid-claim (SIGSTOP, a VM pause) holds its job's lock. Another executor's claim of that job
    waits for it, but without holding its own instance row: its heartbeats go on meanwhile (the chaos run saw an
    executor's heartbeats queue behind its claim, and the executor treated as silent)."""
    maker = create_sessionmaker(pg_engine)
    instance = await register(maker)
    now = await db_now(maker)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        execution_id = new_id()
        await pg_store.outbox.add(session, [NewExecution(execution_id, job.id, now)])

    async def heartbeat() -> bool:
        async with maker.begin() as session:
            return await pg_store.instances.heartbeat(session, instance)

    async with maker.begin() as frozen:
        await frozen.execute(
            text("SELECT pg_advisory_xact_lock(:space, :job)"), {"space": CLAIM_LOCK_SPACE, "job": job.id}
        )
        waiting = asyncio.create_task(claim(maker, [execution_id], instance=instance))
        assert await blocked_on_a_lock(pg_engine, waiting)
        assert await asyncio.wait_for(heartbeat(), timeout=2)  # not queued behind the waiting claim
        assert not waiting.done()
    [result] = await asyncio.wait_for(waiting, timeout=10)
    assert result.outcome is ClaimOutcome.CLAIMED


async def test_a_claim_gives_up_on_a_job_lock_held_past_the_lock_timeout(
    pg_engine: AsyncEngine, pg_store: Store
) -> None:
    """No statement of ours waits on a lock longer than the sessions' lock_timeout: the claim fails (its caller
    hands the message back and retries) instead of blocking its executor's whole batch behind a frozen holder."""
    maker = create_sessionmaker(pg_engine)
    now = await db_now(maker)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        execution_id = new_id()
        await pg_store.outbox.add(session, [NewExecution(execution_id, job.id, now)])
    async with maker.begin() as frozen:
        await frozen.execute(
            text("SELECT pg_advisory_xact_lock(:space, :job)"), {"space": CLAIM_LOCK_SPACE, "job": job.id}
        )
        waited = asyncio.get_running_loop().time()
        with pytest.raises(DBAPIError, match="lock timeout"):
            await asyncio.wait_for(claim(maker, [execution_id]), timeout=LOCK_TIMEOUT_MS / 1000 + 10)
        waited = asyncio.get_running_loop().time() - waited
    assert waited >= LOCK_TIMEOUT_MS / 1000 - 0.1
    assert (await executions(maker, [execution_id]))[execution_id].status_id == ExecutionStatus.PENDING


async def test_the_server_ends_a_session_frozen_in_a_transaction_and_frees_its_locks(pg_engine: AsyncEngine) -> None:
    """A process that froze holding a transaction open (here: a connection of the product's engine that sends
    nothing more) is ended by the server after IDLE_IN_TRANSACTION_TIMEOUT_MS, and its job lock is free again."""
    job_id = 424242
    async with pg_engine.connect() as frozen:
        await frozen.execute(
            text("SELECT pg_advisory_xact_lock(:space, :job)"), {"space": CLAIM_LOCK_SPACE, "job": job_id}
        )
        pid = (await frozen.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await asyncio.sleep(IDLE_IN_TRANSACTION_TIMEOUT_MS / 1000 + 1.0)
        async with pg_engine.connect() as other:
            alive = (
                await other.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
            ).scalar_one()
            free = (
                await other.execute(
                    text("SELECT pg_try_advisory_xact_lock(:space, :job)"), {"space": CLAIM_LOCK_SPACE, "job": job_id}
                )
            ).scalar_one()
            await other.rollback()
        with pytest.raises(DBAPIError):
            await frozen.execute(text("SELECT 1"))
    assert alive == 0
    assert free is True
