"""PostgreSQL's orderings for notifications, which SQLite gets from its one writer: concurrent relays take disjoint
deliveries without waiting (SKIP LOCKED), and a job's silence is reported once when the sweep and the success that
ends the silence race, whichever holds the job's row first."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.notifications import Event, EventType
from scheduler_core.store import ClaimOutcome, DueDelivery, NewExecution, RunOutcome, RunSlot, Store
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus
from tests.contract.store.support import claim, db_now
from tests.support.databases import blocked_on_a_lock
from tests.support.factories import interval_job, new_id
from tests.support.notifications import add_channel, deliveries


async def test_concurrent_relays_take_disjoint_deliveries_without_waiting(
    pg_engine: AsyncEngine, pg_store: Store
) -> None:
    maker = create_sessionmaker(pg_engine)
    await add_channel(maker)
    now = await db_now(maker)
    async with maker.begin() as session:
        events = [Event(EventType.EXECUTOR_LOST, now, data={"n": i}) for i in range(10)]
        assert await pg_store.deliveries.enqueue(session, events) == 10
    first_in, release = asyncio.Event(), asyncio.Event()

    async def relay(hold: bool) -> list[DueDelivery]:
        async with maker.begin() as session:
            taken = await pg_store.deliveries.claim_due(session, limit=6, lease=60)
            if hold:
                first_in.set()
                await release.wait()
            return taken

    holder = asyncio.create_task(relay(hold=True))
    await first_in.wait()
    second = await asyncio.wait_for(relay(hold=False), timeout=10)  # SKIP LOCKED: no waiting
    release.set()
    first = await holder
    assert (len(first), len(second)) == (6, 4)
    assert {d.id for d in first}.isdisjoint(d.id for d in second)


async def _silent_job_with_a_running_run(maker: Any, store: Store) -> tuple[int, RunSlot]:
    now = await db_now(maker)
    async with maker.begin() as session:
        job = await interval_job(
            session, next_run_at=None, expect_success_within_seconds=10, success_expected_by=now - timedelta(seconds=5)
        )
        execution_id = new_id()
        await store.outbox.add(session, [NewExecution(execution_id, job.id, now)])
    [claimed] = await claim(maker, [execution_id])
    assert claimed.outcome is ClaimOutcome.CLAIMED
    return job.id, RunSlot(execution_id, now)


async def test_a_success_waits_for_the_sweep_reporting_its_jobs_silence_and_does_not_report_it_again(
    pg_engine: AsyncEngine, pg_store: Store
) -> None:
    maker = create_sessionmaker(pg_engine)
    await add_channel(maker, events=["job.silent"])
    job_id, run = await _silent_job_with_a_running_run(maker, pg_store)
    reported, release = asyncio.Event(), asyncio.Event()

    async def sweep() -> list[int]:
        async with maker.begin() as session:
            ids = await pg_store.sweeps.report_silent(session, await pg_store.clock.now(session), 10)
            reported.set()
            await release.wait()
            return ids

    async def finish() -> None:
        async with maker.begin() as session:
            outcome = RunOutcome(*run, ExecutionStatus.SUCCESS, 5)
            await pg_store.outcomes.finish(session, [outcome], instance_id="exec-1")

    sweeper = asyncio.create_task(sweep())
    await reported.wait()
    finisher = asyncio.create_task(finish())
    assert await blocked_on_a_lock(pg_engine, finisher)  # the job's row, which the sweep holds
    release.set()
    assert await sweeper == [job_id]
    await asyncio.wait_for(finisher, timeout=10)
    [silent] = await deliveries(maker, "job.silent")
    assert silent.payload["data"]["detectedLate"] is False


async def test_the_sweep_skips_a_job_whose_success_is_being_recorded_which_reports_the_silence(
    pg_engine: AsyncEngine, pg_store: Store
) -> None:
    maker = create_sessionmaker(pg_engine)
    await add_channel(maker, events=["job.silent"])
    job_id, run = await _silent_job_with_a_running_run(maker, pg_store)
    recorded, release = asyncio.Event(), asyncio.Event()

    async def finish() -> None:
        async with maker.begin() as session:
            outcome = RunOutcome(*run, ExecutionStatus.SUCCESS, 5)
            await pg_store.outcomes.finish(session, [outcome], instance_id="exec-1")
            recorded.set()
            await release.wait()

    finisher = asyncio.create_task(finish())
    await recorded.wait()
    async with maker.begin() as session:  # SKIP LOCKED: not waiting for the finish
        skipped = await asyncio.wait_for(
            pg_store.sweeps.report_silent(session, await pg_store.clock.now(session), 10), timeout=10
        )
    assert skipped == []
    release.set()
    await finisher
    async with maker.begin() as session:
        assert await pg_store.sweeps.report_silent(session, await pg_store.clock.now(session), 10) == []
    [silent] = await deliveries(maker, "job.silent")
    assert (silent.job_id, silent.payload["data"]["detectedLate"]) == (job_id, True)
