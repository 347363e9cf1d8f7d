"""The recovery sweep's contract (scheduler_core.store.sweeps, SweepStore), on PostgreSQL and on SQLite: silent
instances declared stopped; running runs whose executor is gone (stopped, or its lock expired) failed with their
reasons and their locks released; scheduled runs nobody claimed within their grace time recorded missed. How the
sweep's verdict is ordered with a claim in progress is PostgreSQL's: tests/integration/store."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from scheduler_core.store import ClaimOutcome, NewExecution, Store
from scheduler_core.store.models import ExecutionStatus, InstanceStatus, SchedulerInstance
from tests.contract.store.support import Maker, claim, db_now, executions, locks, pending_run, register
from tests.support.factories import interval_job, new_id, task_function


async def test_only_the_instances_silent_since_the_bound_are_declared_stopped(
    store: Store, sessionmaker: Maker
) -> None:
    silent, recent, stopped = [await register(sessionmaker) for _ in range(3)]
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        for instance_id in (silent, stopped):
            await session.execute(
                update(SchedulerInstance)
                .where(SchedulerInstance.id == instance_id)
                .values(last_heartbeat=now - timedelta(minutes=5))
            )
        await store.instances.set_status(session, stopped, InstanceStatus.STOPPED)
    async with sessionmaker() as session:
        before = await store.instances.get(session, stopped)
    assert before is not None
    assert before.stopped_at is not None
    cutoff = now - timedelta(minutes=1)
    async with sessionmaker() as session:
        found = await store.sweeps.silent_instances(session, silent_since=cutoff)
    assert [(i.id, i.role, i.last_heartbeat) for i in found] == [(silent, "embedded", now - timedelta(minutes=5))]
    async with sessionmaker.begin() as session:
        declared = await store.sweeps.stop_instances(session, [silent, recent, stopped], silent_since=cutoff, now=now)
    assert declared == [silent]
    async with sessionmaker() as session:
        rows = {i: await store.instances.get(session, i) for i in (silent, recent, stopped)}
    assert {i: (row.status, row.stopped_at) for i, row in rows.items() if row} == {
        silent: (InstanceStatus.STOPPED, now),
        recent: (InstanceStatus.RUNNING, None),
        stopped: (InstanceStatus.STOPPED, before.stopped_at),  # declared before: left as it was
    }


async def test_the_sweep_fails_runs_of_stopped_instances_and_expired_locks(store: Store, sessionmaker: Maker) -> None:
    dead = await register(sessionmaker, InstanceStatus.STARTING)
    alive = await register(sessionmaker, InstanceStatus.STARTING)
    _, of_dead = await pending_run(sessionmaker)
    _, expired = await pending_run(sessionmaker)
    _, healthy = await pending_run(sessionmaker)
    await claim(sessionmaker, [of_dead], instance=dead)
    await claim(sessionmaker, [expired], instance=alive, ttl=0.001)
    await claim(sessionmaker, [healthy], instance=alive)
    await asyncio.sleep(0.01)
    async with sessionmaker.begin() as session:
        await store.instances.set_status(session, dead, InstanceStatus.STOPPED)
        orphans = await store.sweeps.fail_orphaned(session, await store.clock.now(session))
    reasons = {o.execution_id: o.reason for o in orphans}
    assert set(reasons) == {of_dead, expired}
    assert "stopped heartbeating" in reasons[of_dead]
    assert "lock expired" in reasons[expired]
    assert {o.execution_id: o.executor_id for o in orphans} == {of_dead: dead, expired: alive}
    rows = await executions(sessionmaker, [of_dead, expired, healthy])
    statuses = {eid: row.status_id for eid, row in rows.items()}
    assert statuses == {of_dead: 4, expired: 4, healthy: 2}
    assert (rows[of_dead].error_message, rows[expired].error_message) == (reasons[of_dead], reasons[expired])
    assert list(await locks(sessionmaker)) == [healthy]


async def test_the_sweep_records_missed_the_scheduled_runs_pending_past_their_grace_time(
    store: Store, sessionmaker: Maker
) -> None:
    """close_unclaimed applies the claim's rule (whole seconds of lateness above the grace) without a claim:
    late scheduled runs become missed with the reason, on time, manual, and running runs are left alone."""
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        task_id = await task_function(session)
        short = await interval_job(session, next_run_at=None, misfire_grace_time=2, task_function_id=task_id)
        long = await interval_job(session, next_run_at=None, misfire_grace_time=60, task_function_id=task_id)
        ids = {name: new_id() for name in ("late", "edge", "within", "manual", "running")}
        await store.outbox.add(
            session,
            [
                NewExecution(ids["late"], short.id, now - timedelta(seconds=10)),
                # 2.5 s late: whole seconds 2, not above the grace of 2 s.
                NewExecution(ids["edge"], short.id, now - timedelta(seconds=2.5)),
                NewExecution(ids["within"], long.id, now - timedelta(seconds=30)),
                NewExecution(ids["manual"], short.id, now - timedelta(seconds=20), trigger="manual"),
                NewExecution(ids["running"], long.id, now - timedelta(seconds=20)),
            ],
        )
    [running] = await claim(sessionmaker, [ids["running"]])
    assert running.outcome is ClaimOutcome.CLAIMED
    async with sessionmaker.begin() as session:
        closed = await store.sweeps.close_unclaimed(session, now, limit=100)
    assert [(run.execution_id, run.job_id) for run in closed] == [(ids["late"], short.id)]
    assert closed[0].reason.startswith("missed: not claimed by any executor within the job's misfire grace time of 2 s")

    rows = await executions(sessionmaker, list(ids.values()))
    assert rows[ids["late"]].status_id == ExecutionStatus.MISSED
    assert (rows[ids["late"]].error_message, rows[ids["late"]].completed_at) == (closed[0].reason, now)
    assert {name: rows[ids[name]].status_id for name in ("edge", "within", "manual", "running")} == {
        "edge": ExecutionStatus.PENDING,
        "within": ExecutionStatus.PENDING,
        "manual": ExecutionStatus.PENDING,
        "running": ExecutionStatus.RUNNING,
    }
    # A claim that comes after the sweep finds the run handled.
    [late] = await claim(sessionmaker, [ids["late"]])
    assert late.outcome is ClaimOutcome.ALREADY_HANDLED
    # At most `limit` per call, oldest slots first.
    async with sessionmaker.begin() as session:
        first = await store.sweeps.close_unclaimed(session, now + timedelta(seconds=3600), limit=1)
        rest = await store.sweeps.close_unclaimed(session, now + timedelta(seconds=3600), limit=10)
    assert [run.execution_id for run in first] == [ids["within"]]
    assert [run.execution_id for run in rest] == [ids["edge"]]


async def test_an_instance_that_heartbeats_after_it_was_found_silent_is_not_stopped(
    store: Store, sessionmaker: Maker
) -> None:
    """The sweep reads the silent instances, asks the broker about them, then stops the ones it judged dead: a
    heartbeat that arrived in between keeps its instance running."""
    instance = await register(sessionmaker)
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(SchedulerInstance)
            .where(SchedulerInstance.id == instance)
            .values(last_heartbeat=now - timedelta(minutes=5))
        )
    cutoff = now - timedelta(minutes=1)
    async with sessionmaker() as session:
        assert [i.id for i in await store.sweeps.silent_instances(session, silent_since=cutoff)] == [instance]
    async with sessionmaker.begin() as session:
        assert await store.instances.heartbeat(session, instance) is True
    async with sessionmaker.begin() as session:
        assert await store.sweeps.stop_instances(session, [instance], silent_since=cutoff, now=now) == []
        assert await store.sweeps.stop_instances(session, [], silent_since=cutoff, now=now) == []
    async with sessionmaker() as session:
        row = await store.instances.get(session, instance)
    assert row is not None
    assert row.status == InstanceStatus.RUNNING
